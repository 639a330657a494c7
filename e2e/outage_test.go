package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/stream"
	"github.com/watchparty/watchparty/pkg/testenv"
)

// TestNothingAckedThatIsNotCommitted stops PostgreSQL under a running
// flusher: viewers keep chatting, the entries stay pending in Redis, and
// they are written once PostgreSQL is back.
func TestNothingAckedThatIsNotCommitted(t *testing.T) {
	pg := testenv.StartPostgres(t)
	s := newSystem(t, ownRedisDB(t, testenv.SharedRedisURL(t)), pg.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")
	addr, _ := s.gateway()
	_, fl := s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms")

	c := dial(t, addr, party, "alice")
	c.nextOf("welcome", 5*time.Second)
	acked := map[string]string{} // event id -> text
	chat := func(n int) {
		t.Helper()
		text := fmt.Sprintf("message %d", n)
		c.send(map[string]any{"type": "chat", "id": fmt.Sprint(n), "text": text})
		ack := c.nextOf("ack", 5*time.Second)
		acked[ack.EventID] = text
	}
	for n := range 20 {
		chat(n)
	}
	eventually(t, 10*time.Second, "the first 20 chats in PostgreSQL", func() bool {
		return s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party) == 20
	})

	pg.Stop()
	failuresBefore := len(fl.Lines("flush failed"))
	for n := 20; n < 50; n++ {
		chat(n) // the event path needs only Redis
	}
	eventually(t, 10*time.Second, "three failed flush cycles", func() bool {
		return len(fl.Lines("flush failed")) >= failuresBefore+3
	})
	backlog, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(party))
	if err != nil {
		t.Fatal(err)
	}
	if backlog != 30 {
		t.Fatalf("%d entries unacknowledged during the outage, want the 30 sent after it began", backlog)
	}
	pending, err := s.rdb.XPending(context.Background(), streamKey(party), stream.Group).Result()
	if err != nil || pending.Count == 0 {
		t.Fatalf("no pending entries during the outage (%v): the flusher never tried them", err)
	}

	pg.Start(t)
	eventually(t, 20*time.Second, "all 50 chats in PostgreSQL", func() bool {
		n, err := s.tryCount(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party)
		return err == nil && n == 50
	})
	got := map[string]string{}
	for _, r := range s.rows(`SELECT event_id, body FROM watch_party_chats WHERE party_id = $1`, party) {
		got[r[0]] = r[1]
	}
	if diff := cmp.Diff(acked, got); diff != "" {
		t.Fatalf("chats after the outage (-acked +stored):\n%s", diff)
	}
	eventually(t, 10*time.Second, "nothing left unacknowledged", func() bool {
		n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(party))
		return err == nil && n == 0
	})
}
