package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/watchparty/watchparty/pkg/event"
)

// Metrics are the gateway's Prometheus series (SPEC §8).
type Metrics struct {
	Registry      *prometheus.Registry
	Connections   prometheus.Gauge
	Events        *prometheus.CounterVec
	InvalidFrames prometheus.Counter
	SlowConsumers prometheus.Counter
	Broadcasts    *prometheus.CounterVec
}

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
	}
	m.Registry.MustRegister(m.Connections, m.Events, m.InvalidFrames, m.SlowConsumers, m.Broadcasts,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, t := range event.Types {
		m.Events.WithLabelValues(string(t), resultAccepted)
	}
	return m
}
