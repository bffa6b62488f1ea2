package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/toolgate/toolgate/receipts/tlog"
)

// metrics are the server's Prometheus series, on a registry of its own so that two servers in one process (as in
// tests) do not collide. No label carries input, output or secret values.
type metrics struct {
	reg          *prometheus.Registry
	calls        *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	compileCache *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "toolgate_calls_total", Help: "Tool calls that reached the sandbox, by tool and status.",
		}, []string{"tool", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "toolgate_call_duration_seconds",
			Help:    "Wall time of tool calls in the sandbox, by tool.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"tool"}),
		compileCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "toolgate_compile_cache_total",
			Help: "Invocations whose compiled module was in memory (hit) or had to be loaded (miss).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.calls, m.latency, m.compileCache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeCall(tool, status string, wall time.Duration) {
	m.calls.WithLabelValues(tool, status).Inc()
	m.latency.WithLabelValues(tool).Observe(wall.Seconds())
}

func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// logCollector exports the receipt log's stats (tlog.StatsReporter), read at each scrape: nothing on the hot path.
type logCollector struct {
	log                                    tlog.StatsReporter
	leaves, commits, committed, commitTime *prometheus.Desc
	unindexed, failed, syncPriority        *prometheus.Desc
}

func newLogCollector(log tlog.StatsReporter) *logCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &logCollector{log: log,
		leaves:    d("toolgate_log_leaves", "Durable leaves of the receipt log: receipts and events."),
		commits:   d("toolgate_log_commits_total", "Synced group commits of the receipt log since the server started."),
		committed: d("toolgate_log_committed_leaves_total", "Leaves those commits held: divided by commits, the mean batch."),
		commitTime: d("toolgate_log_commit_duration_seconds",
			"Time to write and sync one group commit of the receipt log."),
		unindexed: d("toolgate_log_unindexed_leaves",
			"Durable leaves not yet in the log's index; they are served from memory meanwhile."),
		failed: d("toolgate_log_failed",
			"1 once the receipt log has stopped after a write or sync error: invokes fail until a restart."),
		syncPriority: d("toolgate_log_sync_priority_raised",
			"1 if the receipt log syncs on a thread at raised priority (Linux, with CAP_SYS_NICE or RLIMIT_NICE)."),
	}
}

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.leaves, c.commits, c.committed, c.commitTime, c.unindexed, c.failed,
		c.syncPriority} {
		ch <- d
	}
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.log.LogStats()
	ch <- prometheus.MustNewConstMetric(c.leaves, prometheus.GaugeValue, float64(st.Size))
	ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(st.Commits))
	ch <- prometheus.MustNewConstMetric(c.committed, prometheus.CounterValue, float64(st.Leaves))
	ch <- prometheus.MustNewConstMetric(c.unindexed, prometheus.GaugeValue, float64(st.Unindexed))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, b2f(st.Err != nil))
	ch <- prometheus.MustNewConstMetric(c.syncPriority, prometheus.GaugeValue, b2f(st.SyncPriority))
	buckets := make(map[float64]uint64, len(tlog.CommitBounds))
	var n uint64 // cumulative; the last count, over every bound, is only in the total
	for i, k := range st.CommitCounts {
		n += k
		if i < len(tlog.CommitBounds) {
			buckets[tlog.CommitBounds[i]] = n
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.commitTime, n, st.CommitSeconds, buckets)
}

// b2f is 1 for true and 0 for false: a gauge's value for a yes-or-no.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
