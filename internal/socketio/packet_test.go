package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Packet
		bad  bool
	}{
		{name: "connect main", in: `0`, want: Packet{Type: Connect, Namespace: "/", ID: -1}},
		{name: "connect with auth", in: `0/parties/p,{"token":"t"}`,
			want: Packet{Type: Connect, Namespace: "/parties/p", ID: -1, Data: json.RawMessage(`{"token":"t"}`)}},
		{name: "connect namespace only", in: `0/parties/p`, want: Packet{Type: Connect, Namespace: "/parties/p", ID: -1}},
		{name: "event", in: `2["chat",{"text":"hi"}]`,
			want: Packet{Type: Event, Namespace: "/", ID: -1, Data: json.RawMessage(`["chat",{"text":"hi"}]`)}},
		{name: "event with ack id", in: `2/parties/p,12["like"]`,
			want: Packet{Type: Event, Namespace: "/parties/p", ID: 12, Data: json.RawMessage(`["like"]`)}},
		{name: "ack", in: `3/parties/p,4[]`, want: Packet{Type: Ack, Namespace: "/parties/p", ID: 4, Data: json.RawMessage(`[]`)}},
		{name: "disconnect", in: `1/parties/p,`, want: Packet{Type: Disconnect, Namespace: "/parties/p", ID: -1}},
		{name: "connect error", in: `4{"message":"no"}`,
			want: Packet{Type: ConnectError, Namespace: "/", ID: -1, Data: json.RawMessage(`{"message":"no"}`)}},
		{name: "binary event", in: `51-/parties/p,3["chat",{"_placeholder":true,"num":0}]`,
			want: Packet{Type: BinaryEvent, Namespace: "/parties/p", ID: 3, Attachments: 1,
				Data: json.RawMessage(`["chat",{"_placeholder":true,"num":0}]`)}},
		{name: "empty", in: ``, bad: true},
		{name: "unknown type", in: `7[]`, bad: true},
		{name: "letter type", in: `x`, bad: true},
		{name: "event not json", in: `2["chat",{`, bad: true},
		{name: "event not array", in: `2{"a":1}`, bad: true},
		{name: "event empty array", in: `2[]`, bad: true},
		{name: "event name not string", in: `2[1,{}]`, bad: true},
		{name: "connect array", in: `0["x"]`, bad: true},
		{name: "disconnect with data", in: `1{}`, bad: true},
		{name: "ack id too long", in: `21234567890123456["like"]`, bad: true},
		{name: "binary without dash", in: `51["chat"]`, bad: true},
		{name: "binary count not a number", in: `5x-["chat"]`, bad: true},
		{name: "trailing garbage", in: `2["like"]x`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if tt.bad {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Decode(%q) = %+v, %v; want ErrMalformed", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestEventSplitsNameAndArgs(t *testing.T) {
	p, err := Decode([]byte(`2/parties/p,7["chat",{"text":"a"},"x"]`))
	if err != nil {
		t.Fatal(err)
	}
	name, args, err := p.Event()
	if err != nil || name != "chat" || len(args) != 2 || string(args[0]) != `{"text":"a"}` {
		t.Fatalf("Event() = %q, %q, %v", name, args, err)
	}
}

func TestAppendRoundTrips(t *testing.T) {
	for _, p := range []Packet{
		{Type: Connect, Namespace: "/parties/p", ID: -1, Data: json.RawMessage(`{"sid":"s","pid":"p"}`)},
		{Type: Event, Namespace: "/parties/p", ID: -1, Data: json.RawMessage(`["chat",{"type":"chat"},"1-0"]`)},
		{Type: Ack, Namespace: "/parties/p", ID: 9, Data: json.RawMessage(`[{"event_id":"e"}]`)},
		{Type: Disconnect, Namespace: "/parties/p", ID: -1},
		{Type: ConnectError, Namespace: "/", ID: -1, Data: json.RawMessage(`{"message":"m"}`)},
	} {
		b := p.Append(nil)
		if b[0] != EngineMessage {
			t.Fatalf("%q: no Engine.IO message byte", b)
		}
		got, err := Decode(b[1:])
		if err != nil {
			t.Fatalf("Decode(%q): %v", b, err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", b, diff)
		}
	}
}

// FuzzDecode checks that Decode never panics, that what it accepts has a
// payload of valid JSON, and that re-encoding an accepted text packet
// decodes to the same packet.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`0`, `0/parties/p,{"token":"t","pid":"x","offset":"1-0"}`, `2/parties/p,1["chat",{"text":"hi"}]`,
		`3/p,2[]`, `1/p,`, `451-/p,3["chat",{"_placeholder":true,"num":0}]`, `4"x"`, `2["a"`, `2/p`, `2/,`, `5-`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%q): error %v does not wrap ErrMalformed", in, err)
			}
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("Decode(%q) accepted invalid JSON %q", in, p.Data)
		}
		if p.Type == BinaryEvent || p.Type == BinaryAck || bytes.ContainsRune([]byte(p.Namespace), ',') {
			return
		}
		if p.Namespace != "/" && p.Data != nil && p.Data[0] >= '0' && p.Data[0] <= '9' && p.ID < 0 {
			return // a number payload after a namespace reads back as an ack id
		}
		again, err := Decode(p.Append(nil)[1:])
		if err != nil {
			t.Fatalf("re-encoding of %q does not decode: %v", in, err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("round trip of %q (-first +again):\n%s", in, diff)
		}
	})
}
