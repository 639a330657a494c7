package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
)

// TestChatsBeforeInStreamOrder: chats come back by the stream id the writer
// stored, not by created_at or event id, newest first, below the cursor.
func TestChatsBeforeInStreamOrder(t *testing.T) {
	db := newDB(t)
	party, other := newParty(t, db), newParty(t, db)
	at := time.Now()
	ids := []string{"1000-0", "1000-1", "1000-10", "1001-0", "1002-5"} // "1000-10" sorts after "1000-1" as numbers
	var events []event.Event
	for i, id := range ids {
		e := ev(party, event.Chat, fmt.Sprint("u", i), at.Add(-time.Duration(i)*time.Second)) // created_at runs backwards
		e.StreamID = id
		events = append(events, e)
	}
	noise := ev(other, event.Chat, "x", at)
	noise.StreamID = "1001-1"
	if err := store.NewWriter(db).Write(context.Background(), append(events, noise)); err != nil {
		t.Fatal(err)
	}
	chats := store.NewChats(db)
	tests := []struct {
		name   string
		before event.Position
		n      int
		want   []string
	}{
		{"newest", event.MaxPosition, 3, []string{"1002-5", "1001-0", "1000-10"}},
		{"below a cursor", event.Position{MS: 1001, Seq: 0}, 10, []string{"1000-10", "1000-1", "1000-0"}},
		{"cursor between two ids", event.Position{MS: 1000, Seq: 5}, 10, []string{"1000-1", "1000-0"}},
		{"nothing older", event.Position{MS: 1000, Seq: 0}, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chats.Before(context.Background(), party, tt.before, tt.n, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.StreamID)
				if e.Type != event.Chat || e.PartyID != party || e.Text == "" {
					t.Errorf("bad chat %+v", e)
				}
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("stream ids (-want +got):\n%s", diff)
			}
		})
	}
}
