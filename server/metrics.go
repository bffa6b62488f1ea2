package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
