package gateway

import (
	"encoding/json"
	"testing"

	"github.com/watchparty/watchparty/internal/protocol"
)

func TestSocketIOFrame(t *testing.T) {
	nsp := "/parties/p"
	tests := []struct {
		name       string
		recovering bool
		in, want   string
	}{
		{name: "entry with its offset",
			in:   `{"type":"chat","event_id":"e","stream_id":"5-1","text":"a \",\"stream_id\":\"9-9"}`,
			want: `42/parties/p,["chat",{"type":"chat","event_id":"e","stream_id":"5-1","text":"a \",\"stream_id\":\"9-9"},"5-1"]`},
		{name: "no entry, no offset", in: `{"type":"viewers","count":3}`, want: `42/parties/p,["viewers",{"type":"viewers","count":3}]`},
		{name: "fresh welcome carries last_id",
			in:   `{"type":"welcome","last_id":"7-0","history":[{"type":"chat","stream_id":"6-0"}]}`,
			want: `42/parties/p,["welcome",{"type":"welcome","last_id":"7-0","history":[{"type":"chat","stream_id":"6-0"}]},"7-0"]`},
		{name: "resuming welcome keeps the client's offset", recovering: true,
			in:   `{"type":"welcome","last_id":"7-0","resumed":true}`,
			want: `42/parties/p,["welcome",{"type":"welcome","last_id":"7-0","resumed":true}]`},
		{name: "packets pass", in: `43/parties/p,1[{}]`, want: `43/parties/p,1[{}]`},
		{name: "engine ping passes", in: `2`, want: `2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &sioConn{ackID: -1, recovering: tt.recovering}
			x.nsp.Store(&nsp)
			if got := string(x.Frame([]byte(tt.in))); got != tt.want {
				t.Errorf("Frame(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestSocketIOClosingDisconnectsOnlyForGood(t *testing.T) {
	nsp := "/parties/p"
	x := &sioConn{ackID: -1}
	x.nsp.Store(&nsp)
	got := x.Closing(protocol.CloseRemoved, protocol.ReasonBanned)
	if len(got) != 2 || string(got[1]) != `41/parties/p,` ||
		string(got[0]) != `42/parties/p,["closing",{"type":"closing","code":4003,"reason":"banned"}]` {
		t.Errorf("Closing(4003) = %q", got)
	}
	for _, code := range []protocol.CloseCode{protocol.CloseGoingAway, protocol.CloseTryAgainLater} {
		if got := x.Closing(code, "x"); got != nil {
			t.Errorf("Closing(%v) = %q; want nothing, so the client reconnects", code, got)
		}
	}
}

func TestSocketIOReplies(t *testing.T) {
	nsp := "/parties/p"
	tests := []struct {
		name  string
		ackID int64
		v     any
		want  string
	}{
		{"ack through the ack id", 3, protocol.NewAck("c1", "e", "1-0"),
			`43/parties/p,3[{"event_id":"e","stream_id":"1-0"}]`},
		{"error through the ack id", 4, protocol.NewError("c1", protocol.CodeForbidden, "no"),
			`43/parties/p,4[{"error":{"code":"forbidden","message":"no"}}]`},
		{"error without an ack id is an event", -1, protocol.NewError("", protocol.CodeMuted, "m"),
			`{"type":"error","code":"muted","message":"m"}`},
		{"ack without an ack id is nothing", -1, protocol.NewAck("", "e", ""), ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conn{sio: &sioConn{ackID: tt.ackID}}
			c.sio.nsp.Store(&nsp)
			got, err := c.encodeReply(tt.v)
			if err != nil || string(got) != tt.want {
				t.Errorf("encodeReply = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestSocketIOInboundFrame(t *testing.T) {
	tests := []struct {
		name    string
		event   string
		args    []string
		want    string
		problem bool
	}{
		{name: "chat", event: "chat", args: []string{`{"id":"c1","text":"hi"}`}, want: `{"type":"chat","id":"c1","text":"hi"}`},
		{name: "like without payload", event: "like", want: `{"type":"like"}`},
		{name: "empty payload", event: "like", args: []string{` {} `}, want: `{"type":"like"}`},
		{name: "name is escaped", event: `a"b`, args: []string{`{}`}, want: `{"type":"a\"b"}`},
		{name: "type in payload", event: "chat", args: []string{`{"type":"ban"}`}, problem: true},
		{name: "two arguments", event: "chat", args: []string{`{}`, `{}`}, problem: true},
		{name: "array payload", event: "chat", args: []string{`[1]`}, problem: true},
		{name: "string payload", event: "chat", args: []string{`"hi"`}, problem: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []json.RawMessage
			for _, a := range tt.args {
				args = append(args, json.RawMessage(a))
			}
			got, problem := inboundFrame(tt.event, args)
			if (problem != "") != tt.problem || string(got) != tt.want {
				t.Errorf("inboundFrame(%q, %s) = %s, %q", tt.event, tt.args, got, problem)
			}
		})
	}
}

// BenchmarkSocketIOFrame is the framing a Socket.IO viewer's delivery
// costs over /ws's: one chat frame wrapped as an event with its offset.
func BenchmarkSocketIOFrame(b *testing.B) {
	nsp := "/parties/0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"
	x := &sioConn{ackID: -1}
	x.nsp.Store(&nsp)
	frame := []byte(`{"type":"chat","event_id":"0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b","stream_id":"1764619392345-0",` +
		`"user_id":"bob","name":"Bob","text":"12 1764619392345000000 benchmark chat, about as long as most","ts":"2026-12-01T20:03:12.345Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = x.Frame(frame)
	}
}
