package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestPoisonEventsAreIsolatedAndReplayed puts chats that PostgreSQL refuses
// (a CHECK constraint) among good ones: every good chat is written, each
// refused one goes to wp:dlq after WATCH_PARTY_MAX_DELIVERIES attempts and
// is acknowledged, a replay fails while the constraint stands and writes
// them once it is dropped, and a second replay finds nothing.
func TestPoisonEventsAreIsolatedAndReplayed(t *testing.T) {
	s := newSystem(t, testenv.StartRedis(t).URL(), testenv.NewDatabase(t, store.Migrate)) // wp:dlq is global
	ctx := context.Background()
	if _, err := s.db.Exec(ctx, `ALTER TABLE watch_party_chats ADD CONSTRAINT no_poison CHECK (body NOT LIKE '%POISON%')`); err != nil {
		t.Fatal(err)
	}
	party := s.party("ONGOING", "host")
	addr, _ := s.gateway()
	started := time.Now()

	// One chat at a time, round robin over five viewers, so the stream order
	// is fixed: 5 joins, then 205 chats with a poison one at chats 20, 61,
	// 102, 143 and 184, inside batches of 50 with good ones on both sides.
	watcher := dial(t, addr, party, "watcher")
	watcher.nextOf("welcome", 5*time.Second)
	var viewers []*client
	for i := range 5 {
		c := dial(t, addr, party, fmt.Sprintf("viewer-%d", i))
		c.nextOf("welcome", 5*time.Second)
		viewers = append(viewers, c)
	}
	const total = 205
	acks := map[string]frame{} // event id -> ack
	poisoned := map[string]bool{}
	for n := range total {
		c := viewers[n%len(viewers)]
		text := fmt.Sprintf("good chat %d from %s", n, c.user)
		if n%41 == 20 {
			text = fmt.Sprintf("POISON chat %d from %s", n, c.user)
		}
		c.send(map[string]any{"type": "chat", "id": fmt.Sprintf("m%d", n), "text": text})
		ack := c.nextOf("ack", 5*time.Second)
		acks[ack.EventID] = ack
		if strings.Contains(text, "POISON") {
			poisoned[ack.EventID] = true
		}
	}
	var good, poison [][]string // rows: event_id, user_id, body, created_at
	broadcasts := map[string]frame{}
	for range total {
		f := watcher.nextOf("chat", 10*time.Second)
		broadcasts[f.EventID] = f
		row := []string{f.EventID, f.UserID, f.Text, f.TS}
		if poisoned[f.EventID] {
			poison = append(poison, row)
		} else {
			good = append(good, row)
		}
	}
	if len(poison) != 5 || len(good) != total-5 || len(broadcasts) != total {
		t.Fatalf("watcher saw %d good and %d poison chats (%d distinct), want %d and 5", len(good), len(poison), len(broadcasts), total-5)
	}
	byID := func(a, b []string) int { return strings.Compare(a[0], b[0]) }
	slices.SortFunc(good, byID)
	slices.SortFunc(poison, byID)
	chats := func() [][]string {
		t.Helper()
		return s.rows(`SELECT event_id, user_id, body, created_at FROM watch_party_chats WHERE party_id = $1 ORDER BY event_id`, party)
	}
	flusherEnv := []string{"WATCH_PARTY_CONSUMER_NAME=poison-flusher", "WATCH_PARTY_FLUSH_BATCH_SIZE=50",
		"WATCH_PARTY_MAX_DELIVERIES=3", "WATCH_PARTY_FLUSH_INTERVAL=200ms"}

	// One `run --once`: the good chats are written and the run succeeds,
	// since an isolated permanent failure is not a batch that could not be
	// written; each poison chat has one failure counted and stays pending.
	s.flushOnce(flusherEnv...)
	if diff := cmp.Diff(good, chats()); diff != "" {
		t.Fatalf("chats after one --once (-want +got):\n%s", diff)
	}
	if n := s.rdb.LLen(ctx, "wp:dlq").Val(); n != 0 {
		t.Fatalf("wp:dlq holds %d batches after the first attempt, want 0", n)
	}
	failures := s.rdb.HGetAll(ctx, "wp:{"+party+"}:failures").Val()
	if len(failures) != 5 {
		t.Fatalf("failure counts after the first attempt: %v, want 5 entries", failures)
	}
	for id, n := range failures {
		if n != "1" {
			t.Fatalf("entry %s has %s failures after one attempt", id, n)
		}
	}
	if p := pendingCount(t, s, party); p != 5 {
		t.Fatalf("%d entries pending after the first attempt, want the 5 poison ones", p)
	}

	// A long-running flusher with the same consumer name makes attempts 2
	// and 3 and dead-letters the five.
	metricsAddr, fl := s.flusher(flusherEnv...)
	eventually(t, 20*time.Second, "5 batches in wp:dlq", func() bool { return s.rdb.LLen(ctx, "wp:dlq").Val() >= 5 })
	eventually(t, 10*time.Second, "nothing pending for the party", func() bool { return pendingCount(t, s, party) == 0 })
	if got := scrapeMetric(t, metricsAddr, "watch_party_dlq_events_total", nil); got != 5 {
		t.Fatalf("watch_party_dlq_events_total = %v, want 5", got)
	}
	if n := len(fl.Lines("event routed to the dead-letter list")); n != 5 {
		t.Fatalf("%d dead-letter log lines, want 5", n)
	}
	fl.Kill()
	if diff := cmp.Diff(good, chats()); diff != "" {
		t.Fatalf("chats after dead-lettering (-want +got):\n%s", diff)
	}
	if n := s.rdb.Exists(ctx, "wp:{"+party+"}:failures").Val(); n != 0 {
		t.Fatalf("failure counts left behind: %v", s.rdb.HGetAll(ctx, "wp:{"+party+"}:failures").Val())
	}
	if backlog, err := stream.NewConsumer(s.rdb, "probe").Backlog(ctx, uuid.MustParse(party)); err != nil || backlog != 0 {
		t.Fatalf("backlog %d (%v), want 0", backlog, err)
	}

	// Each element is one event in the SPEC §6 form.
	checkDLQ := func(attempts int) {
		t.Helper()
		raws := s.rdb.LRange(ctx, "wp:dlq", 0, -1).Val()
		if len(raws) != 5 {
			t.Fatalf("wp:dlq holds %d batches, want 5", len(raws))
		}
		var gotEvents, wantEvents []map[string]any
		for _, r := range poison {
			wantEvents = append(wantEvents, map[string]any{"type": "chat", "event_id": r[0], "party_id": party,
				"user_id": r[1], "text": r[2], "created_at": r[3], "stream_id": acks[r[0]].StreamID})
		}
		for _, raw := range raws {
			var b map[string]any
			if err := json.Unmarshal([]byte(raw), &b); err != nil {
				t.Fatalf("wp:dlq element %q: %v", raw, err)
			}
			fields := slices.Sorted(maps.Keys(b))
			if want := []string{"attempts", "error", "events", "failed_at", "party_id", "sqlstate", "stream"}; !slices.Equal(fields, want) {
				t.Fatalf("wp:dlq element has fields %v, want %v: %s", fields, want, raw)
			}
			failedAt, err := time.Parse(time.RFC3339Nano, fmt.Sprint(b["failed_at"]))
			if b["party_id"] != party || b["stream"] != streamKey(party) || b["sqlstate"] != "23514" ||
				b["attempts"] != float64(attempts) || !strings.Contains(fmt.Sprint(b["error"]), "no_poison") ||
				err != nil || failedAt.Before(started.Add(-time.Second)) || failedAt.After(time.Now()) {
				t.Fatalf("wp:dlq element %s: want party %s, its stream, sqlstate 23514, %d attempts, the check constraint's error and a recent failed_at",
					raw, party, attempts)
			}
			events, _ := b["events"].([]any)
			if len(events) != 1 {
				t.Fatalf("wp:dlq element with %d events, want 1: %s", len(events), raw)
			}
			gotEvents = append(gotEvents, events[0].(map[string]any))
		}
		byEventID := func(a, b map[string]any) int { return strings.Compare(a["event_id"].(string), b["event_id"].(string)) }
		slices.SortFunc(gotEvents, byEventID)
		slices.SortFunc(wantEvents, byEventID)
		if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
			t.Fatalf("dead-lettered events (-want +got):\n%s", diff)
		}
	}
	checkDLQ(3)

	// `flusher dlq list`: one tab-separated line per batch.
	code, out := flusherCommand(t, s, "dlq", "list")
	if code != 0 {
		t.Fatalf("flusher dlq list: exit %d\n%s", code, out)
	}
	lines := nonLogLines(out)
	if len(lines) != 5 {
		t.Fatalf("flusher dlq list printed %d lines, want 5:\n%s", len(lines), out)
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 7 || f[0] != fmt.Sprint(i) || f[1] != party || f[2] != "1" || f[3] != "23514" || f[4] != "3" ||
			!strings.Contains(f[6], "no_poison") {
			t.Fatalf("dlq list line %d: %q, want index, party, 1 event, 23514, 3 attempts, failed_at, error", i, l)
		}
	}

	// A replay while the constraint stands fails, keeps every batch and
	// counts one more attempt.
	code, out = flusherCommand(t, s, "replay-dlq")
	if code == 0 || !strings.Contains(out, "replayed=0 failed=5 left=5") {
		t.Fatalf("replay with the constraint in place: exit %d, want non-zero and replayed=0 failed=5 left=5\n%s", code, out)
	}
	checkDLQ(4)
	if diff := cmp.Diff(good, chats()); diff != "" {
		t.Fatalf("chats after a failed replay (-want +got):\n%s", diff)
	}

	// Without the constraint the replay writes the five, once.
	if _, err := s.db.Exec(ctx, `ALTER TABLE watch_party_chats DROP CONSTRAINT no_poison`); err != nil {
		t.Fatal(err)
	}
	code, out = flusherCommand(t, s, "replay-dlq")
	if code != 0 || !strings.Contains(out, "replayed=5 failed=0 left=0") {
		t.Fatalf("replay: exit %d, want 0 and replayed=5 failed=0 left=0\n%s", code, out)
	}
	all := slices.SortedFunc(slices.Values(append(slices.Clone(good), poison...)), byID)
	if diff := cmp.Diff(all, chats()); diff != "" {
		t.Fatalf("chats after the replay (-want +got):\n%s", diff)
	}
	if n := s.rdb.LLen(ctx, "wp:dlq").Val(); n != 0 {
		t.Fatalf("wp:dlq holds %d batches after the replay", n)
	}
	code, out = flusherCommand(t, s, "replay-dlq")
	if code != 0 || !strings.Contains(out, "replayed=0 failed=0 left=0") {
		t.Fatalf("second replay: exit %d, want 0 and replayed=0 failed=0 left=0\n%s", code, out)
	}
	if diff := cmp.Diff(all, chats()); diff != "" {
		t.Fatalf("chats after the second replay (-want +got):\n%s", diff)
	}
}

// pendingCount returns how many entries of party's stream are pending in
// group flushers.
func pendingCount(t testing.TB, s *system, party string) int64 {
	t.Helper()
	p, err := s.rdb.XPending(context.Background(), streamKey(party), stream.Group).Result()
	if err != nil {
		t.Fatalf("XPENDING %s: %v", streamKey(party), err)
	}
	return p.Count
}

// flusherCommand runs a flusher subcommand to its end and returns its exit
// code and output (stdout and logs).
func flusherCommand(t testing.TB, s *system, args ...string) (int, string) {
	t.Helper()
	p := testenv.StartProc(t, "flusher", s.env(), args...)
	code, err := p.Wait(60 * time.Second)
	if err != nil {
		t.Fatalf("flusher %v: %v\n%s", args, err, p.Output())
	}
	return code, p.Output()
}

// nonLogLines returns the lines of out that are not JSON log records.
func nonLogLines(out string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	return lines
}
