package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/store/storetest"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestRetentionDeletesOnlyExpiredRows keeps logs a day and chats forever:
// a prune deletes the logs older than a day, counts them, and leaves newer
// logs and every chat.
func TestRetentionDeletesOnlyExpiredRows(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewPool(t, store.Migrate)
	party := storetest.NewParty(t, db)
	now := time.Now()
	var batch []event.Event
	for i, age := range []time.Duration{48 * time.Hour, 25 * time.Hour, 23 * time.Hour, time.Minute} {
		pos := int64(i)
		batch = append(batch,
			event.Event{Type: event.Seek, ID: uuid.New(), PartyID: party, UserID: "host", CreatedAt: event.Millis(now.Add(-age)), PositionMS: &pos},
			event.Event{Type: event.Chat, ID: uuid.New(), PartyID: party, UserID: "bob", CreatedAt: event.Millis(now.Add(-age)), Text: "hi"})
	}
	if err := store.NewWriter(db).Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	deleted := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deleted"}, []string{"table"})
	r := NewRetention(db, map[string]time.Duration{"watch_party_logs": 24 * time.Hour, "watch_party_chats": 0},
		deleted, testenv.Logger())
	r.Prune(ctx, now)
	count := func(table string) int {
		var n int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if logs, chats := count("watch_party_logs"), count("watch_party_chats"); logs != 2 || chats != 4 {
		t.Fatalf("after the prune: %d logs, %d chats; want the 2 logs younger than a day and all 4 chats", logs, chats)
	}
	if n := testutil.ToFloat64(deleted.WithLabelValues("watch_party_logs")); n != 2 {
		t.Fatalf("counted %v deleted logs, want 2", n)
	}
	r.Prune(ctx, now)
	if logs := count("watch_party_logs"); logs != 2 {
		t.Fatalf("a second prune left %d logs, want 2", logs)
	}
}
