package flusher

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestDeadLetteringLeavesOutErasedEvents: a flusher read alice's and
// bob's events of a party that cannot be written (its row is missing) and
// failed once; then alice was erased; on the next failure the flusher
// dead-letters bob's events, decoded or not, and drops and acknowledges
// alice's, as the writer would: none of them is back in wp:dlq after the
// erasure, but for her moderation action, kept with no user.
func TestDeadLetteringLeavesOutErasedEvents(t *testing.T) {
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	ctx := context.Background()
	cfg := testConfig() // dead-lettered on the 2nd failure
	f, _ := newFlusher(t, cfg, rdb, db)
	f.consumer = f.consumer.(*stream.Consumer).WithDecoder(olderDecoder) // likes are undecodable here
	party := uuid.New()
	evs := chats(party, 4)
	for i, user := range []string{"alice", "bob", "alice", "bob"} {
		evs[i].UserID = user
		if i >= 2 {
			evs[i].Type, evs[i].Text = event.Like, ""
		}
	}
	ban := event.Event{Type: event.Ban, ID: uuid.New(), PartyID: party, UserID: "alice", CreatedAt: evs[0].CreatedAt, Target: "eve"}
	ids := appendEvents(t, rdb, party, append(evs, ban))

	if _, err := f.FlushOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dlqLen(t, rdb); n != 0 {
		t.Fatalf("wp:dlq holds %d elements after the first failure, want none", n)
	}
	last, err := event.ParsePosition(ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	e := store.Erasure{UserID: "alice", At: time.UnixMilli(last.MS)}
	if _, err := store.RecordErasure(ctx, db, e, store.LockWait{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.FlushOnce(ctx); err != nil {
		t.Fatal(err)
	}

	list, err := dlq.List(ctx, rdb, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range list {
		for _, e := range it.Batch.Events {
			got = append(got, "<"+e.UserID+"> "+string(e.Type)+" "+e.StreamID)
		}
		for _, r := range it.Batch.Raw {
			got = append(got, "<"+r.UserIDs()[0]+"> raw "+r.StreamID)
		}
	}
	want := []string{"<bob> chat " + ids[1], "<bob> raw " + ids[3], "<> ban " + ids[4]}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Fatalf("dead-lettered events (-want +got):\n%s", diff)
	}
	if p := pending(t, rdb, party); p != 0 {
		t.Fatalf("%d entries pending, want alice's acknowledged with bob's", p)
	}
}

// blockingDLQ is wp:dlq whose pushes wait until release is closed.
type blockingDLQ struct {
	rdb     redis.UniversalClient
	pushing chan struct{} // closed when the first push starts
	release chan struct{}
	pushed  chan struct{} // closed when the first push is done
}

func (d *blockingDLQ) Push(ctx context.Context, b dlq.Batch) error {
	close(d.pushing)
	<-d.release
	defer close(d.pushed)
	return dlq.Push(ctx, d.rdb, b)
}

// TestErasureWaitsForDeadLettering: an erasure recorded while a flusher,
// having read no erasure, is dead-lettering events waits until that push
// is done, so the erasure's pass over wp:dlq, which comes after, finds
// them.
func TestErasureWaitsForDeadLettering(t *testing.T) {
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	ctx := context.Background()
	cfg := testConfig()
	f, _ := newFlusher(t, cfg, rdb, db)
	d := &blockingDLQ{rdb: rdb, pushing: make(chan struct{}), release: make(chan struct{}), pushed: make(chan struct{})}
	f.dlq = d
	released := false
	t.Cleanup(func() {
		if !released {
			close(d.release) // the flush blocked in Push ends
		}
	})
	party := uuid.New() // no row: every write fails
	evs := chats(party, 2)
	evs[0].UserID = "alice"
	appendEvents(t, rdb, party, evs)
	if _, err := f.FlushOnce(ctx); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() {
		_, err := f.FlushOnce(ctx)
		flushed <- err
	}()
	<-d.pushing

	recorded := make(chan error, 1)
	go func() {
		e := store.Erasure{UserID: "alice", At: time.Now().Add(time.Hour)}
		_, err := store.RecordErasure(ctx, db, e, store.LockWait{Timeout: time.Minute})
		recorded <- err
	}()
	testenv.Eventually(t, 10*time.Second, "the erasure waiting for the dead-lettering", func() bool {
		select {
		case err := <-recorded:
			t.Fatalf("erasure recorded during a dead-lettering that read no erasure: %v", err)
		default:
		}
		var n int
		err := db.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted
			AND relation = 'watch_party_erasures'::regclass AND mode = 'AccessExclusiveLock'`).Scan(&n)
		return err == nil && n > 0
	})
	close(d.release)
	released = true
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.pushed:
	default:
		t.Fatal("erasure recorded before the dead-lettered batch was in wp:dlq")
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if n := dlqLen(t, rdb); n != 1 {
		t.Fatalf("wp:dlq holds %d elements, want the batch pushed before the erasure", n)
	}
}
