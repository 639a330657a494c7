package gateway_test

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

// scrape reads the gateway's /metrics as Prometheus would: series (name
// with its labels, as written) to value.
func (e *apiEnv) scrape() map[string]float64 {
	e.t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetric scrapes until cond holds for the series' value.
func (e *apiEnv) waitMetric(series string, cond func(float64) bool) float64 {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok := e.scrape()[series]
		if ok && cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s = %v (present %v) after 5s", series, v, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }

// TestOperatorMetrics drives one party over real WebSockets and checks the
// series operators watch: append latency per accepted event, fan-out
// delivery latency per frame written to a viewer, closes by code, and
// readiness.
func TestOperatorMetrics(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	before := e.scrape()
	for _, s := range []string{`watch_party_ws_closes_total{code="1000"}`, `watch_party_ws_closes_total{code="1006"}`,
		`watch_party_ws_closes_total{code="1009"}`, "watch_party_append_duration_seconds_count",
		"watch_party_delivery_latency_seconds_count"} {
		if before[s] != 0 {
			t.Fatalf("%s = %v before any viewer", s, before[s])
		}
	}
	if before["watch_party_ready"] != 1 {
		t.Errorf("watch_party_ready = %v on a ready gateway, want 1", before["watch_party_ready"])
	}

	alice := e.mustJoin(party, "alice", nil)
	bob := e.mustJoin(party, "bob", nil)
	if f := alice.send(map[string]any{"type": "chat", "id": "m1", "text": "hello"}); f["type"] != "ack" {
		t.Fatalf("chat: %v", f)
	}
	bob.next("chat")
	e.waitMetric("watch_party_append_duration_seconds_count", func(v float64) bool { return v == 1 })
	// One live frame written to each of the two viewers; welcome, ack and
	// viewers frames are not deliveries.
	e.waitMetric("watch_party_delivery_latency_seconds_count", func(v float64) bool { return v == 2 })
	if sum := e.scrape()["watch_party_delivery_latency_seconds_sum"]; sum < 0 || sum > 10 {
		t.Errorf("delivery latency sum %v s for two frames", sum)
	}
	// A refused event is not an append.
	if f := alice.send(map[string]any{"type": "chat", "text": " "}); f["type"] != "error" {
		t.Fatalf("blank chat: %v", f)
	}
	if v := e.scrape()["watch_party_append_duration_seconds_count"]; v != 1 {
		t.Errorf("append count %v after a refused chat, want 1", v)
	}

	// bob leaves properly (1000), alice's network goes away (1006), and
	// carol sends a frame over 4 KiB (1009).
	_ = bob.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	e.waitMetric(`watch_party_ws_closes_total{code="1000"}`, atLeast(1))
	if tcp, ok := alice.conn.NetConn().(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = alice.conn.NetConn().Close()
	e.waitMetric(`watch_party_ws_closes_total{code="1006"}`, atLeast(1))
	carol := e.mustJoin(party, "carol", nil)
	_ = carol.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"`+strings.Repeat("x", 5000)+`"}`))
	e.waitMetric(`watch_party_ws_closes_total{code="1009"}`, atLeast(1))
	e.waitMetric("watch_party_ws_connections", func(v float64) bool { return v == 0 })
}
