package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/auth"
)

// TestExpiredTokenClosesTheConnection: when the token's exp passes, the
// connection is closed with 1008; ?user= is refused without dev auth.
func TestExpiredTokenClosesTheConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token to expire; skipped with -short")
	}
	s := sharedSystem(t)
	const secret = "expiry-secret-of-at-least-32-bytes"
	addr, _ := s.gateway("WATCH_PARTY_AUTH_SECRET="+secret, "WATCH_PARTY_DEV_AUTH=false")
	party := s.party("ONGOING", "host")

	if _, resp, err := tryDial(t, wsURL(addr, party, url.Values{"user": {"bob"}}), nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("?user= without dev auth: %v %s, want 401", err, statusOf(resp))
	}
	exp := time.Now().Add(6 * time.Second).Truncate(time.Second) // JWT exp has whole seconds; room for a loaded machine
	token, err := auth.Sign(secret, "bob", "Bob", exp)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := tryDial(t, wsURL(addr, party, url.Values{"token": {token}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.user = "bob"
	c.nextOf("welcome", 5*time.Second)
	c.send(map[string]any{"type": "chat", "id": "before", "text": "still valid"})
	c.nextOf("ack", 5*time.Second)
	if code := c.closeCode(time.Until(exp) + 5*time.Second); code != 1008 {
		t.Fatalf("closed with %d when the token expired, want 1008", code)
	}
	if time.Now().Before(exp) {
		t.Fatal("closed before the token expired")
	}
}
