package event

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestParseInbound(t *testing.T) {
	const chatID = "0190a5f4-5c4e-7c3a-9b1e-2f4d6a8c0e12"
	long := strings.Repeat("é", MaxChatLen)
	tests := []struct {
		name    string
		raw     string
		want    Inbound
		invalid bool
	}{
		{name: "chat", raw: `{"type":"chat","id":"c1","text":"hello"}`, want: Inbound{Type: Chat, ClientID: "c1", Text: "hello"}},
		{name: "chat without id", raw: `{"type":"chat","text":"hi"}`, want: Inbound{Type: Chat, Text: "hi"}},
		{name: "chat of 500 code points", raw: `{"type":"chat","text":"` + long + `"}`, want: Inbound{Type: Chat, Text: long}},
		{name: "chat with newline and tab", raw: `{"type":"chat","text":"a\nb\tc"}`, want: Inbound{Type: Chat, Text: "a\nb\tc"}},
		{name: "unknown fields ignored", raw: `{"type":"like","id":"x","extra":[1,2]}`, want: Inbound{Type: Like, ClientID: "x"}},
		{name: "play", raw: `{"type":"play","position_ms":120000}`, want: Inbound{Type: Play, PositionMS: 120000}},
		{name: "seek to zero", raw: `{"type":"seek","position_ms":0}`, want: Inbound{Type: Seek}},
		{name: "pause at the maximum", raw: `{"type":"pause","position_ms":604800000}`, want: Inbound{Type: Pause, PositionMS: MaxPositionMS}},
		{name: "malformed json", raw: `{"type":"chat"`, invalid: true},
		{name: "not an object", raw: `[1]`, invalid: true},
		{name: "two values", raw: `{"type":"like"} {"type":"like"}`, invalid: true},
		{name: "empty type", raw: `{"type":"","text":"x"}`, invalid: true},
		{name: "missing type", raw: `{"text":"x"}`, invalid: true},
		{name: "unknown type", raw: `{"type":"dance"}`, invalid: true},
		{name: "server-only type", raw: `{"type":"join"}`, invalid: true},
		{name: "numeric id", raw: `{"type":"like","id":7}`, invalid: true},
		{name: "empty id", raw: `{"type":"like","id":""}`, invalid: true},
		{name: "id of 65 characters", raw: `{"type":"like","id":"` + strings.Repeat("a", 65) + `"}`, invalid: true},
		{name: "empty chat", raw: `{"type":"chat","text":""}`, invalid: true},
		{name: "white-space chat", raw: `{"type":"chat","text":" \n\t "}`, invalid: true},
		{name: "chat of 501 code points", raw: `{"type":"chat","text":"` + long + `a"}`, invalid: true},
		{name: "chat without text", raw: `{"type":"chat"}`, invalid: true},
		{name: "chat with numeric text", raw: `{"type":"chat","text":5}`, invalid: true},
		{name: "control character", raw: `{"type":"chat","text":"a\u0007b"}`, invalid: true},
		{name: "NUL", raw: `{"type":"chat","text":"a\u0000b"}`, invalid: true},
		{name: "invalid UTF-8", raw: "{\"type\":\"chat\",\"text\":\"a\xffb\"}", invalid: true},
		{name: "play without position", raw: `{"type":"play"}`, invalid: true},
		{name: "negative position", raw: `{"type":"seek","position_ms":-1}`, invalid: true},
		{name: "position too large", raw: `{"type":"seek","position_ms":604800001}`, invalid: true},
		{name: "fractional position", raw: `{"type":"seek","position_ms":1.5}`, invalid: true},
		{name: "string position", raw: `{"type":"seek","position_ms":"100"}`, invalid: true},
		{name: "delete", raw: `{"type":"delete","id":"d","target_event_id":"` + chatID + `"}`,
			want: Inbound{Type: Delete, ClientID: "d", TargetEvent: uuid.MustParse(chatID)}},
		{name: "mute", raw: `{"type":"mute","target_user_id":"bob","duration_s":600}`,
			want: Inbound{Type: Mute, Target: "bob", MuteDuration: 10 * time.Minute}},
		{name: "mute for a week", raw: `{"type":"mute","target_user_id":"bob","duration_s":604800}`,
			want: Inbound{Type: Mute, Target: "bob", MuteDuration: 7 * 24 * time.Hour}},
		{name: "kick", raw: `{"type":"kick","target_user_id":"bob"}`, want: Inbound{Type: Kick, Target: "bob"}},
		{name: "ban", raw: `{"type":"ban","target_user_id":"bob"}`, want: Inbound{Type: Ban, Target: "bob"}},
		{name: "unban", raw: `{"type":"unban","target_user_id":"bob"}`, want: Inbound{Type: Unban, Target: "bob"}},
		{name: "unmute", raw: `{"type":"unmute","target_user_id":"bob"}`, want: Inbound{Type: Unmute, Target: "bob"}},
		{name: "moderator_add", raw: `{"type":"moderator_add","target_user_id":"mo"}`, want: Inbound{Type: ModeratorAdd, Target: "mo"}},
		{name: "moderator_remove", raw: `{"type":"moderator_remove","target_user_id":"mo"}`, want: Inbound{Type: ModeratorRemove, Target: "mo"}},
		{name: "delete without target", raw: `{"type":"delete"}`, invalid: true},
		{name: "delete of a non-uuid", raw: `{"type":"delete","target_event_id":"42"}`, invalid: true},
		{name: "delete of the nil uuid", raw: `{"type":"delete","target_event_id":"00000000-0000-0000-0000-000000000000"}`, invalid: true},
		{name: "kick without target", raw: `{"type":"kick"}`, invalid: true},
		{name: "kick of an empty user", raw: `{"type":"kick","target_user_id":""}`, invalid: true},
		{name: "kick of a numeric user", raw: `{"type":"kick","target_user_id":7}`, invalid: true},
		{name: "ban of a 129-byte user", raw: `{"type":"ban","target_user_id":"` + strings.Repeat("u", 129) + `"}`, invalid: true},
		{name: "mute without duration", raw: `{"type":"mute","target_user_id":"bob"}`, invalid: true},
		{name: "mute for zero seconds", raw: `{"type":"mute","target_user_id":"bob","duration_s":0}`, invalid: true},
		{name: "mute over a week", raw: `{"type":"mute","target_user_id":"bob","duration_s":604801}`, invalid: true},
		{name: "mute for a string", raw: `{"type":"mute","target_user_id":"bob","duration_s":"60"}`, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInbound([]byte(tt.raw))
			var inv *InvalidError
			if tt.invalid {
				if !errors.As(err, &inv) {
					t.Fatalf("ParseInbound(%q) error = %v, want *InvalidError", tt.raw, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInbound(%q) error = %v", tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseInbound(%q) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestInvalidKeepsClientID(t *testing.T) {
	got, err := ParseInbound([]byte(`{"type":"chat","id":"c9","text":""}`))
	if err == nil || got.ClientID != "c9" {
		t.Fatalf("got id %q, err %v; want id c9 and an error", got.ClientID, err)
	}
}

// TestNewIDIsNewSHA1: an id derived from a client id is the UUIDv5 of
// party, user and client id it always was, so that a resend to a gateway
// of another version is still recognised.
func TestNewIDIsNewSHA1(t *testing.T) {
	long := strings.Repeat("ü", 100) // past the stack buffer
	for _, c := range []struct{ user, clientID string }{{"u", "c1"}, {"", "x"}, {"bob", long}, {long, long}} {
		p := uuid.New()
		want := uuid.NewSHA1(idNamespace, []byte(p.String()+"\x00"+c.user+"\x00"+c.clientID))
		if got := NewID(p, c.user, c.clientID); got != want {
			t.Errorf("NewID(%s, %q, %q) = %s, want %s", p, c.user, c.clientID, got, want)
		}
	}
}

func TestNewIDIsStablePerClientID(t *testing.T) {
	p := uuid.New()
	if NewID(p, "u", "c1") != NewID(p, "u", "c1") {
		t.Error("same party, user and client id gave two event ids")
	}
	if NewID(p, "u", "c1") == NewID(p, "v", "c1") || NewID(p, "u", "c1") == NewID(uuid.New(), "u", "c1") {
		t.Error("different users or parties share an event id")
	}
	if NewID(p, "u", "") == NewID(p, "u", "") {
		t.Error("events without client id share an event id")
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	pos := int64(42)
	e := Event{Type: Seek, ID: uuid.New(), PartyID: uuid.New(), UserID: "u", Name: "U",
		CreatedAt: Millis(uuidTime()), PositionMS: &pos}
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, "1-0")
	if err != nil {
		t.Fatal(err)
	}
	e.StreamID = "1-0"
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := Decode([]byte(`{"type":"seek","event_id":"`+e.ID.String()+`","user_id":"u","created_at":"2026-01-01T00:00:00Z"}`), "1-1"); err == nil {
		t.Error("seek without position decoded")
	}
}

// inboundSamples are frames of every shape: the fast path's and those it
// must leave to encoding/json.
var inboundSamples = []string{
	`{"type":"chat","id":"c1","text":"hello"}`,
	`{"id":"c1","type":"chat","text":"hello"}`,
	`{"type":"chat","text":"hello"}`,
	`{"type":"chat","id":"c1","text":""}`,
	`{"type":"chat","id":"c1","text":"   "}`,
	`{"type":"chat","id":"","text":"x"}`,
	`{"type":"chat","id":"` + strings.Repeat("é", 64) + `","text":"x"}`,
	`{"type":"chat","id":"` + strings.Repeat("é", 65) + `","text":"x"}`,
	`{"type":"chat","text":"` + strings.Repeat("é", 500) + `"}`,
	`{"type":"chat","text":"` + strings.Repeat("é", 501) + `"}`,
	`{"type":"chat","text":"a` + "\x7f" + `b"}`,
	`{"type":"chat","text":"a` + "\x01" + `b"}`,
	`{"type":"chat","text":"a\nb"}`,
	`{"type":"chat","text":"say \"hi\""}`,
	`{"type":"chat","id":"c1"}`,
	`{"type":"chat","id":"c1","text":"a","text":"b"}`,
	`{"type":"chat","type":"like"}`,
	`{"type":"like","id":"l1"}`,
	`{"type":"like","id":"l1","text":"ignored"}`,
	`{"type":"like"}`,
	`{"type":"like","extra":"x"}`,
	`{"type":"dance"}`,
	`{"type":""}`,
	`{"type":"play","position_ms":5}`,
	`{"type":"chat","id":7,"text":"x"}`,
	`{ "type":"chat","text":"x"}`,
	`{"type":"chat","text":"x"} `,
	`{"type":"chat","text":"x"}{}`,
	`{"type":"chat","text":"x",}`,
	`{"type":"chat","text":"x"`,
	`{}`,
	`[]`,
	``,
}

// TestFastInboundAgreesWithEncodingJSON: whatever the fast path accepts,
// ParseInbound answers exactly as it does through encoding/json.
func TestFastInboundAgreesWithEncodingJSON(t *testing.T) {
	fast := 0
	for _, raw := range inboundSamples {
		if _, _, _, _, _, ok := fastInbound([]byte(raw)); ok {
			fast++
		}
		checkAgreement(t, []byte(raw))
	}
	if fast < 10 {
		t.Fatalf("the fast path took %d of the samples; it should take the common shapes", fast)
	}
}

func FuzzParseInbound(f *testing.F) {
	for _, raw := range inboundSamples {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if utf8.Valid(raw) {
			checkAgreement(t, raw)
		}
	})
}

func checkAgreement(t *testing.T, raw []byte) {
	t.Helper()
	got, gotErr := ParseInbound(raw)
	want, wantErr := parseSlow(raw)
	if diff := cmp.Diff(want, got); diff != "" || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("ParseInbound(%q) = %+v, %v; encoding/json says %+v, %v", raw, got, gotErr, want, wantErr)
	}
}
