package server_test

import (
	"context"
	"net/http"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
	"github.com/toolgate/toolgate/server"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchServer starts a server over a Badger store in a temporary directory, with the echo tool published, and
// returns a client with a connection pool big enough for every caller.
func benchServer(b *testing.B, noReceipts bool) *client.Client {
	b.Helper()
	ctx := context.Background()
	h := serve(b, b.TempDir(), runtime.Config{}, server.Config{NoReceipts: noReceipts}, tgbadger.Options{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	c := client.New(h.url, h.token, hc)
	m, _, err := c.PushModule(ctx, plugins.WAT("echo"))
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.PutVersion(ctx, "echo", "1.0.0", []byte(`{"module":"`+m.Digest+`"}`)); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkInvokeReceipts measures invocations per second of a small tool (wat/echo) over HTTP from 64
// concurrent callers, side by side: "log" with every receipt synced into the signed log before its 200 (and a
// monitor fetching a signed checkpoint every 100 ms), "off" with Config.NoReceipts. The log's cost is
// 1 - log/off of the invokes/s metric; the design budget is 15%. cpu-µs/invoke is the CPU time per call (server
// and client, one process), the steadier figure on a machine shared with other work.
//
//	go test -run '^$' -bench BenchmarkInvokeReceipts -benchtime 5s -count 5 ./server/
func BenchmarkInvokeReceipts(b *testing.B) {
	for _, mode := range []string{"off", "log"} {
		b.Run("receipts="+mode, func(b *testing.B) {
			c := benchServer(b, mode == "off")
			ctx := context.Background()
			input := []byte(`{"order_id":42}`)
			for range 64 { // warm the connection pool and the compiled module
				if _, err := c.Invoke(ctx, "echo", input, client.InvokeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			stop := make(chan struct{})
			defer close(stop)
			if mode == "log" {
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(100 * time.Millisecond):
							c.Checkpoint(ctx)
						}
					}
				}()
			}
			b.SetParallelism(max(1, 64/goruntime.GOMAXPROCS(0))) // 64 callers
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Invoke(ctx, "echo", input, client.InvokeOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "invokes/s")
			// CPU per call, client included: on a shared machine, the figure that load elsewhere does not move.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/invoke")
		})
	}
}
