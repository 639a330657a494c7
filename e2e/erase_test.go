package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// TestEraseUser erases alice while her chats, like and logs sit flushed in
// PostgreSQL, unflushed in the party's stream (some read and pending on a
// flusher, some not) and in a dead-lettered batch: `flusher erase-user`
// removes all of them and prints counts, bob's data stays, a later flush
// and a replay of the dead-letter list (including a batch of alice's that
// was dead-lettered after the erasure) do not bring hers back, a second
// run removes nothing, and what alice sends afterwards is kept.
func TestEraseUser(t *testing.T) {
	s := sharedSystem(t)
	ctx := context.Background()
	party := s.party("ONGOING", "host")
	addr, _ := s.gateway()
	alice, bob := dial(t, addr, party, "alice"), dial(t, addr, party, "bob")
	for _, c := range []*client{alice, bob} {
		c.nextOf("welcome", 10*time.Second)
	}
	say := func(c *client, id string) {
		t.Helper()
		c.send(map[string]any{"type": "chat", "id": id, "text": c.user + " " + id})
		if f := c.nextOf("ack", 10*time.Second); f.ID != id {
			t.Fatalf("%s: ack %s, want %s", c.user, f.Raw, id)
		}
	}
	say(alice, "1")
	say(bob, "1")
	for _, c := range []*client{alice, bob} {
		c.send(map[string]any{"type": "like", "id": "like"})
		c.nextOf("ack", 10*time.Second)
	}
	s.flushOnce()

	// Unflushed: "2" read by a flusher that stalls (pending), "3" not read.
	say(alice, "2")
	say(bob, "2")
	if err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: stream.Group, Consumer: "stalled",
		Streams: []string{streamKey(party), ">"}, Count: 100}).Err(); err != nil {
		t.Fatal(err)
	}
	say(alice, "3")
	say(bob, "3")
	// Events created before the erasure, as if a flusher had read them.
	created := time.Now().Add(-time.Second)
	deadLetter := func(users ...string) {
		t.Helper()
		var es []event.Event
		for _, u := range users {
			es = append(es, event.Event{Type: event.Chat, ID: uuid.New(), PartyID: uuid.MustParse(party), UserID: u,
				CreatedAt: event.Millis(created), Text: u + " dead-lettered"})
		}
		if err := dlq.Push(ctx, s.rdb, dlq.NewBatch(streamKey(party), es, nil, 5, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	deadLetter("alice", "bob")

	code, out := flusherCommand(t, s, "erase-user", "--user", "alice", "--in-flight-wait", "200ms")
	if code != 0 {
		t.Fatalf("erase-user: exit %d\n%s", code, out)
	}
	for _, want := range []string{"watch_party_chats: 1 rows deleted", "watch_party_likes: 1 rows deleted",
		"1 likes removed", "wp:dlq: 1 events removed, 0 emptied batches removed", "erased user alice in every party"} {
		if !strings.Contains(out, want) {
			t.Fatalf("erase-user printed:\n%s\nwant a line with %q", out, want)
		}
	}
	checkErased := func(when string) {
		t.Helper()
		for _, table := range []string{"watch_party_chats", "watch_party_likes", "watch_party_logs"} {
			if n := s.count(`SELECT count(*) FROM ` + table + ` WHERE user_id = 'alice'`); n != 0 {
				t.Fatalf("%s: %d rows of alice in %s", when, n, table)
			}
		}
		for _, id := range streamUsers(t, s, party) {
			if id == "alice" {
				t.Fatalf("%s: an entry of alice is still in the stream", when)
			}
		}
		list, err := dlq.List(ctx, s.rdb, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range list {
			for _, e := range it.Batch.Events {
				if e.UserID == "alice" {
					t.Fatalf("%s: an event of alice is still in wp:dlq", when)
				}
			}
		}
	}
	checkErased("after erase-user")
	// The gateway, which delivered alice's chats before, leaves them out
	// of a new viewer's welcome history. (The erasure is announced on the
	// party's channel before bob's next chat, so once alice, on that
	// gateway, has that chat the gateway has heard of the erasure.)
	say(bob, "marker")
	for alice.nextOf("chat", 10*time.Second).Text != "bob marker" {
	}
	var history []string
	for _, f := range dial(t, addr, party, "late").nextOf("welcome", 10*time.Second).History {
		history = append(history, f.Text)
	}
	if fmt.Sprint(history) != "[bob 1 bob 2 bob 3 bob marker]" {
		t.Fatalf("welcome history after the erasure %q, want bob's chats only", history)
	}
	pending, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: streamKey(party), Group: stream.Group,
		Start: "-", End: "+", Count: 100}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("%d entries pending after the erasure, want bob's one read by the stalled flusher", len(pending))
	}
	if n := s.count(`SELECT count(*) FROM watch_party_chats WHERE user_id = 'bob'`); n != 1 {
		t.Fatalf("%d chats of bob stored, want his first", n)
	}

	// A batch of alice's dead-lettered after the erasure (a flusher that
	// had read her events before it), then a flush and a replay.
	deadLetter("alice")
	s.flushOnce("WATCH_PARTY_CLAIM_MIN_IDLE=1ms")
	if code, out := flusherCommand(t, s, "replay-dlq"); code != 0 {
		t.Fatalf("replay-dlq: exit %d\n%s", code, out)
	}
	checkErased("after a flush and a replay")
	if got := s.rows(`SELECT body FROM watch_party_chats WHERE user_id = 'bob' ORDER BY body`); fmt.Sprint(got) !=
		"[[bob 1] [bob 2] [bob 3] [bob dead-lettered] [bob marker]]" {
		t.Fatalf("bob's stored chats %v", got)
	}

	code, out = flusherCommand(t, s, "erase-user", "--user", "alice", "--party", party, "--in-flight-wait", "200ms")
	if code != 0 || !strings.Contains(out, "erased user alice in party "+party+": 0 removed in all") {
		t.Fatalf("second erase-user: exit %d\n%s", code, out)
	}
	say(alice, "4")
	s.flushOnce()
	if got := s.rows(`SELECT body FROM watch_party_chats WHERE user_id = 'alice'`); fmt.Sprint(got) != "[[alice 4]]" {
		t.Fatalf("alice's chats after the erasure %v, want the one she sent since", got)
	}

	for _, args := range [][]string{{"erase-user"}, {"erase-user", "--user", "alice", "--party", "x"}} {
		code, out := flusherCommand(t, s, args...)
		if code == 0 || !strings.Contains(out, "--user") && !strings.Contains(out, "not a party id") {
			t.Fatalf("flusher %v: exit %d\n%s\nwant a refusal naming the bad flag", args, code, out)
		}
	}
}

// streamUsers returns the user of every entry of party's stream.
func streamUsers(t *testing.T, s *system, party string) []string {
	t.Helper()
	var users []string
	for cursor := "0-0"; ; {
		page, err := stream.ReadAfter(context.Background(), s.rdb, stream.KeysFor(uuid.MustParse(party)), cursor, stream.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range page.Entries {
			if en.Err == nil {
				users = append(users, en.Event.UserID)
			}
		}
		if len(page.Entries) < stream.MaxPage {
			return users
		}
		cursor = page.Last()
	}
}
