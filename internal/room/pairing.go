package room

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/stream"
)

// A viewer that sends an event gets two frames for it: the ack, once the
// append returns, and its own broadcast frame, once the party's feed brings
// the entry. They come by two paths and either may come first. pairing
// holds the first back (at most pairWait) so that both are handed to the
// connection together and leave in one write instead of two: for a viewer
// who chats in a small party, that is half the system calls.
//
// Stream order is kept: a held broadcast frame is written before any later
// entry's frame. Frames that are not entries (acks of other events,
// errors, viewer counts) are not held. pairing is guarded by the viewer's
// mutex.
type pairing struct {
	inflight []uuid.UUID // the viewer's own events being appended, not yet acked
	held     []heldFrame // own broadcast frames waiting for their ack, in stream order
	acks     []heldAck   // acks waiting for their entry's broadcast frame
	lastSeen string      // the last entry handed to the viewer
	timer    *time.Timer
	armed    bool
	flush    func() // what the timer runs
}

type heldFrame struct {
	event uuid.UUID
	frame []byte
}

type heldAck struct {
	id    string // the entry the acknowledged event was stored as
	frame []byte
}

// pairWait bounds how long a frame waits for its partner: longer than the
// feed or the append reply take when they keep up.
const pairWait = 20 * time.Millisecond

// expect notes that the viewer's event is being appended: its broadcast
// frame may come before its ack.
func (p *pairing) expect(event uuid.UUID) { p.inflight = append(p.inflight, event) }

// forget drops event from those expected (its append failed or stored
// nothing new) and returns the held frames that must go now.
func (p *pairing) forget(event uuid.UUID) [][]byte {
	p.removeInflight(event)
	if i := p.heldIndex(event); i >= 0 {
		return p.takeHeld(i + 1)
	}
	return nil
}

// entry takes the broadcast frame of entry id (event) as the hub delivers
// it, skip saying the viewer does not get it, and returns the frames to
// write now, in order.
func (p *pairing) entry(frame []byte, id string, event uuid.UUID, skip bool) [][]byte {
	p.lastSeen = id
	if len(p.inflight) == 0 && len(p.held) == 0 && len(p.acks) == 0 {
		if skip {
			return nil
		}
		return [][]byte{frame}
	}
	if !skip && slices.Contains(p.inflight, event) {
		p.held = append(p.held, heldFrame{event: event, frame: frame})
		p.arm()
		return nil
	}
	out := p.takeHeld(len(p.held))
	out = append(out, p.takeAcks(id)...)
	if !skip {
		out = append(out, frame)
	}
	return out
}

// acked takes the ack of the viewer's event, stored as entry id, and
// returns the frames to write now, in order. catchingUp says live frames
// do not reach the viewer now: the ack goes at once.
func (p *pairing) acked(event uuid.UUID, id string, ack []byte, catchingUp bool) [][]byte {
	p.removeInflight(event)
	if i := p.heldIndex(event); i >= 0 {
		out := p.takeHeld(i) // earlier frames first
		out = append(out, ack)
		return append(out, p.takeHeld(1)...)
	}
	if catchingUp || (p.lastSeen != "" && !stream.After(id, p.lastSeen)) {
		return [][]byte{ack} // its entry went by
	}
	p.acks = append(p.acks, heldAck{id: id, frame: ack})
	p.arm()
	return nil
}

// answer takes frame, an answer to one of the viewer's frames that is not
// an ack waiting for its entry, and returns the frames to write now, in
// order: the acks waiting for their entries go first (with the frames
// held before them), so that no answer overtakes another.
func (p *pairing) answer(frame []byte) [][]byte {
	if len(p.acks) == 0 {
		return [][]byte{frame}
	}
	return append(p.expire(), frame)
}

// expire returns everything held, in order: a partner did not come in time.
func (p *pairing) expire() [][]byte {
	p.armed = false
	out := p.takeHeld(len(p.held))
	for _, a := range p.acks {
		out = append(out, a.frame)
	}
	clear(p.acks)
	p.acks = p.acks[:0]
	return out
}

func (p *pairing) arm() {
	switch {
	case p.armed:
	case p.timer == nil:
		p.timer, p.armed = time.AfterFunc(pairWait, p.flush), true
	default:
		p.timer.Reset(pairWait)
		p.armed = true
	}
}

// takeHeld removes and returns the first n held frames.
func (p *pairing) takeHeld(n int) [][]byte {
	if n == 0 {
		return nil
	}
	out := make([][]byte, n)
	for i := range n {
		out[i] = p.held[i].frame
	}
	rest := copy(p.held, p.held[n:])
	clear(p.held[rest:])
	p.held = p.held[:rest]
	return out
}

// takeAcks removes and returns the acks of entries up to id.
func (p *pairing) takeAcks(id string) [][]byte {
	var out [][]byte
	kept := p.acks[:0]
	for _, a := range p.acks {
		if stream.After(a.id, id) {
			kept = append(kept, a)
		} else {
			out = append(out, a.frame)
		}
	}
	clear(p.acks[len(kept):])
	p.acks = kept
	return out
}

func (p *pairing) heldIndex(event uuid.UUID) int {
	return slices.IndexFunc(p.held, func(h heldFrame) bool { return h.event == event })
}

func (p *pairing) removeInflight(event uuid.UUID) {
	if i := slices.Index(p.inflight, event); i >= 0 {
		p.inflight = slices.Delete(p.inflight, i, i+1)
	}
}

// Expect tells the viewer that its event is being appended, before the
// append: the event's broadcast frame then waits (a little) for its ack.
// Every Expect is followed by Acked or Unexpect.
func (v *Viewer) Expect(event uuid.UUID) {
	v.mu.Lock()
	v.pair.expect(event)
	v.mu.Unlock()
}

// Unexpect says the append of event ended without a new entry (refused,
// failed, or a resend of an entry acknowledged before).
func (v *Viewer) Unexpect(event uuid.UUID) {
	v.mu.Lock()
	over := v.queueFrames(v.pair.forget(event))
	v.mu.Unlock()
	if over {
		v.slow()
	}
}

// Acked sends ack, the acknowledgement of the viewer's event stored as
// entry id, together with the event's broadcast frame when that is held or
// comes within pairWait.
func (v *Viewer) Acked(event uuid.UUID, id string, ack []byte) {
	v.mu.Lock()
	over := v.queueFrames(v.pair.acked(event, id, ack, v.catchingUp))
	v.mu.Unlock()
	if over {
		v.slow()
	}
}

// Answer sends frame, the answer to one of the viewer's frames that is
// not an ack of a stored event (an error, a pong, the ack of a resend),
// after the acks that wait for their broadcast frames: a client gets the
// answers to its frames in the order it sent them.
func (v *Viewer) Answer(frame []byte) {
	v.mu.Lock()
	over := v.queueFrames(v.pair.answer(frame))
	v.mu.Unlock()
	if over {
		v.slow()
	}
}

// flushPaired writes what waited for a partner that did not come in time.
func (v *Viewer) flushPaired() {
	v.mu.Lock()
	over := v.queueFrames(v.pair.expire())
	v.mu.Unlock()
	if over {
		v.slow()
	}
}
