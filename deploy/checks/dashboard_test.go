package checks

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVars stand in for Grafana's variables so that a query parses as
// the PromQL Grafana sends.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h")

// wantPanels are the things operators asked to see, each matched by a
// metric some panel must query.
var wantPanels = map[string]string{
	"ingest rate":         "watch_party_events_total",
	"fan-out rate":        "watch_party_broadcast_frames_total",
	"ack latency":         "watch_party_append_duration_seconds_bucket",
	"delivery latency":    "watch_party_delivery_latency_seconds_bucket",
	"buffered events":     "watch_party_buffered_events_count",
	"flush lag":           "watch_party_flush_lag_seconds",
	"flush duration":      "watch_party_flush_duration_ms_bucket",
	"failures":            "watch_party_failed_flushes_total",
	"dead-letter list":    "watch_party_dlq_length",
	"connections per pod": "watch_party_ws_connections",
}

// TestGrafanaDashboard parses deploy/grafana/watchparty.json and checks that
// every query is PromQL naming only metrics the binaries export, and that
// the panels operators need are there.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(repo("deploy/grafana/watchparty.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("watchparty.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels: %q %q %d", d.Title, d.UID, len(d.Panels))
	}
	gw, fl := exportedNames(t)
	queried := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || len(p.Targets) == 0 || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %d %q: needs a title, a size and a query", p.ID, p.Title)
		}
		for _, q := range p.Targets {
			for _, n := range selectorNames(t, grafanaVars.Replace(q.Expr)) {
				queried[n] = true
				if !gw.exported(n) && !fl.exported(n) {
					t.Errorf("panel %q query %s: %s is exported by neither binary", p.Title, q.RefID, n)
				}
			}
		}
	}
	for what, metric := range wantPanels {
		if !queried[metric] {
			t.Errorf("no panel shows %s (%s)", what, metric)
		}
	}
}
