package badger

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
)

// BenchmarkLogAppend appends receipts from 64 goroutines, each Append returning once its receipt is synced and
// in the log, and reports appends/s and the CPU each append costs, background work (the applier, Badger's
// flushes and compactions) included. Receipts are made before the clock starts. "promised" promises each receipt
// first (Expect), as the server does when a call starts; "plain" does not, as the CLI's appends do.
func BenchmarkLogAppend(b *testing.B) {
	for _, promised := range []bool{true, false} {
		name := map[bool]string{true: "promised", false: "plain"}[promised]
		b.Run(name, func(b *testing.B) {
			s := open(b)
			rs := make([]*receipts.Receipt, b.N)
			for i := range rs {
				rs[i] = receiptstest.Receipt("echo", receipts.StatusOK, time.Unix(1700000000, int64(i)))
			}
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx := context.Background()
					if promised {
						ctx, _ = s.Expect(ctx)
					}
					if err := s.Append(ctx, rs[next.Add(1)-1]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := s.apply(); err != nil { // the applier's share of the work
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/append")
			st := s.LogStats()
			b.ReportMetric(float64(st.Leaves)/float64(max(st.Commits, 1)), "entries/commit")
		})
	}
}
