// Package health serves the liveness, readiness and metrics endpoints both
// binaries expose.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Probes holds the readiness checks and a switch that turns the process
// not-ready while it shuts down. It is safe for concurrent use.
type Probes struct {
	checks   map[string]Check
	draining atomic.Bool
}

// NewProbes returns probes over the named checks.
func NewProbes(checks map[string]Check) *Probes { return &Probes{checks: checks} }

// Drain makes /readyz fail from now on.
func (p *Probes) Drain() { p.draining.Store(true) }

// Register adds /healthz, /readyz and /metrics (from reg) to mux.
func (p *Probes) Register(mux *http.ServeMux, reg *prometheus.Registry) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", p.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	// watch_party_ready is /readyz for Prometheus: the same checks, run when
	// scraped. A second Register on the same registry keeps the first.
	_ = reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watch_party_ready",
		Help: "1 when /readyz answers 200 (checks run at scrape time), else 0."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if code, _ := p.status(ctx); code == http.StatusOK {
			return 1
		}
		return 0
	}))
}

func (p *Probes) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	code, status := p.status(ctx)
	writeJSON(w, code, status)
}

// status runs every check and reports the /readyz answer.
func (p *Probes) status(ctx context.Context) (int, map[string]string) {
	status := map[string]string{}
	code := http.StatusOK
	if p.draining.Load() {
		status["process"] = "shutting down"
		code = http.StatusServiceUnavailable
	}
	for name, check := range p.checks {
		if err := check(ctx); err != nil {
			status[name] = err.Error()
			code = http.StatusServiceUnavailable
		} else {
			status[name] = "ok"
		}
	}
	return code, status
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
