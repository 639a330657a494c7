package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestModerationAcrossGateways runs every moderation action over two
// gateway processes, half over the WebSocket and half over REST: a
// non-host cannot moderate; the host appoints a moderator, who cannot
// appoint others or act on the host; a deleted chat reaches every viewer
// as a delete and leaves the history (welcome and paging, before and after
// the flush) while its row is kept and marked; a mute refuses the user's
// chats on both gateways until the host lifts it; a kick closes the user's
// connections on both gateways with 4003; a ban does too and refuses joins
// with 403 until an unban; every action reaches PostgreSQL as a log row.
func TestModerationAcrossGateways(t *testing.T) {
	s := sharedSystem(t)
	gw1, _ := s.gateway()
	gw2, _ := s.gateway()
	party := s.party("ONGOING", "host")
	path := "/api/parties/" + party + "/moderation"
	host := dial(t, gw1, party, "host")
	mod := dial(t, gw2, party, "mod")
	watcher := dial(t, gw2, party, "watcher")
	bob1, bob2 := dial(t, gw1, party, "bob"), dial(t, gw2, party, "bob")
	for _, c := range []*client{host, mod, watcher, bob1, bob2} {
		c.nextOf("welcome", 10*time.Second)
	}
	act := func(c *client, msg map[string]any) frame {
		t.Helper()
		c.send(msg)
		for {
			f := c.next(10 * time.Second)
			if (f.Type == "ack" || f.Type == "error") && f.ID == msg["id"] {
				return f
			}
		}
	}
	refused := func(f frame, code string) {
		t.Helper()
		if f.Type != "error" || f.Code != code {
			t.Fatalf("answer %s, want error %s", f.Raw, code)
		}
	}
	rest := func(user string, body map[string]any, want int) map[string]any {
		t.Helper()
		status, out := api(t, gw1, http.MethodPost, path, user, body)
		if status != want {
			t.Fatalf("POST moderation %v as %s: %d %v, want %d", body, user, status, out, want)
		}
		return out
	}

	// Nobody but the host (and, later, its moderators) moderates.
	refused(act(mod, map[string]any{"type": "kick", "id": "k0", "target_user_id": "bob"}), "forbidden")
	rest("bob", map[string]any{"type": "moderator_add", "target_user_id": "bob"}, http.StatusForbidden)
	if status, _ := api(t, gw2, http.MethodGet, path, "mod", nil); status != http.StatusForbidden {
		t.Fatalf("GET moderation by a non-moderator: %d, want 403", status)
	}

	// The host appoints mod over REST; every viewer sees it.
	out := rest("host", map[string]any{"type": "moderator_add", "target_user_id": "mod"}, http.StatusOK)
	if out["event_id"] == nil || out["stream_id"] == nil {
		t.Fatalf("moderator_add answered %v, want event_id and stream_id", out)
	}
	if f := watcher.nextOf("moderator_add", 10*time.Second); f.UserID != "host" || f.TargetUserID != "mod" {
		t.Fatalf("moderator_add frame %s", f.Raw)
	}
	refused(act(mod, map[string]any{"type": "moderator_add", "id": "a1", "target_user_id": "carol"}), "forbidden")
	refused(act(mod, map[string]any{"type": "kick", "id": "k1", "target_user_id": "host"}), "forbidden")

	// Delete: bob's spam goes, on both gateways and from the history.
	spam := act(bob1, map[string]any{"type": "chat", "id": "spam", "text": "buy now"})
	act(bob1, map[string]any{"type": "chat", "id": "fine", "text": "nice scene"})
	if f := act(mod, map[string]any{"type": "delete", "id": "d1", "target_event_id": spam.EventID}); f.Type != "ack" {
		t.Fatalf("delete answered %s", f.Raw)
	}
	for _, c := range []*client{host, watcher, bob2} {
		if f := c.nextOf("delete", 10*time.Second); f.TargetEventID != spam.EventID || f.UserID != "mod" {
			t.Fatalf("%s: delete frame %s, want one of %s by mod", c, f.Raw, spam.EventID)
		}
	}
	chatTexts := func(fs []frame) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Text)
		}
		return out
	}
	late := dial(t, gw1, party, "late")
	if got := chatTexts(late.nextOf("welcome", 10*time.Second).History); !slices.Equal(got, []string{"nice scene"}) {
		t.Fatalf("welcome history after the delete: %q, want only the chat kept", got)
	}
	if _, page := getChats(t, gw2, party, ""); !slices.Equal(chatTexts(page.Chats), []string{"nice scene"}) {
		t.Fatalf("chat history before the flush: %q", chatTexts(page.Chats))
	}
	s.flushOnce()
	if _, page := getChats(t, gw2, party, ""); !slices.Equal(chatTexts(page.Chats), []string{"nice scene"}) {
		t.Fatalf("chat history after the flush: %q", chatTexts(page.Chats))
	}
	if got := s.rows(`SELECT body, deleted_by FROM watch_party_chats WHERE event_id = $1 AND deleted_at IS NOT NULL`, spam.EventID); len(got) != 1 || got[0][1] != "mod" {
		t.Fatalf("stored deleted chat: %v, want its row kept and marked deleted by mod", got)
	}

	// Mute: refused on both gateways until the host lifts it.
	if f := act(mod, map[string]any{"type": "mute", "id": "m1", "target_user_id": "bob", "duration_s": 600}); f.Type != "ack" {
		t.Fatalf("mute answered %s", f.Raw)
	}
	refused(act(bob1, map[string]any{"type": "chat", "id": "c1", "text": "hello?"}), "muted")
	refused(act(bob2, map[string]any{"type": "chat", "id": "c2", "text": "hello??"}), "muted")
	if status, st := api(t, gw2, http.MethodGet, path, "mod", nil); status != http.StatusOK || len(st["muted"].([]any)) != 1 {
		t.Fatalf("GET moderation while bob is muted: %d %v", status, st)
	}
	rest("host", map[string]any{"type": "unmute", "target_user_id": "bob"}, http.StatusOK)
	if f := act(bob2, map[string]any{"type": "chat", "id": "c3", "text": "back"}); f.Type != "ack" {
		t.Fatalf("chat after the unmute answered %s", f.Raw)
	}

	// Kick: every connection of bob, on both gateways, closes with 4003; he may come back.
	if f := act(host, map[string]any{"type": "kick", "id": "k2", "target_user_id": "bob"}); f.Type != "ack" {
		t.Fatalf("kick answered %s", f.Raw)
	}
	for _, c := range []*client{bob1, bob2} {
		if code, reason := closeOf(t, c); code != 4003 || reason != "kicked" {
			t.Fatalf("%s after the kick: close %d %q, want 4003 kicked", c, code, reason)
		}
	}
	bob3 := dial(t, gw2, party, "bob")
	bob3.nextOf("welcome", 10*time.Second)

	// Ban (by the moderator, over REST): closed, and joins refused until unbanned.
	rest("mod", map[string]any{"type": "ban", "target_user_id": "bob"}, http.StatusOK)
	if code, reason := closeOf(t, bob3); code != 4003 || reason != "banned" {
		t.Fatalf("bob after the ban: close %d %q, want 4003 banned", code, reason)
	}
	for _, gw := range []string{gw1, gw2} {
		if _, resp, err := tryDial(t, wsURL(gw, party, url.Values{"user": {"bob"}}), nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("join of a banned user: %v (%s), want 403", err, statusOf(resp))
		}
	}
	status, st := api(t, gw1, http.MethodGet, path, "host", nil)
	if status != http.StatusOK || st["host_user_id"] != "host" || !sameList(st["moderators"], "mod") || !sameList(st["banned"], "bob") {
		t.Fatalf("GET moderation: %d %v", status, st)
	}
	rest("host", map[string]any{"type": "unban", "target_user_id": "bob"}, http.StatusOK)
	dial(t, gw1, party, "bob").nextOf("welcome", 10*time.Second)
	rest("host", map[string]any{"type": "moderator_remove", "target_user_id": "mod"}, http.StatusOK)
	refused(act(mod, map[string]any{"type": "kick", "id": "k3", "target_user_id": "bob"}), "forbidden")

	// Every action is a log row, by whom, on whom.
	s.flushOnce()
	got := s.rows(`SELECT user_id, action, coalesce(target_user_id, ''), coalesce(target_event_id::text, ''), until IS NOT NULL
		FROM watch_party_logs WHERE party_id = $1 AND action NOT IN ('join', 'leave')`, party)
	want := [][]string{
		{"host", "moderator_add", "mod", "", "false"},
		{"mod", "delete", "", spam.EventID, "false"},
		{"mod", "mute", "bob", "", "true"},
		{"host", "unmute", "bob", "", "false"},
		{"host", "kick", "bob", "", "false"},
		{"mod", "ban", "bob", "", "false"},
		{"host", "unban", "bob", "", "false"},
		{"host", "moderator_remove", "mod", "", "false"},
	}
	byAction := func(a, b []string) int { return strings.Compare(a[1], b[1]) }
	slices.SortFunc(got, byAction)
	slices.SortFunc(want, byAction)
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Fatalf("moderation log rows:\n got %v\nwant %v", got, want)
	}
}

// TestModerationBadInput: each malformed action gets a clear error, over
// REST and over the WebSocket, and changes nothing.
func TestModerationBadInput(t *testing.T) {
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	path := "/api/parties/" + party + "/moderation"
	for _, body := range []map[string]any{
		{"type": "chat", "text": "not moderation"},
		{"type": "mute", "target_user_id": "bob"},
		{"type": "mute", "target_user_id": "bob", "duration_s": 0},
		{"type": "kick"},
		{"type": "delete", "target_event_id": "not-a-uuid"},
		{"type": "dance", "target_user_id": "bob"},
	} {
		status, out := api(t, gw, http.MethodPost, path, "host", body)
		if e, _ := out["error"].(map[string]any); status != http.StatusBadRequest || e["code"] != "invalid_request" || e["message"] == "" {
			t.Fatalf("POST %v: %d %v, want 400 invalid_request with a message", body, status, out)
		}
	}
	if status, _ := api(t, gw, http.MethodPost, "/api/parties/"+s.party("SCHEDULED", "host")+"/moderation", "host",
		map[string]any{"type": "kick", "target_user_id": "bob"}); status != http.StatusConflict {
		t.Fatalf("moderation of a scheduled party: %d, want 409", status)
	}
	host := dial(t, gw, party, "host")
	host.nextOf("welcome", 10*time.Second)
	host.send(map[string]any{"type": "mute", "id": "m", "target_user_id": "bob", "duration_s": 604801})
	if f := host.nextOf("error", 10*time.Second); f.Code != "invalid_message" || f.ID != "m" {
		t.Fatalf("mute over a week answered %s, want invalid_message", f.Raw)
	}
	host.send(map[string]any{"type": "kick", "id": "self", "target_user_id": "host"})
	if f := host.nextOf("error", 10*time.Second); f.Code != "forbidden" || f.ID != "self" {
		t.Fatalf("kicking oneself answered %s, want forbidden", f.Raw)
	}
	s.flushOnce()
	if n := s.count(`SELECT count(*) FROM watch_party_logs WHERE party_id = $1 AND action NOT IN ('join', 'leave')`, party); n != 0 {
		t.Fatalf("%d moderation rows after refused actions, want 0", n)
	}
}

// closeOf waits for the server to close c and returns its close code and
// reason.
func closeOf(t *testing.T, c *client) (int, string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not closed within 10s", c)
	}
	var ce *websocket.CloseError
	if !errors.As(c.err(), &ce) {
		t.Fatalf("%s: closed without a close frame: %v", c, c.err())
	}
	return ce.Code, ce.Text
}

// sameList reports whether v, a decoded JSON array, holds exactly want.
func sameList(v any, want ...string) bool {
	list, _ := v.([]any)
	if len(list) != len(want) {
		return false
	}
	for i, x := range list {
		if x != want[i] {
			return false
		}
	}
	return true
}
