package gateway_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/gateway"
)

// TestWelcomeSaysTheJoinersRole: the welcome tells the host, a moderator
// the host appointed and any other viewer their role, so a client shows
// moderation controls without asking the API (which refuses a plain
// viewer).
func TestWelcomeSaysTheJoinersRole(t *testing.T) {
	e := newServedEnv(t, gateway.Config{})
	party := e.insert("alice", "ONGOING")
	welcomeOf := func(user string) map[string]any {
		t.Helper()
		u := "ws" + strings.TrimPrefix(e.url, "http") + "/ws/parties/" + party.String() + "?user=" + url.QueryEscape(user)
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatalf("join as %s: %v", user, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		v := &viewer{t: t, conn: c}
		return v.next("welcome")
	}
	host := welcomeOf("alice")
	if host["role"] != "host" {
		t.Fatalf("the host's welcome %v; want role host", host)
	}
	if got := welcomeOf("bob")["role"]; got != "viewer" {
		t.Fatalf("a plain viewer's role %v; want viewer", got)
	}
	alice := e.mustJoin(party, "alice", nil)
	if f := alice.send(map[string]any{"type": "moderator_add", "id": "m1", "target_user_id": "carol"}); f["type"] != "ack" {
		t.Fatalf("moderator_add answered %v", f)
	}
	// The ack means the role is in Redis: the append changed it.
	if got := welcomeOf("carol")["role"]; got != "moderator" {
		t.Fatalf("an appointed moderator's role %v; want moderator", got)
	}
}
