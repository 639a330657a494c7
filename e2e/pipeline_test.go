package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// viewerRun is what one viewer sent and saw.
type viewerRun struct {
	c          *client
	sent       map[string]map[string]any // client id -> frame sent
	acks       map[string]frame          // client id -> ack
	broadcasts []frame
}

// collect reads c's frames until it has `want` broadcasts and an ack for
// every id in sent, or the deadline passes.
func (r *viewerRun) collect(want int, deadline time.Time) error {
	for len(r.broadcasts) < want || len(r.acks) < len(r.sent) {
		select {
		case f, ok := <-r.c.frames:
			if !ok {
				return fmt.Errorf("%s closed: %v", r.c.user, r.c.err())
			}
			switch f.Type {
			case "ack":
				r.acks[f.ID] = f
			case "chat", "like", "play", "pause", "seek":
				r.broadcasts = append(r.broadcasts, f)
			case "error":
				return fmt.Errorf("%s got error frame %s", r.c.user, f.Raw)
			}
		case <-time.After(time.Until(deadline)):
			return fmt.Errorf("%s: %d/%d broadcasts, %d/%d acks at deadline",
				r.c.user, len(r.broadcasts), want, len(r.acks), len(r.sent))
		}
	}
	return nil
}

func TestTwoGatewaysFanOutAndFlush(t *testing.T) {
	s := sharedSystem(t)
	party := s.party("ONGOING", "host")
	gws := []string{}
	for range 2 {
		addr, _ := s.gateway()
		gws = append(gws, addr)
	}

	const viewers = 50
	var runs []*viewerRun
	connect := func(user string, gw string) *viewerRun {
		c := dial(t, gw, party, user)
		if w := c.next(10 * time.Second); w.Type != "welcome" {
			t.Fatalf("%s: first frame %s, want welcome", user, w.Raw)
		}
		return &viewerRun{c: c, sent: map[string]map[string]any{}, acks: map[string]frame{}}
	}
	host := connect("host", gws[0])
	runs = append(runs, host)
	for i := range viewers {
		runs = append(runs, connect(fmt.Sprintf("viewer-%02d", i), gws[i%2]))
	}

	// Every viewer chats three times and likes once; the host seeks twice.
	for _, r := range runs[1:] {
		for j := 1; j <= 3; j++ {
			r.sent[fmt.Sprintf("c%d", j)] = map[string]any{"type": "chat", "id": fmt.Sprintf("c%d", j),
				"text": fmt.Sprintf("hello %d from %s", j, r.c.user)}
		}
		r.sent["l1"] = map[string]any{"type": "like", "id": "l1"}
	}
	host.sent["s1"] = map[string]any{"type": "seek", "id": "s1", "position_ms": 30000}
	host.sent["s2"] = map[string]any{"type": "seek", "id": "s2", "position_ms": 60000}
	host.sent["h1"] = map[string]any{"type": "chat", "id": "h1", "text": "welcome, everyone"}
	want := 0
	for _, r := range runs {
		want += len(r.sent)
	}

	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() {
			for _, id := range slices.Sorted(maps.Keys(r.sent)) {
				r.c.send(r.sent[id])
			}
		})
	}
	wg.Wait()
	errs := make(chan error, len(runs))
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range runs {
		wg.Go(func() { errs <- r.collect(want, deadline) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Every viewer saw every accepted event, in the same order, which is
	// stream order; every event was acked with the id it was broadcast under.
	order := streamIDs(runs[0].broadcasts)
	if !slices.IsSortedFunc(order, func(a, b string) int { return cmpStreamID(a, b) }) {
		t.Fatalf("broadcasts not in stream order: %v", order)
	}
	for _, r := range runs[1:] {
		if diff := cmp.Diff(order, streamIDs(r.broadcasts)); diff != "" {
			t.Fatalf("%s saw another order (-first +this):\n%s", r.c.user, diff)
		}
	}
	byEvent := map[string]frame{}
	for _, f := range runs[0].broadcasts {
		byEvent[f.EventID] = f
	}
	for _, r := range runs {
		for id, ack := range r.acks {
			b, ok := byEvent[ack.EventID]
			if !ok || b.StreamID != ack.StreamID || b.UserID != r.c.user {
				t.Fatalf("%s: ack %s for %s does not match a broadcast of its own (%+v)", r.c.user, ack.Raw, id, b)
			}
		}
	}
	if len(byEvent) != want {
		t.Fatalf("%d distinct events broadcast, want %d", len(byEvent), want)
	}

	for _, r := range runs {
		_ = r.c.conn.Close()
	}
	// Leaves are appended when the gateways notice the closes.
	eventually(t, 15*time.Second, "every leave recorded", func() bool {
		return countEntries(t, s, party, event.Leave) == len(runs)
	})
	s.flushOnce()

	wantChats, wantLikes, wantSeeks := expectedRows(runs[0].broadcasts)
	checkTables := func() {
		t.Helper()
		got := s.rows(`SELECT event_id, user_id, body, created_at FROM watch_party_chats WHERE party_id = $1 ORDER BY event_id`, party)
		if diff := cmp.Diff(wantChats, got); diff != "" {
			t.Fatalf("watch_party_chats (-want +got):\n%s", diff)
		}
		got = s.rows(`SELECT event_id, user_id, created_at FROM watch_party_likes WHERE party_id = $1 ORDER BY event_id`, party)
		if diff := cmp.Diff(wantLikes, got); diff != "" {
			t.Fatalf("watch_party_likes (-want +got):\n%s", diff)
		}
		got = s.rows(`SELECT event_id, user_id, action, position_ms, created_at FROM watch_party_logs
			WHERE party_id = $1 AND action = 'seek' ORDER BY event_id`, party)
		if diff := cmp.Diff(wantSeeks, got); diff != "" {
			t.Fatalf("watch_party_logs seeks (-want +got):\n%s", diff)
		}
	}
	checkTables()
	for _, action := range []string{"join", "leave"} {
		users := s.rows(`SELECT user_id FROM watch_party_logs WHERE party_id = $1 AND action = $2 ORDER BY user_id`, party, action)
		if len(users) != len(runs) {
			t.Fatalf("%d %s rows, want %d", len(users), action, len(runs))
		}
	}

	// Resending the same client ids is acked with the same events and
	// stores nothing new.
	chatsBefore := countEntries(t, s, party, event.Chat)
	for i, r := range runs[:6] {
		again := connect(r.c.user, gws[i%2])
		for _, id := range slices.Sorted(maps.Keys(r.sent)) {
			again.c.send(r.sent[id])
		}
		for range r.sent {
			ack := again.c.nextOf("ack", 10*time.Second)
			if first := r.acks[ack.ID]; first.EventID != ack.EventID || first.StreamID != ack.StreamID {
				t.Fatalf("%s: resent %s acked as %s, first ack %s", r.c.user, ack.ID, ack.Raw, first.Raw)
			}
		}
		_ = again.c.conn.Close()
	}
	if n := countEntries(t, s, party, event.Chat); n != chatsBefore {
		t.Fatalf("resends added %d chat entries to the stream", n-chatsBefore)
	}
	s.flushOnce()
	checkTables()
}

func streamIDs(fs []frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.StreamID
	}
	return out
}

func cmpStreamID(a, b string) int {
	switch {
	case stream.After(b, a):
		return -1
	case stream.After(a, b):
		return 1
	}
	return 0
}

// expectedRows turns broadcasts into the rows the tables must hold.
func expectedRows(bs []frame) (chats, likes, seeks [][]string) {
	for _, f := range bs {
		switch f.Type {
		case "chat":
			chats = append(chats, []string{f.EventID, f.UserID, f.Text, f.TS})
		case "like":
			likes = append(likes, []string{f.EventID, f.UserID, f.TS})
		case "seek":
			seeks = append(seeks, []string{f.EventID, f.UserID, "seek", fmt.Sprint(*f.PositionMS), f.TS})
		}
	}
	for _, rows := range [][][]string{chats, likes, seeks} {
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	}
	return chats, likes, seeks
}

// countEntries counts the party's stream entries of type typ.
func countEntries(t testing.TB, s *system, party string, typ event.Type) int {
	t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), streamKey(party), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if p, _ := m.Values["e"].(string); strings.Contains(p, `"type":"`+string(typ)+`"`) {
			n++
		}
	}
	return n
}
