package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/watchparty/watchparty/internal/protocol"
)

// The wire values, byte for byte: clients compare against them, so a
// change here is a change of the protocol.
func TestWireValues(t *testing.T) {
	var codes []string
	for _, c := range protocol.ErrorCodes() {
		codes = append(codes, c.String())
	}
	wantCodes := []string{"invalid_request", "invalid_message", "unauthorized", "forbidden", "not_found",
		"conflict", "rate_limited", "party_ended", "muted", "banned", "unavailable"}
	if diff := cmp.Diff(wantCodes, codes); diff != "" {
		t.Errorf("error codes (-want +got):\n%s", diff)
	}
	var closes []string
	for _, c := range protocol.CloseCodes() {
		closes = append(closes, c.String())
	}
	wantCloses := []string{"1000 normal", "1001 going_away", "1008 policy", "1009 too_big",
		"1013 try_again_later", "4003 removed"}
	if diff := cmp.Diff(wantCloses, closes); diff != "" {
		t.Errorf("close codes (-want +got):\n%s", diff)
	}
	frames := append(protocol.ServerFrames(), protocol.ClientFrames()...)
	wantFrames := []string{"welcome", "ack", "error", "pong", "party_ended", "closing", "ping"}
	if diff := cmp.Diff(wantFrames, frames); diff != "" {
		t.Errorf("frame names (-want +got):\n%s", diff)
	}
}

func TestFrames(t *testing.T) {
	tests := []struct {
		name  string
		frame any
		want  string
	}{
		{"ack", protocol.NewAck("c1", "e1", "1-0"), `{"type":"ack","id":"c1","event_id":"e1","stream_id":"1-0"}`},
		{"ack of a repeated like, without id", protocol.NewAck("", "e1", ""), `{"type":"ack","event_id":"e1"}`},
		{"error", protocol.NewError("c1", protocol.CodeRateLimited, "slow down"),
			`{"type":"error","id":"c1","code":"rate_limited","message":"slow down"}`},
		{"error without id", protocol.NewError("", protocol.CodeInvalidMessage, "bad"),
			`{"type":"error","code":"invalid_message","message":"bad"}`},
		{"pong", protocol.NewPong("k1", 1764619392345), `{"type":"pong","id":"k1","server_time":1764619392345}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCode(t *testing.T) {
	for _, c := range protocol.ErrorCodes() {
		got, ok := protocol.ParseCode(c.String())
		if !ok || got != c {
			t.Errorf("ParseCode(%q) = %v, %v; want %v, true", c, got, ok, c)
		}
	}
	for _, s := range []string{"", "Banned", "too_fast"} {
		if got, ok := protocol.ParseCode(s); ok {
			t.Errorf("ParseCode(%q) = %v, want none", s, got)
		}
	}
	var f protocol.Error
	if err := json.Unmarshal([]byte(`{"type":"error","code":"muted","message":"m"}`), &f); err != nil || f.Code != protocol.CodeMuted {
		t.Errorf("decoded code %v, %v; want muted", f.Code, err)
	}
	if err := json.Unmarshal([]byte(`{"type":"error","code":"made_up","message":"m"}`), &f); err == nil {
		t.Error("an undeclared code decoded without error")
	}
}

// Nothing is declared twice, and a close reason goes with a declared code.
func TestDeclaredOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range protocol.ErrorCodes() {
		if c.IsZero() || seen[c.String()] {
			t.Errorf("error code %q empty or declared twice", c)
		}
		seen[c.String()] = true
	}
	closes := map[int]bool{}
	for _, c := range protocol.CloseCodes() {
		if closes[c.Int()] {
			t.Errorf("close code %v declared twice", c)
		}
		closes[c.Int()] = true
	}
	for _, r := range protocol.CloseReasons() {
		if !closes[r.Code.Int()] || r.Reason == "" {
			t.Errorf("close reason %q with undeclared code %v", r.Reason, r.Code)
		}
	}
}
