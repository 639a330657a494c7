package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConnCapPerUserAcrossGateways: WATCH_PARTY_MAX_CONNS_PER_USER counts a
// user's connections on every gateway, not on each: with a cap of 2, two
// connections on gateway A leave none for gateway B, until one of them
// closes.
func TestConnCapPerUserAcrossGateways(t *testing.T) {
	s := sharedSystem(t)
	limits := []string{"WATCH_PARTY_MAX_CONNS_PER_USER=2", "WATCH_PARTY_JOIN_RATE=0"}
	gwA, _ := s.gateway(limits...)
	gwB, _ := s.gateway(limits...)
	party := s.party("ONGOING", "host")
	const user = "two-tabs"

	first := dial(t, gwA, party, user)
	first.nextOf("welcome", 10*time.Second)
	dial(t, gwA, party, user).nextOf("welcome", 10*time.Second)
	if status, code, msg := refusedJoin(t, gwB, party, user); status != http.StatusTooManyRequests ||
		code != "rate_limited" || !strings.Contains(msg, "for this user") {
		t.Fatalf("third connection, on gateway B: %d %s %q; want 429 rate_limited for this user", status, code, msg)
	}
	dial(t, gwB, party, "someone-else").nextOf("welcome", 10*time.Second)

	_ = first.conn.Close()
	var third *client
	eventually(t, 10*time.Second, "gateway B to admit the user once a connection on A closed", func() bool {
		c, resp, err := tryDial(t, wsURL(gwB, party, url.Values{"user": {user}}), nil)
		if err == nil {
			third = c
			return true
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("join on gateway B while the user waits for a slot: %v (%s), want 429", err, statusOf(resp))
		}
		return false
	})
	third.nextOf("welcome", 10*time.Second)
	if status, _, _ := refusedJoin(t, gwA, party, user); status != http.StatusTooManyRequests {
		t.Fatalf("another connection, on gateway A, with one on A and one on B: %d; want 429", status)
	}
}

// refusedJoin dials party as user on the gateway at addr, which must
// refuse the upgrade, and returns its status and JSON error.
func refusedJoin(t *testing.T, addr, party, user string) (status int, code, msg string) {
	t.Helper()
	c, resp, err := tryDial(t, wsURL(addr, party, url.Values{"user": {user}}), nil)
	if err == nil {
		_ = c.conn.Close()
		return http.StatusSwitchingProtocols, "", ""
	}
	if resp == nil {
		t.Fatalf("join as %s: %v, no response", user, err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error.Code, body.Error.Message
}
