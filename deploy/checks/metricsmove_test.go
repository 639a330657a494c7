package checks

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// watcher scrapes one binary and waits for its series to meet conditions.
type watcher struct {
	t    *testing.T
	addr string
	// samples keeps every scrape with its time, for rendering (render_test).
	samples []sample
	peer    *watcher // scraped alongside, so both binaries' samples line up
}

type sample struct {
	at     time.Time
	series map[string]float64
}

func (w *watcher) now() map[string]float64 {
	w.t.Helper()
	s := scrapeMetrics(w.t, w.addr).series
	w.samples = append(w.samples, sample{time.Now(), s})
	return s
}

// until scrapes every 100 ms until cond holds, failing after timeout with
// the last values of the named series.
func (w *watcher) until(what string, timeout time.Duration, cond func(map[string]float64) bool, show ...string) map[string]float64 {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := w.now()
		if w.peer != nil {
			w.peer.now()
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			var last []string
			for _, n := range show {
				last = append(last, fmt.Sprintf("%s=%v", n, s[n]))
			}
			w.t.Fatalf("%s: not within %v (%s)", what, timeout, strings.Join(last, " "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const (
	buffered = "watch_party_buffered_events_count"
	lag      = "watch_party_flush_lag_seconds"
	failed   = "watch_party_failed_flushes_total"
	dlqLen   = "watch_party_dlq_length"
	dlqTotal = "watch_party_dlq_events_total"
	flushed  = `watch_party_flushed_events_total{type="chat"}`
	ready    = "watch_party_ready"
)

// TestMetricsMoveAsTheyShould runs a gateway and a flusher as processes,
// chats over a real WebSocket and scrapes both binaries through a
// PostgreSQL outage and a poison event: the buffered count rises while
// events wait and falls to 0 once they are flushed, flush lag grows during
// the outage and resets, failed flushes count the outage, and the DLQ
// series follow the poison event.
func TestMetricsMoveAsTheyShould(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dbURL := pg.NewDatabase(t, store.Migrate)
	redisURL := "redis://" + testenv.StartRedis(t).Addr() + "/0"
	ctx := context.Background()
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	party := uuid.New()
	if _, err := db.Exec(ctx, `INSERT INTO watch_parties (id, title, video_url, host_user_id, start_time, end_time, status)
		VALUES ($1, 'metrics', 'https://example.com/v.mp4', 'host', now() - interval '1 minute', now() + interval '1 hour', 'ONGOING')`, party); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `ALTER TABLE watch_party_chats ADD CONSTRAINT no_poison CHECK (body NOT LIKE '%POISON%')`); err != nil {
		t.Fatal(err)
	}
	env := []string{"REDIS_URL=" + redisURL, "DATABASE_URL=" + dbURL, "LOG_FORMAT=json"}
	gwAddr, flAddr := freeAddr(t), freeAddr(t)
	gwP := testenv.StartProc(t, "gateway", append([]string{"GATEWAY_ADDR=" + gwAddr, "WATCH_PARTY_DEV_AUTH=true",
		"WATCH_PARTY_CHAT_RATE=0"}, env...))
	flP := testenv.StartProc(t, "flusher", append([]string{"FLUSHER_METRICS_ADDR=" + flAddr,
		"WATCH_PARTY_FLUSH_INTERVAL=500ms", "WATCH_PARTY_MAX_DELIVERIES=2", "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1h"}, env...), "run")
	gwP.WaitHTTP(t, "http://"+gwAddr+"/readyz", 30*time.Second)
	flP.WaitHTTP(t, "http://"+flAddr+"/readyz", 30*time.Second)
	gw := &watcher{t: t, addr: gwAddr}
	fl := &watcher{t: t, addr: flAddr, peer: gw}
	t.Cleanup(func() { renderIfAsked(t, gw, fl) })

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+gwAddr+"/ws/parties/"+party.String()+"?user="+url.QueryEscape("alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	acks := 0
	chat := func(text string) {
		t.Helper()
		acks++
		if err := ws.WriteJSON(map[string]any{"type": "chat", "id": fmt.Sprint("m", acks), "text": text}); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f map[string]any
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("waiting for the ack of %q: %v", text, err)
			}
			if f["type"] == "ack" {
				return
			}
			if f["type"] == "error" {
				t.Fatalf("chat %q: %v", text, f)
			}
		}
	}

	// Healthy: the join is flushed and nothing waits.
	fl.until("an idle, ready flusher", 15*time.Second, func(s map[string]float64) bool {
		return s[buffered] == 0 && s[lag] == 0 && s[ready] == 1 && s[failed] == 0
	}, buffered, lag, ready, failed)

	// PostgreSQL goes away: events are still acked, and wait.
	pg.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			pg.Start(t)
		}
	})
	const n = 20
	for i := range n {
		chat(fmt.Sprint("during the outage ", i))
	}
	s := fl.until("the outage to show", 20*time.Second, func(s map[string]float64) bool {
		return s[buffered] >= n && s[failed] >= 1 && s[lag] >= 1 && s[ready] == 0
	}, buffered, failed, lag, ready)
	firstLag := s[lag]
	fl.until("flush lag to keep growing", 10*time.Second, func(s map[string]float64) bool {
		return s[lag] >= firstLag+1 && s[buffered] >= n
	}, lag, buffered)
	gs := gw.now()
	if gs["watch_party_append_duration_seconds_count"] < n {
		t.Errorf("append count %v after %d acked chats", gs["watch_party_append_duration_seconds_count"], n)
	}
	if gs["watch_party_delivery_latency_seconds_count"] < n {
		t.Errorf("delivery count %v after %d chats broadcast to their sender", gs["watch_party_delivery_latency_seconds_count"], n)
	}

	// PostgreSQL is back: the backlog drains and the lag resets.
	pg.Start(t)
	restarted = true
	fl.until("the backlog to drain", 90*time.Second, func(s map[string]float64) bool {
		return s[buffered] == 0 && s[lag] == 0 && s[flushed] >= n && s[ready] == 1
	}, buffered, lag, flushed, ready)

	// A poison event: its good neighbours are written; it alone is
	// dead-lettered after WATCH_PARTY_MAX_DELIVERIES permanent failures.
	before := fl.now()
	chat("fine before")
	chat("POISON")
	chat("fine after")
	fl.until("the poison event to be dead-lettered", 30*time.Second, func(s map[string]float64) bool {
		return s[dlqTotal] == before[dlqTotal]+1 && s[dlqLen] == before[dlqLen]+1 &&
			s[flushed] >= before[flushed]+2 && s[buffered] == 0 && s[lag] == 0
	}, dlqTotal, dlqLen, flushed, buffered, lag)
}
