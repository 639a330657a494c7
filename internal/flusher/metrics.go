package flusher

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watchparty/watchparty/internal/event"
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
	Claimed         prometheus.Counter
	SchedulerLeader prometheus.Gauge
	// RetentionDeleted counts rows deleted for being older than their
	// table's retention, by table.
	RetentionDeleted *prometheus.CounterVec

	// oldestMS is the stream time (unix ms) of the oldest event not yet
	// flushed as of the last backlog refresh, 0 when none waited. The
	// flush lag gauge is its age at scrape time: it keeps growing between
	// refreshes, as the real lag does, at no cost per scrape.
	oldestMS atomic.Int64
	now      func() time.Time
}

// NewMetrics registers the flusher's series on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		now:      time.Now,
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
		Claimed: prometheus.NewCounter(prometheus.CounterOpts{Name: "watch_party_claimed_entries_total",
			Help: "Pending stream entries claimed from flushers that stopped reading them."}),
		SchedulerLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "watch_party_scheduler_leader",
			Help: "1 while this flusher holds the scheduler lease, else 0."}),
		RetentionDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watch_party_retention_deleted_rows_total",
			Help: "Rows deleted for being older than their table's retention (WATCH_PARTY_LOG_RETENTION, WATCH_PARTY_CHAT_RETENTION)."},
			[]string{"table"}),
	}
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watch_party_flush_lag_seconds",
		Help: "Age of the oldest event in Redis not yet flushed to PostgreSQL, as of this flusher's last backlog refresh (0 when none waits)."},
		m.flushLag)
	m.Registry.MustRegister(m.Buffered, m.FlushDuration, m.FailedFlushes, m.ActiveInstances, m.Flushed, m.DLQEvents, m.DLQLength,
		m.Claimed, m.SchedulerLeader, m.RetentionDeleted, lag,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, t := range event.Types {
		m.Flushed.WithLabelValues(string(t))
	}
	return m
}

// setOldest records the stream time of the oldest unflushed event; the zero
// time means none waits.
func (m *Metrics) setOldest(t time.Time) {
	if t.IsZero() {
		m.oldestMS.Store(0)
		return
	}
	m.oldestMS.Store(t.UnixMilli())
}

// flushLag is the age in seconds of the oldest unflushed event, 0 when none.
func (m *Metrics) flushLag() float64 {
	ms := m.oldestMS.Load()
	if ms == 0 {
		return 0
	}
	return max(0, float64(m.now().UnixMilli()-ms)/1000)
}
