package gateway_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// Abuse of the gateway by signed-in users: floods of every frame kind and
// route, banned users with open connections, and one user on many
// gateways.

// closeCode reads until the connection closes and returns its close code
// and reason.
func (v *viewer) closeCode() (int, string) {
	v.t.Helper()
	_ = v.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := v.conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			v.t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

func wantCode(t *testing.T, what string, f map[string]any, code string) {
	t.Helper()
	if f["type"] != "error" || f["code"] != code {
		t.Fatalf("%s: %v; want error %s", what, f, code)
	}
}

// TestModerationFloodIsLimited: moderation frames take tokens of one bucket
// per user and party before they are authorised, so a viewer's refused
// kicks are limited like a host's deletes.
func TestModerationFloodIsLimited(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.EventRates = rates("moderation", 0.001, 3) }))
	party := e.insert("alice", store.Ongoing)
	host := e.mustJoin(party, "alice", nil)
	troll := e.mustJoin(party, "troll", nil)
	for i := range 3 {
		wantCode(t, "refused kick "+strconv.Itoa(i), troll.send(map[string]any{"type": "kick", "target_user_id": "alice2"}), "forbidden")
	}
	wantCode(t, "fourth kick", troll.send(map[string]any{"type": "kick", "target_user_id": "alice2"}), "rate_limited")
	for i := range 3 {
		f := host.send(map[string]any{"type": "delete", "target_event_id": uuid.NewString()})
		if f["type"] != "ack" {
			t.Fatalf("delete %d within the burst: %v", i, f)
		}
	}
	wantCode(t, "fourth delete", host.send(map[string]any{"type": "delete", "target_event_id": uuid.NewString()}), "rate_limited")
}

// TestModerationOverRESTSharesTheWebSocketBucket: REST moderation takes the
// same tokens, answering 429 with Retry-After, refusals counted too.
func TestModerationOverRESTSharesTheWebSocketBucket(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.EventRates = rates("moderation", 0.001, 3) }))
	party := e.insert("alice", store.Ongoing)
	host := e.mustJoin(party, "alice", nil)
	path := "/api/parties/" + party.String() + "/moderation"
	for range 2 {
		if f := host.send(map[string]any{"type": "mute", "target_user_id": "bob", "duration_s": 60}); f["type"] != "ack" {
			t.Fatalf("mute: %v", f)
		}
	}
	if r := e.do("POST", path, "alice", `{"type":"unmute","target_user_id":"bob"}`); r.status != http.StatusOK {
		t.Fatalf("third action over REST: %d %s", r.status, r.body)
	}
	r := e.do("POST", path, "alice", `{"type":"kick","target_user_id":"bob"}`)
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	for range 3 { // a stranger's refusals count as well
		wantError(t, e.do("POST", path, "stranger", `{"type":"ban","target_user_id":"bob"}`), http.StatusForbidden, "forbidden")
	}
	wantError(t, e.do("POST", path, "stranger", `{"type":"ban","target_user_id":"bob"}`), http.StatusTooManyRequests, "rate_limited")
}

// TestRESTRoutesAreLimitedPerUser: reads, writes and history reads of the
// REST API each have a bucket per user, answered 429 with Retry-After.
func TestRESTRoutesAreLimitedPerUser(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, noLimits(func(c *gateway.Config) {
		c.APIReadRate, c.APIReadBurst = 0.001, 2
		c.APIWriteRate, c.APIWriteBurst = 0.001, 1
		c.HistoryRate, c.HistoryBurst = 0.001, 1
	}))
	party := e.insert("alice", store.Ongoing)
	get := "/api/parties/" + party.String()
	for range 2 {
		if r := e.do("GET", get, "bob", ""); r.status != http.StatusOK {
			t.Fatalf("read within the burst: %d %s", r.status, r.body)
		}
	}
	r := e.do("GET", "/api/parties", "bob", "")
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if r := e.do("GET", get, "carol", ""); r.status != http.StatusOK {
		t.Fatalf("another user's read: %d %s", r.status, r.body)
	}
	if r := e.do("GET", get+"/chats", "bob", ""); r.status != http.StatusOK {
		t.Fatalf("history read within its own burst: %d %s", r.status, r.body)
	}
	wantError(t, e.do("GET", get+"/chats", "bob", ""), http.StatusTooManyRequests, "rate_limited")
	if r := e.do("POST", "/api/parties", "bob", createBody(nil)); r.status != http.StatusCreated {
		t.Fatalf("create within the burst: %d %s", r.status, r.body)
	}
	wantError(t, e.do("POST", "/api/parties", "bob", createBody(nil)), http.StatusTooManyRequests, "rate_limited")
	wantError(t, e.do("POST", get+"/end", "bob", ""), http.StatusTooManyRequests, "rate_limited")
}

// TestBannedUsersOpenConnectionIsRefusedAtTheAppend: a ban in Redis that
// the user's gateway has not delivered yet (its feed lags or reconnects)
// already refuses the user's events, answered banned and closed 4003.
func TestBannedUsersOpenConnectionIsRefusedAtTheAppend(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	troll := e.mustJoin(party, "troll", nil)
	if f := troll.send(map[string]any{"type": "chat", "text": "before"}); f["type"] != "ack" {
		t.Fatalf("chat before the ban: %v", f)
	}
	rc := testenv.SharedRedisClient(t)
	if err := rc.SAdd(context.Background(), rdb.KeysFor(party).Bans, "troll").Err(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "chat after the ban", troll.send(map[string]any{"type": "chat", "id": "c2", "text": "after"}), "banned")
	if code, reason := troll.closeCode(); code != 4003 || reason != "banned" {
		t.Fatalf("closed %d %q; want 4003 banned", code, reason)
	}
	if n := rc.XLen(context.Background(), rdb.KeysFor(party).Stream).Val(); n > 3 { // join, chat, leave at most
		t.Fatalf("stream holds %d entries after the ban", n)
	}
}

// TestHostCannotAppointABannedUser: a banned user is never made a
// moderator, who could act over REST while it may not even watch.
func TestHostCannotAppointABannedUser(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	host := e.mustJoin(party, "alice", nil)
	if f := host.send(map[string]any{"type": "ban", "target_user_id": "troll"}); f["type"] != "ack" {
		t.Fatalf("ban: %v", f)
	}
	wantCode(t, "moderator_add of a banned user", host.send(map[string]any{"type": "moderator_add", "target_user_id": "troll"}), "forbidden")
	wantError(t, e.do("POST", "/api/parties/"+party.String()+"/moderation", "troll", `{"type":"kick","target_user_id":"bob"}`),
		http.StatusForbidden, "forbidden")
}

// TestDeletesPerPartyAreCapped: a party's deletes hide at most
// WATCH_PARTY_MAX_DELETED_PER_PARTY chats.
func TestDeletesPerPartyAreCapped(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxDeletedPerParty = 2 }))
	party := e.insert("alice", store.Ongoing)
	host := e.mustJoin(party, "alice", nil)
	for range 2 {
		if f := host.send(map[string]any{"type": "delete", "target_event_id": uuid.NewString()}); f["type"] != "ack" {
			t.Fatalf("delete: %v", f)
		}
	}
	wantCode(t, "third delete", host.send(map[string]any{"type": "delete", "target_event_id": uuid.NewString()}), "rate_limited")
}

// TestInvalidFrameFloodClosesTheConnection: each invalid frame is answered,
// and past the invalid-frame burst the sender's connection is closed
// (1008); other viewers are untouched.
func TestInvalidFrameFloodClosesTheConnection(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(*gateway.Config) {}))
	party := e.insert("alice", store.Ongoing)
	bad := e.mustJoin(party, "bad", nil)
	good := e.mustJoin(party, "good", nil)
	for range 40 { // twice the burst; writes after the close may still succeed
		_ = bad.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"nope"}`))
	}
	if code, _ := bad.closeCode(); code != 1008 {
		t.Fatalf("closed %d; want 1008", code)
	}
	if f := good.send(map[string]any{"type": "chat", "text": "still here"}); f["type"] != "ack" {
		t.Fatalf("other viewer's chat: %v", f)
	}
}

// TestRatesAreCountedAcrossGateways: a user with connections on two
// gateways gets one chat bucket, not one per gateway.
func TestRatesAreCountedAcrossGateways(t *testing.T) {
	t.Parallel()
	cfg := noLimits(func(c *gateway.Config) { c.EventRates = rates("chat", 0.001, 3) })
	e := newServedEnv(t, cfg)
	second := e.sibling(cfg)
	party := e.insert("alice", store.Ongoing)
	one := e.mustJoin(party, "bob", nil)
	two := second.mustJoin(party, "bob", nil)
	for i, v := range []*viewer{one, two, one} {
		if f := v.send(map[string]any{"type": "chat", "text": strconv.Itoa(i)}); f["type"] != "ack" {
			t.Fatalf("chat %d within the burst: %v", i, f)
		}
	}
	wantCode(t, "fourth chat, on the second gateway", two.send(map[string]any{"type": "chat", "text": "4"}), "rate_limited")
}

// TestIPv6ClientsCountByPrefix: addresses of one /64 share the per-address
// caps; another /64 does not.
func TestIPv6ClientsCountByPrefix(t *testing.T) {
	t.Parallel()
	e := newServedEnv(t, noLimits(func(c *gateway.Config) { c.MaxConnsPerIP, c.TrustedProxies = 1, "127.0.0.0/8,::1" }))
	party := e.insert("alice", store.Ongoing)
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	e.mustJoin(party, "u1", from("2001:db8:0:1::1"))
	_, _, r := e.join(party, "u2", from("2001:db8:0:1:ffff::2"))
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	e.mustJoin(party, "u3", from("2001:db8:0:2::1"))
}

// sibling serves a second gateway with cfg over e's database and Redis.
func (e *apiEnv) sibling(cfg gateway.Config) *apiEnv {
	e.t.Helper()
	rc, err := rdb.Open(testenv.SharedRedisURL(e.t), false)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = rc.Close() })
	cfg.DevAuth, cfg.MaxBufferedEvents, cfg.ShutdownTimeout = true, 1000, time.Second
	g, err := gateway.New(cfg, rc, e.db, slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	serve(e.t, g, ln)
	return &apiEnv{t: e.t, url: "http://" + ln.Addr().String(), db: e.db, parties: e.parties}
}
