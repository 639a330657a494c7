package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestNothingAckedThatIsNotCommitted stops PostgreSQL under a running
// flusher: viewers keep chatting, the entries stay pending in Redis, and
// they are written once PostgreSQL is back.
func TestNothingAckedThatIsNotCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("stops PostgreSQL; skipped with -short")
	}
	pg := testenv.StartPostgres(t)
	s := newSystem(t, ownRedisDB(t, testenv.SharedRedisURL(t)), pg.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")
	addr, _ := s.gateway()
	_, fl := s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms")

	c := dial(t, addr, party, "alice")
	c.nextOf("welcome", 5*time.Second)
	acked := map[string]string{} // event id -> text
	chat := func(n int) {
		t.Helper()
		text := fmt.Sprintf("message %d", n)
		c.send(map[string]any{"type": "chat", "id": fmt.Sprint(n), "text": text})
		ack := c.nextOf("ack", 5*time.Second)
		acked[ack.EventID] = text
	}
	for n := range 20 {
		chat(n)
	}
	eventually(t, 10*time.Second, "the first 20 chats in PostgreSQL", func() bool {
		return s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party) == 20
	})

	pg.Stop()
	failuresBefore := len(fl.Lines("flush failed"))
	for n := 20; n < 50; n++ {
		chat(n) // the event path needs only Redis
	}
	eventually(t, 10*time.Second, "three failed flush cycles", func() bool {
		return len(fl.Lines("flush failed")) >= failuresBefore+3
	})
	backlog, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(party))
	if err != nil {
		t.Fatal(err)
	}
	if backlog != 30 {
		t.Fatalf("%d entries unacknowledged during the outage, want the 30 sent after it began", backlog)
	}
	pending, err := s.rdb.XPending(context.Background(), streamKey(party), stream.Group).Result()
	if err != nil || pending.Count == 0 {
		t.Fatalf("no pending entries during the outage (%v): the flusher never tried them", err)
	}

	pg.Start(t)
	s.db.Reset() // drop the pool's connections the stop ended
	eventually(t, 20*time.Second, "all 50 chats in PostgreSQL", func() bool {
		n, err := s.tryCount(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party)
		return err == nil && n == 50
	})
	got := map[string]string{}
	for _, r := range s.rows(`SELECT event_id, body FROM watch_party_chats WHERE party_id = $1`, party) {
		got[r[0]] = r[1]
	}
	if diff := cmp.Diff(acked, got); diff != "" {
		t.Fatalf("chats after the outage (-acked +stored):\n%s", diff)
	}
	eventually(t, 10*time.Second, "nothing left unacknowledged", func() bool {
		n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(party))
		return err == nil && n == 0
	})
}

// TestOutageNeverDeadLetters keeps PostgreSQL down for several flush cycles
// while viewers keep chatting, with WATCH_PARTY_MAX_DELIVERIES lower than
// the number of failed cycles: nothing may go to the dead-letter list, the
// flusher must say it is failing (metrics, not ready) and, once PostgreSQL
// is back, every acknowledged chat must be stored exactly once.
func TestOutageNeverDeadLetters(t *testing.T) {
	if testing.Short() {
		t.Skip("stops PostgreSQL; skipped with -short")
	}
	const maxDeliveries = 2
	pg := testenv.StartPostgres(t)
	s := newSystem(t, ownRedisDB(t, testenv.SharedRedisURL(t)), pg.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")
	gw, _ := s.gateway()
	flAddr, fl := s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms", fmt.Sprintf("WATCH_PARTY_MAX_DELIVERIES=%d", maxDeliveries),
		"WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1h")
	ctx := context.Background()

	var viewers []*client
	for _, user := range []string{"ann", "ben", "cy"} {
		c := dial(t, gw, party, user)
		c.nextOf("welcome", 5*time.Second)
		viewers = append(viewers, c)
	}
	acked := map[string]string{} // event id -> text
	n := 0
	round := func() { // every viewer chats once and waits for its ack
		t.Helper()
		for _, c := range viewers {
			n++
			id, text := fmt.Sprintf("m%d", n), fmt.Sprintf("%s says %d", c.user, n)
			acked[chatAcked(t, c, party, id, text).EventID] = text
		}
	}
	for range 3 {
		round()
	}
	eventually(t, 10*time.Second, "the first chats in PostgreSQL", func() bool {
		got, err := tryStoredChats(s, party)
		return err == nil && cmp.Equal(acked, got)
	})
	if code := probeStatus(flAddr, "/readyz"); code != 200 {
		t.Fatalf("flusher /readyz %d before the outage, want 200", code)
	}
	storedBefore := len(acked)

	pg.Stop()
	eventually(t, 5*time.Second, "flusher /readyz 503 while PostgreSQL is down", func() bool {
		return probeStatus(flAddr, "/readyz") == 503
	})
	failuresBefore := len(fl.Lines("flush failed"))
	round()
	const cycles = 4 // more than maxDeliveries
	for k := 1; k <= cycles; k++ {
		eventually(t, 15*time.Second, fmt.Sprintf("failed flush cycle %d", k), func() bool {
			return len(fl.Lines("flush failed")) >= failuresBefore+k
		})
		round() // the event path needs only Redis
	}

	backlog, err := stream.NewConsumer(s.rdb, "probe").Backlog(ctx, uuid.MustParse(party))
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(acked) - storedBefore); backlog != want {
		t.Fatalf("%d entries unacknowledged during the outage, want the %d sent after it began", backlog, want)
	}
	pending, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: streamKey(party), Group: stream.Group,
		Start: "-", End: "+", Count: 1000}).Result()
	if err != nil {
		t.Fatal(err)
	}
	maxTries := int64(0)
	for _, p := range pending {
		maxTries = max(maxTries, p.RetryCount)
	}
	if maxTries <= maxDeliveries {
		t.Fatalf("pending entries were delivered at most %d times during the outage; the test needs more than %d",
			maxTries, maxDeliveries)
	}
	checkNoDeadLetters := func(when string) {
		t.Helper()
		if n, err := s.rdb.LLen(ctx, "wp:dlq").Result(); err != nil || n != 0 {
			t.Fatalf("%s: LLEN wp:dlq = %d (%v), want 0", when, n, err)
		}
		if v := scrapeMetric(t, flAddr, "watch_party_dlq_events_total", nil); v != 0 {
			t.Fatalf("%s: watch_party_dlq_events_total %v, want 0", when, v)
		}
		if v := scrapeMetric(t, flAddr, "watch_party_failed_flushes_total", nil); v < cycles {
			t.Fatalf("%s: watch_party_failed_flushes_total %v, want at least %d", when, v, cycles)
		}
		if lines := fl.Lines("dead-letter"); len(lines) != 0 {
			t.Fatalf("%s: the flusher logged dead-lettering:\n%s", when, strings.Join(lines, "\n"))
		}
	}
	checkNoDeadLetters("during the outage")
	if code := probeStatus(flAddr, "/readyz"); code != 503 {
		t.Fatalf("flusher /readyz %d during the outage, want 503", code)
	}

	pg.Start(t)
	s.db.Reset() // drop the pool's connections the stop ended
	eventually(t, 30*time.Second, "every acknowledged chat in PostgreSQL", func() bool {
		got, err := tryStoredChats(s, party)
		return err == nil && len(got) >= len(acked)
	})
	if diff := cmp.Diff(acked, storedChats(t, s, party)); diff != "" {
		t.Fatalf("chats after the outage (-acked +stored):\n%s", diff)
	}
	eventually(t, 10*time.Second, "flusher /readyz 200 after the outage", func() bool {
		return probeStatus(flAddr, "/readyz") == 200
	})
	eventually(t, 10*time.Second, "nothing left unacknowledged", func() bool {
		n, err := stream.NewConsumer(s.rdb, "probe").Backlog(ctx, uuid.MustParse(party))
		return err == nil && n == 0
	})
	checkNoDeadLetters("after the outage")
	if v := scrapeMetric(t, flAddr, "watch_party_flushed_events_total", map[string]string{"type": "chat"}); v != float64(len(acked)) {
		t.Fatalf("watch_party_flushed_events_total{type=chat} %v, want %d: each chat written once", v, len(acked))
	}
}

// chatAcked sends a chat with client id id and returns its ack, failing the
// test on an error frame or an ack whose event id is not the one derived
// from the client id.
func chatAcked(t testing.TB, c *client, party, id, text string) frame {
	t.Helper()
	c.send(map[string]any{"type": "chat", "id": id, "text": text})
	for {
		f := c.next(5 * time.Second)
		switch {
		case f.Type == "error" && f.ID == id:
			t.Fatalf("%s: chat %s refused: %s", c.user, id, f.Raw)
		case f.Type == "ack" && f.ID == id:
			if want := event.NewID(uuid.MustParse(party), c.user, id).String(); f.EventID != want {
				t.Fatalf("%s: chat %s acked as event %s, want %s", c.user, id, f.EventID, want)
			}
			return f
		}
	}
}

// storedChats returns the party's chats in PostgreSQL: event id -> body.
func storedChats(t testing.TB, s *system, party string) map[string]string {
	t.Helper()
	got, err := tryStoredChats(s, party)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// tryStoredChats is storedChats for polling while PostgreSQL may be down.
func tryStoredChats(s *system, party string) (map[string]string, error) {
	rows, err := s.db.Query(context.Background(), `SELECT event_id, body FROM watch_party_chats WHERE party_id = $1`, party)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	var id uuid.UUID
	var body string
	_, err = pgx.ForEachRow(rows, []any{&id, &body}, func() error {
		got[id.String()] = body
		return nil
	})
	return got, err
}

// probeStatus returns the status code of GET path on addr, or 0 when the
// request fails.
func probeStatus(addr, path string) int {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// scrapeMetric returns the sum of the series of metric name on addr's
// /metrics whose labels include labels; it fails the test when there is
// none.
func scrapeMetric(t testing.TB, addr, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		series, value := line[:sp], line[sp+1:]
		got := map[string]string{}
		if i := strings.IndexByte(series, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(series[i+1:], "}"), ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					got[k] = strings.Trim(v, `"`)
				}
			}
			series = series[:i]
		}
		if series != name {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum, found = sum+f, true
	}
	if !found {
		t.Fatalf("%s has no series %s%v", addr, name, labels)
	}
	return sum
}

// TestGatewayReadyWhilePostgresDown: SPEC §8 makes the gateway's /readyz
// depend on Redis only (PostgreSQL only for the flusher), and §5 keeps
// connected viewers chatting while PostgreSQL is down. A gateway that turned
// not-ready then would be taken out of rotation for no fault of its own.
func TestGatewayReadyWhilePostgresDown(t *testing.T) {
	if testing.Short() {
		t.Skip("stops PostgreSQL; skipped with -short")
	}
	pg := testenv.StartPostgres(t)
	s := newSystem(t, ownRedisDB(t, testenv.SharedRedisURL(t)), pg.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")
	gw, _ := s.gateway()
	c := dial(t, gw, party, "ann")
	c.nextOf("welcome", 5*time.Second)

	pg.Stop()
	t.Cleanup(func() { pg.Start(t) }) // the test database is dropped before the server stops
	chatAcked(t, c, party, "during-outage", "still chatting")
	resp, err := http.Get("http://" + gw + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("gateway /readyz %d %s while only PostgreSQL is down, want 200 (SPEC §8: Redis only)",
			resp.StatusCode, strings.TrimSpace(string(body)))
	}
}
