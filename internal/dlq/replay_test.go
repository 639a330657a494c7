package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
)

func replay(t *testing.T, rdb redis.UniversalClient, write dlq.WriteFunc, opts dlq.ReplayOptions) dlq.Report {
	t.Helper()
	rep, err := dlq.Replay(context.Background(), rdb, write, opts)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return rep
}

func counts(rep dlq.Report) string {
	return fmt.Sprintf("replayed=%d failed=%d left=%d", rep.Replayed, rep.Failed, rep.Left)
}

func TestReplayWritesAndRemoves(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	party := newParty(t, db)
	chat := ev(party, event.Chat, "a")
	push(t, rdb,
		batch(chat, ev(party, event.Like, "a"), ev(party, event.Play, "a")),
		batch(ev(party, event.Viewers, ""), ev(party, event.Join, "b")))
	w := store.NewWriter(db)

	rep := replay(t, rdb, w.Write, dlq.ReplayOptions{})
	if got, want := counts(rep), "replayed=2 failed=0 left=0"; got != want {
		t.Errorf("first replay: %s, want %s", got, want)
	}
	for table, want := range map[string]int{"watch_party_chats": 1, "watch_party_likes": 1,
		"watch_party_logs": 2, "watch_party_viewer_counts": 1} {
		if got := count(t, db, table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	var body string
	var created time.Time
	if err := db.QueryRow(context.Background(), `SELECT body, created_at FROM watch_party_chats`).Scan(&body, &created); err != nil {
		t.Fatal(err)
	}
	if body != chat.Text || !created.Equal(chat.CreatedAt) {
		t.Errorf("chat row = %q at %v", body, created)
	}

	rep = replay(t, rdb, w.Write, dlq.ReplayOptions{})
	if got, want := counts(rep), "replayed=0 failed=0 left=0"; got != want {
		t.Errorf("second replay: %s, want %s", got, want)
	}
}

func TestReplayKeepsABatchThatFailsAgain(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	party := newParty(t, db)
	orphan := uuid.New() // no such party: foreign key violation
	bad := batch(ev(orphan, event.Chat, "x"))
	bad.Error, bad.SQLState, bad.Attempts = "old error", "", 5
	push(t, rdb, batch(ev(party, event.Chat, "a")), bad, batch(ev(party, event.Chat, "b")))
	failedAt := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{Now: func() time.Time { return failedAt }})
	if got, want := counts(rep), "replayed=2 failed=1 left=1"; got != want {
		t.Errorf("replay: %s, want %s", got, want)
	}
	if r := rep.Results[1]; r.Err == nil || r.SQLState != "23503" || r.PartyID != orphan.String() || r.Index != 0 {
		t.Errorf("failed result = %+v", r)
	}
	list, err := dlq.List(context.Background(), rdb, 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want the failed batch", list, err)
	}
	got := list[0].Batch
	if got.Attempts != 6 || got.SQLState != "23503" || !strings.Contains(got.Error, "foreign key") ||
		!got.FailedAt.Equal(failedAt) || list[0].Claim != nil {
		t.Errorf("kept batch: attempts %d sqlstate %q error %q failed_at %v claim %v; want 6, 23503, a foreign key error, %v, no claim",
			got.Attempts, got.SQLState, got.Error, got.FailedAt, list[0].Claim, failedAt)
	}
	if diff := cmp.Diff(bad.Events, got.Events); diff != "" {
		t.Errorf("kept events changed (-want +got):\n%s", diff)
	}
	if n := count(t, db, "watch_party_chats"); n != 2 {
		t.Errorf("%d chats written, want the 2 good ones", n)
	}
}

// TestReplayStopsWhenTheDatabaseIsAtFault: an outage or a broken deployment
// is not the batch's fault, so the batch is left exactly as it was, not
// counted as an attempt, and the replay stops.
func TestReplayStopsWhenTheDatabaseIsAtFault(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"connection lost", fmt.Errorf("begin: %w", &pgconn.PgError{Code: "08006"})},
		{"deadline", fmt.Errorf("commit: %w", context.DeadlineExceeded)},
		{"missing table", fmt.Errorf("write watch_party_chats: %w", &pgconn.PgError{Code: "42P01"})},
		{"unknown", errors.New("something odd")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newRedis(t)
			p := uuid.New()
			push(t, rdb, batch(ev(p, event.Chat, "a")), batch(ev(p, event.Chat, "b")))
			before := raws(t, rdb)
			calls := 0
			rep, err := dlq.Replay(context.Background(), rdb, func(context.Context, []event.Event) error {
				calls++
				return tt.err
			}, dlq.ReplayOptions{})
			if !errors.Is(err, tt.err) {
				t.Errorf("Replay error = %v, want %v", err, tt.err)
			}
			if got, want := counts(rep), "replayed=0 failed=1 left=2"; got != want || calls != 1 {
				t.Errorf("replay: %s after %d writes, want %s after 1", got, calls, want)
			}
			if diff := cmp.Diff(before, raws(t, rdb)); diff != "" {
				t.Errorf("wp:dlq changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestReplayOnlyTheParty(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	a, b := newParty(t, db), newParty(t, db)
	push(t, rdb, batch(ev(a, event.Chat, "1")), batch(ev(b, event.Chat, "2")),
		batch(ev(a, event.Chat, "3")), batch(ev(b, event.Chat, "4")))
	before := raws(t, rdb)

	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{Party: strings.ToUpper(a.String())})
	if got, want := counts(rep), "replayed=2 failed=0 left=2"; got != want {
		t.Errorf("replay: %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{before[1], before[3]}, raws(t, rdb)); diff != "" {
		t.Errorf("other party's batches changed (-want +got):\n%s", diff)
	}
}

func TestReplayLimitTakesTheOldest(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	p := newParty(t, db)
	for i := range 5 {
		push(t, rdb, batch(ev(p, event.Chat, fmt.Sprint(i))))
	}
	before := raws(t, rdb)
	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{Limit: 2})
	if got, want := counts(rep), "replayed=2 failed=0 left=3"; got != want {
		t.Errorf("replay: %s, want %s", got, want)
	}
	if diff := cmp.Diff(before[2:], raws(t, rdb)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

func TestReplayDryRunChangesNothing(t *testing.T) {
	rdb := newRedis(t)
	p := uuid.New()
	push(t, rdb, batch(ev(p, event.Chat, "a")), batch(ev(p, event.Like, "b"), ev(p, event.Join, "b")))
	before := raws(t, rdb)
	rep := replay(t, rdb, func(context.Context, []event.Event) error {
		t.Error("a dry run wrote")
		return nil
	}, dlq.ReplayOptions{DryRun: true})
	if got, want := counts(rep), "replayed=0 failed=0 left=2"; got != want {
		t.Errorf("dry run: %s, want %s", got, want)
	}
	want := []dlq.Result{{Index: 0, PartyID: p.String(), Events: 1, DryRun: true},
		{Index: 1, PartyID: p.String(), Events: 2, DryRun: true}}
	if diff := cmp.Diff(want, rep.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, raws(t, rdb)); diff != "" {
		t.Errorf("wp:dlq changed (-before +after):\n%s", diff)
	}
}

// claim stamps a "replaying" claim into the element at index, as a replay
// that then died would have left it.
func claim(t *testing.T, rdb redis.UniversalClient, index int, until time.Time) string {
	t.Helper()
	ctx := context.Background()
	raw, err := rdb.LIndex(ctx, dlq.Key, int64(index)).Result()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	doc["replaying"] = map[string]any{"owner": "dead-replay", "until": event.FormatTime(until)}
	data, _ := json.Marshal(doc)
	if err := rdb.LSet(ctx, dlq.Key, int64(index), string(data)).Err(); err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestReplayLeavesLiveClaimsAndRecoversExpiredOnes(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	p := newParty(t, db)
	push(t, rdb, batch(ev(p, event.Chat, "a")), batch(ev(p, event.Chat, "b")), batch(ev(p, event.Chat, "c")))
	claim(t, rdb, 0, time.Now().Add(-time.Minute))      // its replay died long ago
	live := claim(t, rdb, 1, time.Now().Add(time.Hour)) // another replay is writing it

	list, err := dlq.List(context.Background(), rdb, 0)
	if err != nil || list[0].Claim == nil || list[0].Claim.Owner != "dead-replay" {
		t.Fatalf("List does not show the claim: %+v, %v", list, err)
	}
	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{})
	if got, want := counts(rep), "replayed=2 failed=0 left=1"; got != want {
		t.Errorf("replay: %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{live}, raws(t, rdb)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

func TestReplayReportsUndecodableElements(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	p := newParty(t, db)
	push(t, rdb, batch(ev(p, event.Chat, "a")))
	if err := rdb.RPush(context.Background(), dlq.Key, "not json").Err(); err != nil {
		t.Fatal(err)
	}
	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{})
	if got, want := counts(rep), "replayed=1 failed=1 left=1"; got != want {
		t.Errorf("replay: %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{"not json"}, raws(t, rdb)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

// TestConcurrentReplays: replays running at once over the same list write
// every batch exactly once between them and empty the list.
func TestConcurrentReplays(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	parties := []uuid.UUID{newParty(t, db), newParty(t, db), newParty(t, db)}
	const batches = 60
	for i := range batches {
		p := parties[i%len(parties)]
		push(t, rdb, batch(ev(p, event.Chat, fmt.Sprint(i)), ev(p, event.Join, fmt.Sprint(i))))
	}
	w := store.NewWriter(db)
	var mu sync.Mutex
	writes := map[uuid.UUID]int{} // by the batch's first event
	write := func(ctx context.Context, es []event.Event) error {
		mu.Lock()
		writes[es[0].ID]++
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		return w.Write(ctx, es)
	}
	const replays = 3
	reports := make([]dlq.Report, replays)
	var wg sync.WaitGroup
	for i := range replays {
		wg.Go(func() {
			rep, err := dlq.Replay(context.Background(), rdb, write, dlq.ReplayOptions{})
			if err != nil {
				t.Errorf("replay %d: %v", i, err)
			}
			reports[i] = rep
		})
	}
	wg.Wait()

	total := 0
	for i, rep := range reports {
		t.Logf("replay %d: %s", i, counts(rep))
		total += rep.Replayed
		if rep.Failed != 0 {
			t.Errorf("replay %d failed %d batches", i, rep.Failed)
		}
	}
	if total != batches || len(writes) != batches {
		t.Errorf("replayed %d batches, wrote %d distinct; want %d", total, len(writes), batches)
	}
	for id, n := range writes {
		if n != 1 {
			t.Errorf("batch starting with %s written %d times", id, n)
		}
	}
	if left := raws(t, rdb); len(left) != 0 {
		t.Errorf("%d batches left in wp:dlq", len(left))
	}
	if n := count(t, db, "watch_party_chats"); n != batches {
		t.Errorf("%d chats, want %d", n, batches)
	}
}

// TestReplayDecodesRawEntries: entries dead-lettered raw are decoded by the
// replay; one it cannot decode either fails its batch again, which stays,
// and the replay goes on to the next.
func TestReplayDecodesRawEntries(t *testing.T) {
	rdb, db := newRedis(t), newDB(t)
	p := newParty(t, db)
	chat := ev(p, event.Chat, "a")
	payload, err := event.Encode(chat)
	if err != nil {
		t.Fatal(err)
	}
	damaged := dlq.Batch{PartyID: p.String(), Stream: streamKey(p), Attempts: 5, FailedAt: at,
		Raw: []dlq.RawEntry{{StreamID: "1-1", Fields: map[string]string{"x": "no event here"}}}}
	good := dlq.Batch{PartyID: p.String(), Stream: streamKey(p), Attempts: 5, FailedAt: at,
		Raw: []dlq.RawEntry{{StreamID: chat.StreamID, Fields: map[string]string{"e": string(payload), "v": "2"}}}}
	push(t, rdb, damaged, good)
	rep := replay(t, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{})
	if got, want := counts(rep), "replayed=1 failed=1 left=1"; got != want {
		t.Errorf("replay: %s, want %s", got, want)
	}
	list, err := dlq.List(context.Background(), rdb, 0)
	if err != nil || len(list) != 1 || list[0].Batch.Attempts != 6 || !strings.Contains(list[0].Batch.Error, "no event field") {
		t.Fatalf("left: %+v, %v; want the damaged batch, 6 attempts", list, err)
	}
	if diff := cmp.Diff(damaged.Raw, list[0].Batch.Raw); diff != "" {
		t.Errorf("damaged entry changed (-want +got):\n%s", diff)
	}
	var body string
	if err := db.QueryRow(context.Background(), `SELECT body FROM watch_party_chats WHERE event_id = $1`, chat.ID).Scan(&body); err != nil || body != chat.Text {
		t.Errorf("raw chat row: %q, %v; want %q", body, err, chat.Text)
	}
}
