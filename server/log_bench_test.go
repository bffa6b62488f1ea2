package server_test

import (
	"context"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/bench"
	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
	"github.com/toolgate/toolgate/server"
)

// cpuTime is the process's user and system CPU time so far (bench.ProcessCPU; 0 where the platform does not say).
func cpuTime() time.Duration {
	d, _ := bench.ProcessCPU()
	return d
}

// benchServer starts a server over a Badger store in a temporary directory, with wasm published as tool echo,
// and returns a client with a connection pool big enough for every caller.
func benchServer(b testing.TB, noReceipts bool, wasm []byte) (*client.Client, *tgbadger.Store) {
	b.Helper()
	ctx := context.Background()
	h := serve(b, b.TempDir(), runtime.Config{}, server.Config{NoReceipts: noReceipts}, tgbadger.Options{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	c := client.New(h.url, h.token, hc)
	m, _, err := c.PushModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.PutVersion(ctx, "echo", "1.0.0", []byte(`{"module":"`+m.Digest+`"}`)); err != nil {
		b.Fatal(err)
	}
	return c, h.store
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
			c, _ := benchServer(b, mode == "off", plugins.WAT("echo"))
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

// TestReceiptsOverhead measures what BenchmarkInvokeReceipts does, but interleaved: a server with receipts off
// and one with the log run side by side in one process, and 64 callers drive one, then the other, in alternating
// one-second phases, so that load from elsewhere on the machine falls on both alike. It reports invokes/s and CPU
// per call for each, the process's and the whole machine's (on Linux, from /proc/stat in its usual 100 ticks a
// second: it counts the kernel's work for the process, I/O and loopback, that the process's own CPU time may
// not, and shows as "cores busy" below 2 the time the machine sat idle, e.g. with every caller waiting on a
// sync). It runs only with TOOLGATE_BENCH_RECEIPTS=<phases per mode>; the tool is wat/echo, or with
// TOOLGATE_BENCH_TOOL=hello the Go hello tool (plugins/build/hello.wasm). For example:
//
//	TOOLGATE_BENCH_RECEIPTS=20 go test -run TestReceiptsOverhead -v ./server/
func TestReceiptsOverhead(t *testing.T) {
	phases, _ := strconv.Atoi(os.Getenv("TOOLGATE_BENCH_RECEIPTS"))
	if phases <= 0 {
		t.Skip("set TOOLGATE_BENCH_RECEIPTS=<phases> to measure")
	}
	wasm, input := plugins.WAT("echo"), []byte(`{"order_id":42}`)
	if os.Getenv("TOOLGATE_BENCH_TOOL") == "hello" {
		wasm, input = pluginstest.Built(t, "hello"), []byte(`{"name":"Ada"}`)
	}
	clients := map[string]*client.Client{}
	var store *tgbadger.Store
	for _, mode := range []string{"off", "log"} {
		clients[mode], store = benchServer(t, mode == "off", wasm)
	}
	ctx := context.Background()
	type total struct {
		calls int64
		wall  time.Duration
		cpu   time.Duration
		busy  time.Duration
	}
	totals := map[string]*total{"off": {}, "log": {}}
	for i := range 2 * phases {
		mode := []string{"off", "log"}[i%2]
		c := clients[mode]
		var n atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(time.Second)
		start, cpu0, busy0 := time.Now(), cpuTime(), machineBusy()
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if _, err := c.Invoke(ctx, "echo", input, client.InvokeOptions{}); err != nil {
						t.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		tt := totals[mode]
		tt.calls += n.Load()
		tt.wall += time.Since(start)
		tt.cpu += cpuTime() - cpu0
		tt.busy += machineBusy() - busy0
	}
	for _, mode := range []string{"off", "log"} {
		tt := totals[mode]
		t.Logf("receipts=%s: %.0f invokes/s, %.1f cpu-µs/invoke; the machine: %.1f busy-µs/invoke, %.2f cores busy",
			mode, float64(tt.calls)/tt.wall.Seconds(), float64(tt.cpu.Microseconds())/float64(tt.calls),
			float64(tt.busy.Microseconds())/float64(tt.calls), tt.busy.Seconds()/tt.wall.Seconds())
	}
	st := store.LogStats()
	t.Logf("receipts=log: %d synced commits, %.1f entries each, %.0f µs each to write and sync", st.Commits,
		float64(st.Leaves)/float64(max(st.Commits, 1)), 1e6*st.CommitSeconds/float64(max(st.Commits, 1)))
	off, on := totals["off"], totals["log"]
	t.Logf("the log costs %.1f%% of throughput",
		100*(1-(float64(on.calls)/on.wall.Seconds())/(float64(off.calls)/off.wall.Seconds())))
}

// machineBusy is the machine's non-idle CPU time so far (Linux /proc/stat, at 100 ticks a second), 0 elsewhere.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}
