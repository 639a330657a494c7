package flusher

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/watchparty/watchparty/pkg/event"
)

// Metrics are the flusher's Prometheus series (SPEC §8).
type Metrics struct {
	Registry        *prometheus.Registry
	Buffered        prometheus.Gauge
	FlushDuration   prometheus.Histogram
	FailedFlushes   prometheus.Counter
	ActiveInstances prometheus.Gauge
	Flushed         *prometheus.CounterVec
	DLQEvents       prometheus.Counter
	DLQLength       prometheus.Gauge
}

// NewMetrics registers the flusher's series on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "watch_party_buffered_events_count",
			Help: "Events in Redis not yet flushed to PostgreSQL."}),
		FlushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "watch_party_flush_duration_ms",
			Help:    "Time to flush one party batch, from read to ack, in milliseconds.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16)}),
		FailedFlushes: prometheus.NewCounter(prometheus.CounterOpts{Name: "watch_party_failed_flushes_total",
			Help: "Party batches that could not be written."}),
		ActiveInstances: prometheus.NewGauge(prometheus.GaugeOpts{Name: "watch_party_active_instances",
			Help: "Ongoing parties with a stream."}),
		Flushed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watch_party_flushed_events_total",
			Help: "Events written to PostgreSQL and acknowledged."}, []string{"type"}),
		DLQEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "watch_party_dlq_events_total",
			Help: "Events routed to the dead-letter list."}),
		DLQLength: prometheus.NewGauge(prometheus.GaugeOpts{Name: "watch_party_dlq_length",
			Help: "Batches waiting in the dead-letter list wp:dlq."}),
	}
	m.Registry.MustRegister(m.Buffered, m.FlushDuration, m.FailedFlushes, m.ActiveInstances, m.Flushed, m.DLQEvents, m.DLQLength,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, t := range event.Types {
		m.Flushed.WithLabelValues(string(t))
	}
	return m
}
