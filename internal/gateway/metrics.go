package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watchparty/watchparty/internal/event"
)

// Metrics are the gateway's Prometheus series (SPEC §8).
type Metrics struct {
	Registry      *prometheus.Registry
	Connections   prometheus.Gauge
	Events        *prometheus.CounterVec
	InvalidFrames prometheus.Counter
	SlowConsumers prometheus.Counter
	Broadcasts    *prometheus.CounterVec
	Closes        *prometheus.CounterVec
	Append        prometheus.Histogram
	Delivery      prometheus.Histogram
	// ReplicaShortfalls counts events answered unavailable because fewer
	// replicas than WATCH_PARTY_MIN_REPLICAS_ACK confirmed them in time.
	ReplicaShortfalls prometheus.Counter
}

// latencyBuckets span 0.25 ms to about 8 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.00025, 2, 16)

// Results of an event, besides the error codes.
const resultAccepted = "accepted"

// NewMetrics registers the gateway's series on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "watch_party_ws_connections",
			Help: "Open viewer WebSocket connections on this gateway."}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watch_party_events_total",
			Help: "Viewer events by type and result (accepted or the error code)."}, []string{"type", "result"}),
		InvalidFrames: prometheus.NewCounter(prometheus.CounterOpts{Name: "watch_party_invalid_frames_total",
			Help: "Client frames refused before their type was known."}),
		SlowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Name: "watch_party_slow_consumers_total",
			Help: "Viewers closed with 1013 because they could not keep up."}),
		Broadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watch_party_broadcast_frames_total",
			Help: "Broadcast frames fanned out by this gateway (once per party, not per viewer)."}, []string{"type"}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watch_party_ws_closes_total",
			Help: "Viewer WebSockets closed, by close code: the gateway's when it closed them, else the client's, 1006 without a close frame."},
			[]string{"code"}),
		Append: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "watch_party_append_duration_seconds",
			Help:    "From a viewer's frame arriving to its event being stored in Redis (the time to ack), accepted events.",
			Buckets: latencyBuckets}),
		Delivery: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "watch_party_delivery_latency_seconds",
			Help:    "From a stream entry's time to its broadcast frame being written to a viewer's socket (live frames).",
			Buckets: latencyBuckets}),
		ReplicaShortfalls: prometheus.NewCounter(prometheus.CounterOpts{Name: "watch_party_replica_ack_shortfalls_total",
			Help: "Events stored in Redis but answered unavailable, not acked, because fewer replicas than WATCH_PARTY_MIN_REPLICAS_ACK confirmed them in time."}),
	}
	m.Registry.MustRegister(m.Connections, m.Events, m.InvalidFrames, m.SlowConsumers, m.Broadcasts, m.Closes, m.Append, m.Delivery, m.ReplicaShortfalls,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, t := range event.Types {
		m.Events.WithLabelValues(string(t), resultAccepted)
		if t.Broadcast() {
			m.Broadcasts.WithLabelValues(string(t))
		}
	}
	for _, code := range []int{1000, 1001, 1006, 1008, 1009, 1013} {
		m.Closes.WithLabelValues(strconv.Itoa(code))
	}
	return m
}
