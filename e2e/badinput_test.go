package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/auth"
)

// TestBadInputIsRefusedAndChangesNothingElse sends every kind of bad input
// and checks the documented answer, while a bystander keeps receiving the
// party's events throughout.
func TestBadInputIsRefusedAndChangesNothingElse(t *testing.T) {
	s := sharedSystem(t)
	const secret = "test-secret-of-at-least-32-bytes!"
	addr, _ := s.gateway("WATCH_PARTY_AUTH_SECRET=" + secret)
	party := s.party("ONGOING", "host")

	bystander := dial(t, addr, party, "bystander")
	bystander.nextOf("welcome", 5*time.Second)
	talker := dial(t, addr, party, "talker")
	talker.nextOf("welcome", 5*time.Second)
	bad := dial(t, addr, party, "mallory")
	bad.nextOf("welcome", 5*time.Second)

	// Each good chat must reach the bystander after each bad input.
	seq := 0
	stillFlowing := func(after string) {
		t.Helper()
		seq++
		text := fmt.Sprintf("still here %d", seq)
		talker.send(map[string]any{"type": "chat", "text": text})
		for {
			f := bystander.next(5 * time.Second)
			if f.Type == "chat" && f.Text == text {
				return
			}
			if f.Type == "chat" && f.UserID == "mallory" {
				t.Fatalf("after %s the bystander saw mallory's chat: %s", after, f.Raw)
			}
		}
	}
	expectError := func(name string, raw []byte, code, id string) {
		t.Helper()
		bad.sendRaw(raw)
		f := bad.nextOf("error", 5*time.Second)
		if f.Code != code || f.ID != id {
			t.Fatalf("%s: got %s, want code %s id %q", name, f.Raw, code, id)
		}
		stillFlowing(name)
	}

	long := strings.Repeat("x", 501)
	cases := []struct {
		name, raw, code, id string
	}{
		{"malformed JSON", `{"type":"chat","id":"b1","text":`, "invalid_message", ""},
		{"unknown type", `{"type":"dance","id":"b2"}`, "invalid_message", "b2"},
		{"empty type", `{"type":"","id":"b3"}`, "invalid_message", "b3"},
		{"empty chat", `{"type":"chat","id":"b4","text":""}`, "invalid_message", "b4"},
		{"white-space chat", `{"type":"chat","id":"b5","text":"   "}`, "invalid_message", "b5"},
		{"501-character chat", `{"type":"chat","id":"b6","text":"` + long + `"}`, "invalid_message", "b6"},
		{"control character", `{"type":"chat","id":"b7","text":"bell\u0007"}`, "invalid_message", "b7"},
		{"id too long", `{"type":"chat","id":"` + strings.Repeat("i", 65) + `","text":"hi"}`, "invalid_message", ""},
		{"bad position", `{"type":"seek","id":"b8","position_ms":-5}`, "invalid_message", "b8"},
		{"playback by a non-host", `{"type":"play","id":"b9","position_ms":1000}`, "forbidden", "b9"},
	}
	for _, c := range cases {
		expectError(c.name, []byte(c.raw), c.code, c.id)
	}
	expectError("invalid UTF-8", []byte("{\"type\":\"chat\",\"id\":\"b10\",\"text\":\"caf\xc3\x28\"}"), "invalid_message", "")

	// A frame over 4 KiB closes only that connection, with 1009.
	bad.sendRaw([]byte(`{"type":"chat","text":"` + strings.Repeat("y", 5*1024) + `"}`))
	if code := bad.closeCode(5 * time.Second); code != 1009 {
		t.Fatalf("5 KiB frame closed with %d, want 1009", code)
	}
	stillFlowing("5 KiB frame")

	// Refusals before the upgrade carry the JSON error body.
	scheduled := s.party("SCHEDULED", "host")
	token, err := auth.Sign(secret, "tokenuser", "Token User", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := auth.Sign(secret, "tokenuser", "", time.Now().Add(-time.Minute))
	wrongKey, _ := auth.Sign("another-secret-of-at-least-32-bytes", "tokenuser", "", time.Now().Add(time.Hour))
	refusals := []struct {
		name   string
		party  string
		query  url.Values
		origin string
		status int
		code   string
	}{
		{"bad token", party, url.Values{"token": {"not-a-jwt"}}, "", 401, "unauthorized"},
		{"expired token", party, url.Values{"token": {expired}}, "", 401, "unauthorized"},
		{"token signed with another key", party, url.Values{"token": {wrongKey}}, "", 401, "unauthorized"},
		{"no identity", party, url.Values{}, "", 401, "unauthorized"},
		{"scheduled party", scheduled, url.Values{"token": {token}}, "", 409, "conflict"},
		{"unknown party", "7d0f7a1f-0000-4000-8000-000000000000", url.Values{"token": {token}}, "", 404, "not_found"},
		{"party id not a UUID", "nope", url.Values{"token": {token}}, "", 404, "not_found"},
		{"foreign origin", party, url.Values{"token": {token}}, "https://evil.example", 403, "forbidden"},
	}
	for _, r := range refusals {
		h := http.Header{}
		if r.origin != "" {
			h.Set("Origin", r.origin)
		}
		_, resp, err := tryDial(t, wsURL(addr, r.party, r.query), h)
		if err == nil || resp == nil {
			t.Fatalf("%s: connected, want %d", r.name, r.status)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != r.status || body.Error.Code != r.code || body.Error.Message == "" {
			t.Fatalf("%s: got %d %+v, want %d %s", r.name, resp.StatusCode, body, r.status, r.code)
		}
		stillFlowing(r.name)
	}

	// A valid token joins and its name travels with broadcasts.
	named, _, err := tryDial(t, wsURL(addr, party, url.Values{"token": {token}}), nil)
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	named.nextOf("welcome", 5*time.Second)
	named.send(map[string]any{"type": "chat", "text": "signed in"})
	f := bystander.nextOf("chat", 5*time.Second)
	if f.UserID != "tokenuser" || !strings.Contains(f.Raw, `"name":"Token User"`) {
		t.Fatalf("token user's chat arrived as %s", f.Raw)
	}

	// Nothing refused was stored: the stream holds only the good chats.
	if n, want := countEntries(t, s, party, "chat"), seq+1; n != want {
		t.Fatalf("stream holds %d chats, want %d", n, want)
	}
}
