package gateway_test

import (
	"encoding/json"
	"testing"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

// TestReactionsReachEveryViewer: each of the fixed emoji is acknowledged
// and broadcast, with its emoji, to every viewer, the sender included.
func TestReactionsReachEveryViewer(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	bob, carol := e.mustJoin(party, "bob", nil), e.mustJoin(party, "carol", nil)
	for _, emoji := range event.Reactions {
		ack := bob.send(map[string]any{"type": "reaction", "id": "r-" + emoji, "emoji": emoji})
		if ack["type"] != "ack" || ack["stream_id"] == nil {
			t.Fatalf("reaction %s: %v; want an ack with a stream_id", emoji, ack)
		}
		for _, v := range []*viewer{bob, carol} {
			f := v.next("reaction")
			if f["emoji"] != emoji || f["user_id"] != "bob" || f["event_id"] != ack["event_id"] || f["text"] != nil {
				t.Fatalf("broadcast %v; want bob's %s as event %v, without text", f, emoji, ack["event_id"])
			}
		}
	}
}

// TestBadReactionsAreRefusedAlone: an emoji outside the set, a missing or
// non-string one is invalid_message for its sender, and the party goes on.
func TestBadReactionsAreRefusedAlone(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	bob, carol := e.mustJoin(party, "bob", nil), e.mustJoin(party, "carol", nil)
	for _, bad := range []map[string]any{
		{"type": "reaction", "emoji": "💩"},
		{"type": "reaction", "emoji": "🎉🎉"},
		{"type": "reaction", "emoji": ""},
		{"type": "reaction"},
		{"type": "reaction", "emoji": 1},
		{"type": "reaction", "text": "🎉"},
	} {
		wantCode(t, "reaction "+string(mustJSON(t, bad)), bob.send(bad), "invalid_message")
	}
	if f := bob.send(map[string]any{"type": "chat", "text": "still here"}); f["type"] != "ack" {
		t.Fatalf("chat after refused reactions: %v", f)
	}
	if f := carol.next("chat"); f["text"] != "still here" {
		t.Fatalf("the other viewer got %v; want bob's chat, and no reaction before it", f)
	}
}

// TestReactionFloodIsLimited: reactions take tokens of their own bucket,
// and a flood of them leaves the sender's chats alone.
func TestReactionFloodIsLimited(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.EventRates = rates("reaction", 0.001, 3) }))
	party := e.insert("alice", store.Ongoing)
	bob := e.mustJoin(party, "bob", nil)
	for range 3 {
		if f := bob.send(map[string]any{"type": "reaction", "emoji": "🔥"}); f["type"] != "ack" {
			t.Fatalf("reaction within the burst: %v", f)
		}
	}
	for range 20 {
		wantCode(t, "reaction past the burst", bob.send(map[string]any{"type": "reaction", "emoji": "🔥"}), "rate_limited")
	}
	if f := bob.send(map[string]any{"type": "chat", "text": "chats are limited apart"}); f["type"] != "ack" {
		t.Fatalf("chat after the reaction limit: %v", f)
	}
}

// TestMutedViewerCannotReact: a mute silences reactions as it does chats.
func TestMutedViewerCannotReact(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	host, bob := e.mustJoin(party, "alice", nil), e.mustJoin(party, "bob", nil)
	if f := host.send(map[string]any{"type": "mute", "target_user_id": "bob", "duration_s": 600}); f["type"] != "ack" {
		t.Fatalf("mute: %v", f)
	}
	wantCode(t, "a muted viewer's reaction", bob.send(map[string]any{"type": "reaction", "emoji": "👍"}), "muted")
	if f := host.send(map[string]any{"type": "reaction", "emoji": "👍"}); f["type"] != "ack" {
		t.Fatalf("the host's reaction: %v", f)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
