package flusher

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// addAt appends events to party's stream with entry ids at the given
// times, registering the stream as a gateway's write does.
func addAt(t *testing.T, rdb redis.UniversalClient, party uuid.UUID, at ...time.Time) {
	t.Helper()
	ctx := context.Background()
	for i, ts := range at {
		e := chats(party, 1)[0]
		data, err := event.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		id := strconv.FormatInt(ts.UnixMilli(), 10) + "-" + strconv.Itoa(i)
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream.KeysFor(party).Stream, ID: id,
			Values: map[string]any{"e": string(data)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.SAdd(ctx, stream.RegistryKey, party.String()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestBacklogGauges checks the flusher's backlog gauges against streams in
// each state a group can leave them: never read, read but not acknowledged
// with more behind, fully flushed, and gone; then that a flush brings
// buffered events and flush lag back to 0 while the dead-letter length stays.
func TestBacklogGauges(t *testing.T) {
	ctx := context.Background()
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	f, _ := newFlusher(t, testConfig(), rdb, db)
	now := time.Now()
	f.metrics.now = func() time.Time { return now }

	unread, pendingParty, flushed, gone := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	for _, p := range []uuid.UUID{unread, pendingParty, flushed, gone} {
		insertParty(t, db, p)
	}
	addAt(t, rdb, unread, now.Add(-60*time.Second), now.Add(-59*time.Second))
	// pendingParty: its oldest entry was delivered to a flusher that never
	// acknowledged it; two more arrived since.
	addAt(t, rdb, pendingParty, now.Add(-120*time.Second), now.Add(-30*time.Second), now.Add(-20*time.Second))
	c := stream.NewConsumer(rdb, "dead-flusher")
	if err := c.EnsureGroup(ctx, pendingParty); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadNew(ctx, pendingParty, 1); err != nil || len(got) != 1 {
		t.Fatalf("read one entry: %v, %d", err, len(got))
	}
	addAt(t, rdb, flushed, now.Add(-300*time.Second))
	if _, err := f.FlushParty(ctx, flushed); err != nil {
		t.Fatal(err)
	}
	if err := rdb.SAdd(ctx, stream.RegistryKey, gone.String()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.RPush(ctx, dlq.Key, `{"party_id":"x"}`).Err(); err != nil {
		t.Fatal(err)
	}

	if err := f.refreshGauges(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.metrics
	if got := testutil.ToFloat64(m.Buffered); got != 5 {
		t.Errorf("buffered = %v, want 5 (2 unread + 1 pending + 2 undelivered)", got)
	}
	if got := testutil.ToFloat64(m.ActiveInstances); got != 3 {
		t.Errorf("active instances = %v, want 3 (the party without a stream is not)", got)
	}
	if got := flushLag(t, m); got != 120 {
		t.Errorf("flush lag = %vs, want 120 (the pending entry)", got)
	}
	if got := testutil.ToFloat64(m.DLQLength); got != 1 {
		t.Errorf("dlq length = %v, want 1", got)
	}
	now = now.Add(10 * time.Second)
	if got := flushLag(t, m); got != 130 {
		t.Errorf("flush lag 10s later = %vs, want 130: it must grow between refreshes", got)
	}

	// The dead flusher's entry is claimed (idle long enough) and everything
	// is written: nothing waits any more.
	cfg := testConfig()
	cfg.ClaimMinIdle = time.Millisecond
	f.cfg = cfg
	if _, err := f.FlushOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Buffered); got != 0 {
		t.Errorf("buffered after the flush = %v, want 0", got)
	}
	if got := flushLag(t, m); got != 0 {
		t.Errorf("flush lag after the flush = %vs, want 0", got)
	}
	if got := testutil.ToFloat64(m.Claimed); got != 1 {
		t.Errorf("claimed entries = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.DLQLength); got != 1 {
		t.Errorf("dlq length after the flush = %v, want 1", got)
	}
}

// flushLag reads the flush lag gauge as a scrape would.
func flushLag(t *testing.T, m *Metrics) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "watch_party_flush_lag_seconds" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("watch_party_flush_lag_seconds is not exported")
	return 0
}
