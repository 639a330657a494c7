package flusher

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestPartyWithoutRowIsDeadLetteredAsOneBatch: every event of a party whose
// watch_parties row is missing fails (a foreign key violation). The flusher
// sees that once per batch instead of bisecting it into a transaction per
// event, counts the attempts as usual, then dead-letters the batch as one
// wp:dlq element that a replay writes once the party exists again. A good
// party flushed in the same cycles is written.
func TestPartyWithoutRowIsDeadLetteredAsOneBatch(t *testing.T) {
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	ctx := context.Background()
	cfg := testConfig() // a batch of 1000, dead-lettered on the 2nd failure
	f, w := newFlusher(t, cfg, rdb, db)
	orphan, good := uuid.New(), uuid.New()
	insertParty(t, db, good)
	lost := chats(orphan, 1000)
	appendEvents(t, rdb, orphan, lost)
	appendEvents(t, rdb, good, chats(good, 10))

	for attempt := 1; attempt <= cfg.MaxDeliveries; attempt++ {
		before := w.writes.Load()
		if _, err := f.FlushOnce(ctx); err != nil {
			t.Fatalf("flush %d: %v", attempt, err)
		}
		// One write for each party; bisecting the orphan's batch took
		// about 2,000.
		if n := w.writes.Load() - before; n > 2 {
			t.Fatalf("flush %d started %d write transactions for 2 batches", attempt, n)
		}
		if n, want := dlqLen(t, rdb), map[bool]int{false: 0, true: 1}[attempt == cfg.MaxDeliveries]; n != want {
			t.Fatalf("wp:dlq holds %d elements after attempt %d, want %d", n, attempt, want)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, good); n != 10 {
		t.Fatalf("%d chats of the good party, want 10", n)
	}
	if p := pending(t, rdb, orphan); p != 0 {
		t.Fatalf("%d entries of the orphan party still pending", p)
	}
	if n := rdb.Exists(ctx, stream.KeysFor(orphan).Failures).Val(); n != 0 {
		t.Fatalf("failure counts left behind")
	}
	list, err := dlq.List(ctx, rdb, 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d elements, %v", len(list), err)
	}
	b := list[0].Batch
	if b.PartyID != orphan.String() || len(b.Events) != len(lost) || b.SQLState != "23503" || b.Attempts != cfg.MaxDeliveries {
		t.Fatalf("dlq batch: party %s, %d events, sqlstate %q, %d attempts; want %s, %d, 23503, %d",
			b.PartyID, len(b.Events), b.SQLState, b.Attempts, orphan, len(lost), cfg.MaxDeliveries)
	}

	insertParty(t, db, orphan)
	rep, err := dlq.Replay(ctx, rdb, store.NewWriter(db).Write, dlq.ReplayOptions{})
	if err != nil || rep.Replayed != 1 || rep.Left != 0 {
		t.Fatalf("replay: %+v, %v; want 1 batch replayed, none left", rep, err)
	}
	if n := count(t, db, `SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, orphan); n != len(lost) {
		t.Fatalf("%d chats of the restored party after the replay, want %d", n, len(lost))
	}
}

func dlqLen(t *testing.T, rdb redis.UniversalClient) int {
	t.Helper()
	n, err := dlq.Len(context.Background(), rdb)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
