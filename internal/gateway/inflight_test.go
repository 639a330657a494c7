package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// frames reads the next n frames of v that are not in skip, in order.
func (v *viewer) frames(n int, skip ...string) []map[string]any {
	v.t.Helper()
	var out []map[string]any
	_ = v.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
read:
	for len(out) < n {
		var f map[string]any
		if err := v.conn.ReadJSON(&f); err != nil {
			v.t.Fatalf("after %d of %d frames: %v", len(out), n, err)
		}
		for _, s := range skip {
			if f["type"] == s {
				continue read
			}
		}
		out = append(out, f)
	}
	return out
}

// sendChats writes n chats with ids c0, c1, … and the texts text gives,
// without reading their answers.
func (v *viewer) sendChats(n int, text func(i int) string) {
	v.t.Helper()
	for i := range n {
		if err := v.conn.WriteJSON(map[string]any{"type": "chat", "id": fmt.Sprint("c", i), "text": text(i)}); err != nil {
			v.t.Fatal(err)
		}
	}
}

func numbered(i int) string { return fmt.Sprint("m", i) }

// userEntries returns the types and texts of user's entries in party's
// stream, in stream order.
func userEntries(t *testing.T, party uuid.UUID, user string) (types, texts []string) {
	t.Helper()
	rc := testenv.SharedRedisClient(t)
	msgs, err := rc.XRange(context.Background(), rdb.KeysFor(party).Stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		e, err := event.Decode([]byte(m.Values["e"].(string)), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e.UserID == user {
			types, texts = append(types, string(e.Type)), append(texts, e.Text)
		}
	}
	return types, texts
}

// TestBackToBackChatsAreStoredAndAnsweredInOrder: a client that sends
// many chats without waiting for their acks (the gateway reads its next
// frames while the first are stored) gets its acks in the order it sent
// them, with rising stream ids; every viewer gets the chats in that order;
// and a frame refused after them is answered after their acks.
func TestBackToBackChatsAreStoredAndAnsweredInOrder(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	bob, carol := e.mustJoin(party, "bob", nil), e.mustJoin(party, "carol", nil)
	const n = 200
	bob.sendChats(n, numbered)
	if err := bob.conn.WriteJSON(map[string]any{"type": "chat", "id": "empty", "text": ""}); err != nil {
		t.Fatal(err)
	}
	answers := bob.frames(n+1, "chat", "viewers")
	last := ""
	for i, f := range answers[:n] {
		id, _ := f["stream_id"].(string)
		if f["type"] != "ack" || f["id"] != fmt.Sprint("c", i) || id == "" {
			t.Fatalf("answer %d is %v; want the ack of c%d", i, f, i)
		}
		if last != "" && !stream.After(id, last) {
			t.Fatalf("ack of c%d has stream id %s, not after %s", i, id, last)
		}
		last = id
	}
	if f := answers[n]; f["type"] != "error" || f["id"] != "empty" || f["code"] != "invalid_message" {
		t.Fatalf("last answer %v; want invalid_message for the empty chat, after every ack", f)
	}
	for i, f := range carol.frames(n, "viewers", "join") {
		if f["type"] != "chat" || f["text"] != fmt.Sprint("m", i) {
			t.Fatalf("carol's frame %d is %v; want chat m%d", i, f, i)
		}
	}
	_, texts := userEntries(t, party, "bob")
	if len(texts) != 1+n {
		t.Fatalf("the stream holds %d of bob's entries; want his join and %d chats", len(texts), n)
	}
	for i, text := range texts[1:] {
		if text != fmt.Sprint("m", i) {
			t.Fatalf("bob's entry %d is %q; want m%d", i, text, i)
		}
	}
}

// TestFloodWithoutWaitingIsLimitedInOrder: a client flooding chats
// without waiting for answers gets the acks of its burst and then
// rate_limited for the rest, each answer in the order of its frame, and
// only the burst is stored.
func TestFloodWithoutWaitingIsLimitedInOrder(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.EventRates = rates("chat", 0.001, 5) }))
	party := e.insert("alice", store.Ongoing)
	bob := e.mustJoin(party, "bob", nil)
	const flood = 100
	bob.sendChats(flood, func(int) string { return "spam" })
	for i, f := range bob.frames(flood, "chat", "viewers") {
		want := "ack"
		if i >= 5 {
			want = "error"
		}
		if f["type"] != want || f["id"] != fmt.Sprint("c", i) || (want == "error" && f["code"] != "rate_limited") {
			t.Fatalf("answer %d is %v; want the %s of c%d", i, f, want, i)
		}
	}
	if types, _ := userEntries(t, party, "bob"); len(types) != 1+5 {
		t.Fatalf("the stream holds bob's %v; want his join and the burst of 5 chats", types)
	}
}

// TestLeaveIsStoredAfterTheChatsBeforeIt: a client that sends chats and
// hangs up at once has its leave stored after every chat the gateway read
// from it, however many were still being stored.
func TestLeaveIsStoredAfterTheChatsBeforeIt(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	bob := e.mustJoin(party, "bob", nil)
	bob.sendChats(50, numbered)
	bob.close()
	var types []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if types, _ = userEntries(t, party, "bob"); len(types) > 0 && types[len(types)-1] == "leave" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's entries %v; want a leave last", types)
		}
	}
	want, _ := json.Marshal(append(append([]string{"join"}, repeat("chat", len(types)-2)...), "leave"))
	if got, _ := json.Marshal(types); string(got) != string(want) {
		t.Fatalf("bob's entries %s; want %s", got, want)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, max(n, 0))
	for i := range out {
		out[i] = s
	}
	return out
}
