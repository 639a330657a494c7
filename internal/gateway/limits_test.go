package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/store"
)

// viewer is one WebSocket client of an in-process gateway.
type viewer struct {
	t    *testing.T
	conn *websocket.Conn
}

// join opens a WebSocket to party as user; header may be nil. It returns
// the refusal's status and JSON error body when the upgrade is refused.
func (e *apiEnv) join(party uuid.UUID, user string, header http.Header) (*viewer, int, response) {
	e.t.Helper()
	u := "ws" + strings.TrimPrefix(e.url, "http") + "/ws/parties/" + party.String() + "?user=" + url.QueryEscape(user)
	c, res, err := websocket.DefaultDialer.Dial(u, header)
	if err == nil {
		v := &viewer{t: e.t, conn: c}
		e.t.Cleanup(func() { _ = c.Close() })
		v.next("welcome")
		return v, http.StatusSwitchingProtocols, response{}
	}
	if res == nil {
		e.t.Fatalf("dial %s: %v", u, err)
	}
	b, _ := io.ReadAll(res.Body)
	return nil, res.StatusCode, response{status: res.StatusCode, header: res.Header, body: b}
}

// mustJoin joins and fails the test unless the upgrade succeeds.
func (e *apiEnv) mustJoin(party uuid.UUID, user string, header http.Header) *viewer {
	e.t.Helper()
	v, status, r := e.join(party, user, header)
	if v == nil {
		e.t.Fatalf("join of %s refused: %d %s", user, status, r.body)
	}
	return v
}

// next returns the next frame of type typ, skipping others.
func (v *viewer) next(typ string) map[string]any {
	v.t.Helper()
	_ = v.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, b, err := v.conn.ReadMessage()
		if err != nil {
			v.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			v.t.Fatal(err)
		}
		if f["type"] == typ || (typ == "ack|error" && (f["type"] == "ack" || f["type"] == "error")) {
			return f
		}
	}
}

// send writes frame and returns its ack or error frame.
func (v *viewer) send(frame map[string]any) map[string]any {
	v.t.Helper()
	if err := v.conn.WriteJSON(frame); err != nil {
		v.t.Fatal(err)
	}
	return v.next("ack|error")
}

func (v *viewer) close() { _ = v.conn.Close() }

// noLimits is a configuration with every limit off, changed by edit.
func noLimits(edit func(*gateway.Config)) gateway.Config {
	var c gateway.Config
	edit(&c)
	return c
}

// rates limits one event rate class to rate per second, burst at once.
func rates(class string, rate float64, burst int) map[string]*gateway.RateLimit {
	return map[string]*gateway.RateLimit{class: {Rate: rate, Burst: burst}}
}

func TestPlaybackRateLimit(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.EventRates = rates("playback", 0.001, 2) }))
	party := e.insert("alice", store.Ongoing)
	host := e.mustJoin(party, "alice", nil)
	for i, typ := range []string{"play", "seek"} {
		if f := host.send(map[string]any{"type": typ, "position_ms": i * 1000}); f["type"] != "ack" {
			t.Fatalf("%s within the burst: %v", typ, f)
		}
	}
	f := host.send(map[string]any{"type": "pause", "id": "p3", "position_ms": 5000})
	if f["type"] != "error" || f["code"] != "rate_limited" || f["id"] != "p3" {
		t.Fatalf("third playback event over a burst of 2: %v; want error rate_limited", f)
	}
	if f := host.send(map[string]any{"type": "chat", "text": "chat is limited apart"}); f["type"] != "ack" {
		t.Fatalf("chat after playback limit: %v", f)
	}
}

func TestJoinRateLimitPerUser(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.JoinRate, c.JoinBurst = 0.001, 2 }))
	party := e.insert("alice", store.Ongoing)
	for range 2 {
		e.mustJoin(party, "bob", nil).close()
	}
	_, status, r := e.join(party, "bob", nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("third join of bob: status %d %s; want 429", status, r.body)
	}
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	e.mustJoin(party, "carol", nil) // another user has a bucket of its own
}

func TestJoinRateLimitPerIP(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.IPJoinRate, c.IPJoinBurst = 0.001, 2 }))
	party := e.insert("alice", store.Ongoing)
	e.mustJoin(party, "u1", nil).close()
	e.mustJoin(party, "u2", nil).close()
	_, status, r := e.join(party, "u3", nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("third join from one address: status %d %s; want 429", status, r.body)
	}
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
}

func TestConnectionCapPerUser(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConnsPerUser = 2 }))
	party := e.insert("alice", store.Ongoing)
	first := e.mustJoin(party, "bob", nil)
	e.mustJoin(party, "bob", nil)
	_, status, r := e.join(party, "bob", nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("third connection of bob: status %d %s; want 429", status, r.body)
	}
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	e.mustJoin(party, "carol", nil)
	first.close()
	eventuallyJoins(t, e, party, "bob")
}

func TestConnectionCapPerIP(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConnsPerIP = 2 }))
	party := e.insert("alice", store.Ongoing)
	e.mustJoin(party, "u1", nil)
	e.mustJoin(party, "u2", nil)
	_, status, r := e.join(party, "u3", nil)
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	_ = status
}

func TestConnectionCapPerPod(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConns = 2 }))
	party := e.insert("alice", store.Ongoing)
	e.mustJoin(party, "u1", nil)
	e.mustJoin(party, "u2", nil)
	_, _, r := e.join(party, "u3", nil)
	wantError(t, r, http.StatusServiceUnavailable, "unavailable")
}

func TestConnectionCapPerParty(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConnsPerParty = 2 }))
	party := e.insert("alice", store.Ongoing)
	other := e.insert("alice", store.Ongoing)
	e.mustJoin(party, "u1", nil)
	e.mustJoin(party, "u2", nil)
	_, _, r := e.join(party, "u3", nil)
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	e.mustJoin(other, "u3", nil) // the cap is per party
}

// TestTrustedProxyAddress counts connections per address taken from
// X-Forwarded-For, because the peer (127.0.0.1) is a trusted proxy.
func TestTrustedProxyAddress(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConnsPerIP, c.TrustedProxies = 1, "127.0.0.0/8,::1" }))
	party := e.insert("alice", store.Ongoing)
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	e.mustJoin(party, "u1", from("198.51.100.1"))
	e.mustJoin(party, "u2", from("198.51.100.2"))
	_, _, r := e.join(party, "u3", from("203.0.113.9, 198.51.100.1"))
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
}

// TestUntrustedForwardedFor ignores X-Forwarded-For from a peer that is not
// a trusted proxy: a client cannot dodge the cap by forging it.
func TestUntrustedForwardedFor(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConnsPerIP = 1 }))
	party := e.insert("alice", store.Ongoing)
	e.mustJoin(party, "u1", http.Header{"X-Forwarded-For": {"198.51.100.1"}})
	_, _, r := e.join(party, "u2", http.Header{"X-Forwarded-For": {"198.51.100.2"}})
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
}

// eventuallyJoins retries a join until a released slot lets it in.
func eventuallyJoins(t *testing.T, e *apiEnv, party uuid.UUID, user string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, status, r := e.join(party, user, nil)
		if v != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("join of %s still refused after its other connection closed: %d %s", user, status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
