package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/store"
)

// TestErasureLeavesOutEarlierEventsOnly records erasures and writes a
// batch with events from before and after them: the writer stores none of
// an erased user's earlier events (in the erased party, or in any after
// an erasure everywhere), and everything else.
func TestErasureLeavesOutEarlierEventsOnly(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	p1, p2 := newParty(t, db), newParty(t, db)
	before := time.Now().Add(-time.Minute)
	if _, err := store.RecordErasure(ctx, db, "alice", uuid.Nil); err != nil {
		t.Fatal(err)
	}
	at, err := store.RecordErasure(ctx, db, "bob", p1)
	if err != nil {
		t.Fatal(err)
	}
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
	var got []string
	rows, err := db.Query(ctx, `SELECT user_id, party_id = $1 FROM watch_party_chats UNION ALL
		SELECT user_id, party_id = $1 FROM watch_party_likes UNION ALL
		SELECT user_id, party_id = $1 FROM watch_party_logs ORDER BY 1, 2`, p1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var user string
		var inP1 bool
		if err := rows.Scan(&user, &inP1); err != nil {
			t.Fatal(err)
		}
		if inP1 {
			user += "@p1"
		}
		got = append(got, user)
	}
	want := []string{"alice@p1", "bob", "carol@p1"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("stored event users %v, want %v", got, want)
	}
	if n := count(t, db, "watch_party_viewer_counts"); n != 1 {
		t.Fatalf("%d viewer counts stored, want 1", n)
	}
}

// TestDeleteUserRowsInBatches deletes a user's rows a few at a time, in
// one party or in all, and leaves everyone else's.
func TestDeleteUserRowsInBatches(t *testing.T) {
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
	n, err := store.DeleteUserRows(ctx, db, "watch_party_chats", "alice", p1, 3)
	if err != nil || n != 7 {
		t.Fatalf("delete alice in p1: %d, %v; want 7", n, err)
	}
	n, err = store.DeleteUserRows(ctx, db, "watch_party_chats", "alice", uuid.Nil, 3)
	if err != nil || n != 7 {
		t.Fatalf("delete alice everywhere: %d, %v; want the 7 of p2", n, err)
	}
	if n, err = store.DeleteUserRows(ctx, db, "watch_party_chats", "alice", uuid.Nil, 3); err != nil || n != 0 {
		t.Fatalf("second delete: %d, %v; want 0", n, err)
	}
	if n := count(t, db, "watch_party_chats"); n != 7 {
		t.Fatalf("%d chats left, want bob's 7", n)
	}
}
