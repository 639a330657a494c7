package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestBackpressureRefusesAndRecovers lets one party's unflushed backlog
// reach WATCH_PARTY_MAX_BUFFERED_EVENTS while PostgreSQL is down: chats
// over the limit are answered "unavailable" and not stored; once PostgreSQL
// is back and the backlog flushed, the party takes chats again, and the
// tables hold exactly the acknowledged chats.
func TestBackpressureRefusesAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("stops PostgreSQL; skipped with -short")
	}
	const limit = 50
	pg := testenv.StartPostgres(t)
	s := newSystem(t, ownRedisDB(t, testenv.SharedRedisURL(t)), pg.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")
	partyID := uuid.MustParse(party)
	gw, _ := s.gateway(fmt.Sprintf("WATCH_PARTY_MAX_BUFFERED_EVENTS=%d", limit))
	ctx := context.Background()
	backlog := func() int64 {
		t.Helper()
		n, err := stream.NewConsumer(s.rdb, "probe").Backlog(ctx, partyID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The viewer's join is buffered too; no flusher runs yet, so it stays so.
	c := dial(t, gw, party, "ann")
	c.nextOf("welcome", 5*time.Second)
	eventually(t, 5*time.Second, "the join in the stream", func() bool { return backlog() == 1 })
	pg.Stop()
	flAddr, _ := s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms", "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL=1h")
	buffered := backlog()

	// Chat until refused, then a few more: all refused.
	acked := map[string]string{} // event id -> text
	var refused []string         // client ids
	n := 0
	chat := func() (id, text string, f frame) {
		t.Helper()
		n++
		id, text = fmt.Sprintf("m%d", n), fmt.Sprintf("message %d", n)
		c.send(map[string]any{"type": "chat", "id": id, "text": text})
		for {
			f = c.next(5 * time.Second)
			if (f.Type == "ack" || f.Type == "error") && f.ID == id {
				return id, text, f
			}
		}
	}
	for len(refused) < 10 {
		id, text, f := chat()
		switch {
		case f.Type == "ack" && len(refused) == 0:
			acked[f.EventID] = text
		case f.Type == "error" && f.Code == "unavailable":
			refused = append(refused, id)
		default:
			t.Fatalf("chat %s answered %s after %d acks and %d refusals", id, f.Raw, len(acked), len(refused))
		}
		if n > 2*limit {
			t.Fatalf("%d chats sent during the outage and none refused", n)
		}
	}
	if want := limit - int(buffered); len(acked) != want {
		t.Fatalf("%d chats acked during the outage with %d events already buffered, want %d", len(acked), buffered, want)
	}
	if got := countEntries(t, s, party, event.Chat); got != len(acked) {
		t.Fatalf("the stream holds %d chats, want the %d acked: refused chats were stored", got, len(acked))
	}
	if v := scrapeMetric(t, gw, "watch_party_events_total", map[string]string{"type": "chat", "result": "unavailable"}); v != float64(len(refused)) {
		t.Fatalf(`watch_party_events_total{type="chat",result="unavailable"} %v, want %d`, v, len(refused))
	}
	eventually(t, 10*time.Second, "watch_party_buffered_events_count at the limit", func() bool {
		return scrapeMetric(t, flAddr, "watch_party_buffered_events_count", nil) == limit
	})

	pg.Start(t)
	// The test's own pool still holds connections the stop ended; drop
	// them rather than meet one in a query.
	s.db.Reset()
	eventually(t, 30*time.Second, "the backlog flushed", func() bool { return backlog() == 0 })
	for range 10 {
		id, text, f := chat()
		if f.Type != "ack" {
			t.Fatalf("chat %s after the backlog was flushed: %s", id, f.Raw)
		}
		acked[f.EventID] = text
	}
	eventually(t, 30*time.Second, "every acked chat flushed", func() bool { return backlog() == 0 })
	stored := storedChats(t, s, party)
	for _, id := range refused {
		if eid := event.NewID(partyID, "ann", id).String(); stored[eid] != "" {
			t.Errorf("chat %s (event %s) was refused but stored", id, eid)
		}
	}
	if diff := cmp.Diff(acked, stored); diff != "" {
		t.Fatalf("chats stored (-acked +stored):\n%s", diff)
	}
	if n := s.count(`SELECT count(*) FROM watch_party_logs WHERE party_id = $1 AND action = 'join'`, party); n != 1 {
		t.Fatalf("%d join rows, want 1", n)
	}
}
