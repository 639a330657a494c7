package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

func record(t *testing.T, db *pgxpool.Pool, user string, party uuid.UUID, at time.Time) time.Time {
	t.Helper()
	got, err := store.RecordErasure(context.Background(), db, store.Erasure{UserID: user, Party: party, At: at}, store.LockWait{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// streamed is ev appended under a stream id in millisecond ms.
func streamed(e event.Event, ms time.Time) event.Event {
	e.StreamID = fmt.Sprintf("%d-0", ms.UnixMilli())
	return e
}

// TestErasureLeavesOutEarlierEventsOnly records erasures and writes a
// batch with events from before and after them: the writer stores none of
// an erased user's earlier events (in the erased party, or in any after
// an erasure everywhere), and everything else.
func TestErasureLeavesOutEarlierEventsOnly(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	p1, p2 := newParty(t, db), newParty(t, db)
	now := time.Now()
	before := now.Add(-time.Minute)
	record(t, db, "alice", uuid.Nil, now)
	at := record(t, db, "bob", p1, now)
	after := at.Add(time.Second)
	batch := []event.Event{
		ev(p1, event.Chat, "alice", before), ev(p2, event.Like, "alice", before), ev(p2, event.Seek, "alice", before),
		ev(p1, event.Chat, "bob", before), ev(p1, event.Like, "bob", before),
		ev(p2, event.Chat, "bob", before), // another party: kept
		ev(p1, event.Chat, "carol", before),
		ev(p1, event.Chat, "alice", after), // sent after the erasure: kept
		ev(p1, event.Viewers, "", before),
	}
	if err := store.NewWriter(db).Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got := column(t, db, `SELECT user_id || CASE WHEN party_id = $1 THEN '@p1' ELSE '' END FROM (
		SELECT user_id, party_id FROM watch_party_chats UNION ALL
		SELECT user_id, party_id FROM watch_party_likes UNION ALL
		SELECT user_id, party_id FROM watch_party_logs) r ORDER BY 1`, p1)
	if diff := cmp.Diff([]string{"alice@p1", "bob", "carol@p1"}, got); diff != "" {
		t.Fatalf("stored event users (-want +got):\n%s", diff)
	}
	if n := count(t, db, "watch_party_viewer_counts"); n != 1 {
		t.Fatalf("%d viewer counts stored, want 1", n)
	}
}

// TestErasureJudgesStreamedEventsByTheirStreamID: whether an erasure
// covers an event appended to a stream depends on the entry id's time,
// Redis's clock, not on the created_at its gateway stamped: an event of a
// gateway whose clock runs ahead, appended before the erasure, is left
// out; one of a gateway whose clock runs behind, appended after, is kept.
// An event without a stream id is judged by created_at.
func TestErasureJudgesStreamedEventsByTheirStreamID(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	p := newParty(t, db)
	at := record(t, db, "alice", uuid.Nil, event.Millis(time.Now()))
	chat := func(text string, created time.Time) event.Event {
		e := ev(p, event.Chat, "alice", created)
		e.Text = text
		return e
	}
	batch := []event.Event{
		streamed(chat("appended before, clock ahead", at.Add(time.Hour)), at),
		streamed(chat("appended after, clock behind", at.Add(-time.Hour)), at.Add(time.Millisecond)),
		chat("no stream id, created before", at.Add(-time.Second)),
		chat("no stream id, created after", at.Add(time.Second)),
	}
	if err := store.NewWriter(db).Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got := column(t, db, `SELECT body FROM watch_party_chats ORDER BY body`)
	if diff := cmp.Diff([]string{"appended after, clock behind", "no stream id, created after"}, got); diff != "" {
		t.Fatalf("stored chats of alice (-want +got):\n%s", diff)
	}
}

// TestErasedModeratorsActionsStayUnattributed: a moderation action of an
// erased user, stored before the erasure or flushed after it, stays as
// the party's record with no user, and the chat a delete hid stays hidden
// with no one named as its deleter; the person's other rows go, and so
// does their name as the host of their parties (in the erased party
// only, for an erasure in one party). Rows after the erasure's time stay
// theirs.
func TestErasedModeratorsActionsStayUnattributed(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	w := store.NewWriter(db)
	p1, p2 := newParty(t, db), newParty(t, db)
	if _, err := db.Exec(ctx, `UPDATE watch_parties SET host_user_id = 'mod'`); err != nil {
		t.Fatal(err)
	}
	at := event.Millis(time.Now())
	before, after := at.Add(-time.Minute), at.Add(time.Minute)
	del := func(party uuid.UUID, chat event.Event, created time.Time) event.Event {
		e := ev(party, event.Delete, "mod", created)
		e.TargetEvent = chat.ID
		return streamed(e, created)
	}
	stored, flushedLate, later := ev(p1, event.Chat, "bob", before), ev(p1, event.Chat, "carol", before), ev(p1, event.Chat, "dan", after)
	stored.Text, flushedLate.Text, later.Text = "stored", "flushed late", "later"
	ban := streamed(ev(p1, event.Ban, "mod", before), before)
	ban.Target = "eve"
	if err := w.Write(ctx, []event.Event{stored, flushedLate, later, del(p1, stored, before), ban,
		ev(p1, event.Chat, "mod", before), ev(p1, event.Join, "mod", before), ev(p2, event.Chat, "mod", before),
		del(p1, later, after)}); err != nil {
		t.Fatal(err)
	}
	e := store.Erasure{UserID: "mod", Party: p1, At: at}
	if _, err := store.RecordErasure(ctx, db, e, store.LockWait{}); err != nil {
		t.Fatal(err)
	}
	r, err := store.EraseRows(ctx, db, e, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A delete read before the erasure, flushed after it.
	if err := w.Write(ctx, []event.Event{del(p1, flushedLate, before.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	want := store.RowsErased{Deleted: map[string]int64{"watch_party_chats": 1, "watch_party_likes": 0, "watch_party_logs": 1},
		Actions: 2, Deletes: 1, Parties: 1}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("EraseRows (-want +got):\n%s", diff)
	}
	chats := column(t, db, `SELECT concat_ws(' ', body, '<' || deleted_by || '>') FROM watch_party_chats
		WHERE party_id = $1 ORDER BY body`, p1)
	if diff := cmp.Diff([]string{"flushed late <>", "later <mod>", "stored <>"}, chats); diff != "" {
		t.Errorf("chats of the erased party and their deleters (-want +got):\n%s", diff)
	}
	logs := column(t, db, `SELECT concat_ws(' ', '<' || user_id || '>', action, target_user_id) FROM watch_party_logs
		WHERE party_id = $1 ORDER BY created_at, action`, p1)
	if diff := cmp.Diff([]string{"<> ban eve", "<> delete", "<> delete", "<mod> delete"}, logs); diff != "" {
		t.Errorf("log rows of the erased party (-want +got):\n%s", diff)
	}
	hosts := column(t, db, `SELECT '<' || host_user_id || '>' FROM watch_parties ORDER BY id = $1`, p1)
	if diff := cmp.Diff([]string{"<mod>", "<>"}, hosts); diff != "" {
		t.Errorf("hosts of the other party and the erased one (-want +got):\n%s", diff)
	}
	if n := column(t, db, `SELECT body FROM watch_party_chats WHERE party_id = $1 AND user_id = 'mod'`, p2); len(n) != 1 {
		t.Errorf("chats of mod in the other party: %q, want the one kept", n)
	}
}

// TestEraseRowsInBatches deletes a user's rows a few at a time, in one
// party or in all, and leaves everyone else's.
func TestEraseRowsInBatches(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	p1, p2 := newParty(t, db), newParty(t, db)
	now := time.Now()
	var batch []event.Event
	for range 7 {
		batch = append(batch, ev(p1, event.Chat, "alice", now), ev(p2, event.Chat, "alice", now), ev(p1, event.Chat, "bob", now))
	}
	if err := store.NewWriter(db).Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	erase := func(party uuid.UUID) int64 {
		t.Helper()
		r, err := store.EraseRows(ctx, db, store.Erasure{UserID: "alice", Party: party, At: now.Add(time.Second)}, 3)
		if err != nil {
			t.Fatal(err)
		}
		return r.Deleted["watch_party_chats"]
	}
	if n := erase(p1); n != 7 {
		t.Fatalf("erase alice in p1: %d chats deleted, want 7", n)
	}
	if n := erase(uuid.Nil); n != 7 {
		t.Fatalf("erase alice everywhere: %d chats deleted, want the 7 of p2", n)
	}
	if n := erase(uuid.Nil); n != 0 {
		t.Fatalf("second erasure: %d chats deleted, want 0", n)
	}
	if n := count(t, db, "watch_party_chats"); n != 7 {
		t.Fatalf("%d chats left, want bob's 7", n)
	}
}

// TestRecordErasureDoesNotStallWrites: a transaction that holds the
// erasure table (a write or dead-lettering that stalls) keeps an erasure
// from being recorded; other writes, which queue behind the erasure's
// lock request, go on meanwhile, because each attempt waits for the lock
// only so long. The erasure is recorded once the table is free, and gives
// up with ErrErasureLocked after its last attempt.
func TestRecordErasureDoesNotStallWrites(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	party := newParty(t, db)
	stall, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Rollback(ctx) //nolint:errcheck // released below
	if _, err := stall.Exec(ctx, `SELECT count(*) FROM watch_party_erasures`); err != nil {
		t.Fatal(err)
	}

	e := store.Erasure{UserID: "alice", Party: uuid.Nil, At: time.Now()}
	recorded := make(chan error, 1)
	go func() {
		_, err := store.RecordErasure(ctx, db, e, store.LockWait{Timeout: 500 * time.Millisecond, Attempts: 1000, Backoff: time.Millisecond})
		recorded <- err
	}()
	// The erasure's lock request is queued: a write that starts now waits
	// behind it.
	testenv.Eventually(t, 10*time.Second, "the erasure's lock request queued", func() bool {
		var n int
		err := db.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted
			AND relation = 'watch_party_erasures'::regclass AND mode = 'AccessExclusiveLock'`).Scan(&n)
		return err == nil && n > 0
	})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := store.NewWriter(db).Write(wctx, []event.Event{ev(party, event.Chat, "bob", time.Now())}); err != nil {
		t.Fatalf("a write while an erasure waits for the table: %v", err)
	}
	select {
	case err := <-recorded:
		t.Fatalf("erasure recorded while a transaction held the table: %v", err)
	default:
	}
	if err := stall.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-recorded:
		if err != nil {
			t.Fatalf("erasure once the table is free: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("erasure not recorded 30 s after the table was freed")
	}

	stall, err = db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Rollback(ctx) //nolint:errcheck // only read
	if _, err := stall.Exec(ctx, `SELECT count(*) FROM watch_party_erasures`); err != nil {
		t.Fatal(err)
	}
	_, err = store.RecordErasure(ctx, db, e, store.LockWait{Timeout: 20 * time.Millisecond, Attempts: 3, Backoff: time.Millisecond})
	if !errors.Is(err, store.ErrErasureLocked) {
		t.Fatalf("erasure while the table stays held: %v, want ErrErasureLocked", err)
	}
}
