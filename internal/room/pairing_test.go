package room

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestPairing drives the pairing of acks with the sender's own broadcast
// frames through the orders they can come in: what is written when, and
// that entries keep stream order.
func TestPairing(t *testing.T) {
	a, b, other := uuid.New(), uuid.New(), uuid.New()
	type step struct {
		do   string // expect, forget, entry, skip, ack, ackCatchingUp, expire, answer
		ev   uuid.UUID
		id   string
		want []string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing in flight: frames pass", []step{
			{do: "entry", ev: other, id: "1-0", want: []string{"frame 1-0"}},
		}},
		{"ack first, then its frame", []step{
			{do: "expect", ev: a},
			{do: "ack", ev: a, id: "1-0"},
			{do: "entry", ev: a, id: "1-0", want: []string{"ack 1-0", "frame 1-0"}},
		}},
		{"frame first, then its ack", []step{
			{do: "expect", ev: a},
			{do: "entry", ev: a, id: "1-0"},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0", "frame 1-0"}},
		}},
		{"a later entry pushes a held frame out first", []step{
			{do: "expect", ev: a},
			{do: "entry", ev: a, id: "1-0"},
			{do: "entry", ev: other, id: "2-0", want: []string{"frame 1-0", "frame 2-0"}},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0"}},
		}},
		{"two in flight, acked out of order", []step{
			{do: "expect", ev: a},
			{do: "expect", ev: b},
			{do: "entry", ev: a, id: "1-0"},
			{do: "entry", ev: b, id: "2-0"},
			{do: "ack", ev: b, id: "2-0", want: []string{"frame 1-0", "ack 2-0", "frame 2-0"}},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0"}},
		}},
		{"an ack whose entry went by goes at once", []step{
			{do: "expect", ev: a},
			{do: "entry", ev: other, id: "5-0", want: []string{"frame 5-0"}},
			{do: "ack", ev: a, id: "4-0", want: []string{"ack 4-0"}},
		}},
		{"a waiting ack goes before a later entry", []step{
			{do: "expect", ev: a},
			{do: "ack", ev: a, id: "1-0"},
			{do: "entry", ev: other, id: "2-0", want: []string{"ack 1-0", "frame 2-0"}},
		}},
		{"time out: held frames, then waiting acks", []step{
			{do: "expect", ev: a},
			{do: "expect", ev: b},
			{do: "entry", ev: a, id: "1-0"},
			{do: "ack", ev: b, id: "2-0"},
			{do: "expire", want: []string{"frame 1-0", "ack 2-0"}},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0"}},
			{do: "entry", ev: b, id: "2-0", want: []string{"frame 2-0"}},
		}},
		{"a failed append lets its held frame go", []step{
			{do: "expect", ev: a},
			{do: "entry", ev: a, id: "1-0"},
			{do: "forget", ev: a, want: []string{"frame 1-0"}},
		}},
		{"a skipped frame is not held; the ack goes when it comes", []step{
			{do: "expect", ev: a},
			{do: "skip", ev: a, id: "1-0"},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0"}},
		}},
		{"an answer goes after the acks waiting for their entries", []step{
			{do: "expect", ev: a},
			{do: "expect", ev: b},
			{do: "entry", ev: a, id: "1-0"},
			{do: "ack", ev: b, id: "2-0"},
			{do: "answer", id: "pong", want: []string{"frame 1-0", "ack 2-0", "answer pong"}},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0"}},
			{do: "entry", ev: b, id: "2-0", want: []string{"frame 2-0"}},
		}},
		{"an answer with no ack waiting goes at once, leaving held frames", []step{
			{do: "expect", ev: a},
			{do: "entry", ev: a, id: "1-0"},
			{do: "answer", id: "pong", want: []string{"answer pong"}},
			{do: "ack", ev: a, id: "1-0", want: []string{"ack 1-0", "frame 1-0"}},
		}},
		{"while catching up the ack goes at once", []step{
			{do: "expect", ev: a},
			{do: "ackCatchingUp", ev: a, id: "1-0", want: []string{"ack 1-0"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pairing{flush: func() {}}
			defer func() {
				if p.timer != nil {
					p.timer.Stop()
				}
			}()
			for i, s := range tt.steps {
				var out [][]byte
				switch s.do {
				case "expect":
					p.expect(s.ev)
				case "forget":
					out = p.forget(s.ev)
				case "entry", "skip":
					out = p.entry([]byte("frame "+s.id), s.id, s.ev, s.do == "skip")
				case "ack", "ackCatchingUp":
					out = p.acked(s.ev, s.id, []byte("ack "+s.id), s.do == "ackCatchingUp")
				case "expire":
					out = p.expire()
				case "answer":
					out = p.answer([]byte("answer " + s.id))
				}
				got := []string{}
				for _, f := range out {
					got = append(got, string(f))
				}
				want := s.want
				if want == nil {
					want = []string{}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("step %d (%s %s): written (-want +got):\n%s", i, s.do, s.id, diff)
				}
			}
			if len(p.inflight)+len(p.held)+len(p.acks) != 0 {
				t.Fatalf("left over: %d in flight, %d held, %d acks", len(p.inflight), len(p.held), len(p.acks))
			}
		})
	}
}
