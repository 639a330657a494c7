package room

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/olahol/melody"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/stream"
)

// Viewer is one open WebSocket of a party. Frames to it go through Send,
// which never blocks: a viewer whose queue of unwritten frames reaches the
// limit is closed with 1013 "slow_consumer" rather than silently missing
// frames (melody drops frames on a full buffer).
//
// The queue has two parts. melody's session buffer is allocated for every
// viewer, idle or not, so it is kept small; frames beyond it wait in the
// viewer's overflow, which exists only while it holds frames and is moved
// into melody's buffer as melody writes (see Sent). A viewer that keeps
// up never uses the overflow; one given a burst it did not cause (a feed
// catching up after a Redis restart) holds the burst there instead of
// every viewer paying for room it rarely needs.
//
// A viewer resuming with since is "catching up" until it has been sent
// every entry up to the party's live position: meanwhile live entries are
// not queued for it (the catch-up reads them from the stream, page by page
// as the socket drains), so a long catch-up costs no memory and never
// counts as slow.
type Viewer struct {
	Session  *melody.Session
	Party    uuid.UUID
	Identity auth.Identity
	// Host says the viewer's user hosts the party; set before Join.
	Host bool

	limit   int64
	onSlow  func(*Viewer)
	queued  atomic.Int64  // frames queued (in melody's buffer or the overflow) and not yet written
	drained chan struct{} // signalled when a frame was written during a catch-up
	closed  atomic.Bool
	code    atomic.Int32  // the close code of Close, 0 until then
	done    chan struct{} // closed by Close or Detach
	joined  time.Time     // when the viewer was created
	stop    sync.Once

	mu         sync.Mutex
	catchingUp bool
	cursor     string  // live entries up to this id are skipped: sent by the catch-up or covered by the welcome
	pair       pairing // the viewer's own events' acks and broadcast frames

	// outMu orders the hand-over of frames to melody. It is taken last:
	// nothing is called under it that could take another lock of the
	// viewer (melody's Write does not block, as there is room).
	outMu    sync.Mutex
	slots    int      // frames melody's buffer may hold, one slot left for the close frame
	inMelody int      // frames handed to melody and not yet written
	overflow [][]byte // frames waiting for a slot, in order; nil when empty
	closing  []byte   // the close frame, waiting behind the overflow
	framing  Framing  // nil: frames go out as they are
}

// Framing turns the frames a viewer is sent (the /ws JSON frames, shared
// by every viewer of the party) into what its connection carries, such
// as Socket.IO packets. Its methods are called under the viewer's output
// lock, in write order: they must not block or call the viewer.
type Framing interface {
	// Frame returns what to write for frame.
	Frame(frame []byte) []byte
	// Closing returns the frames to write before the close frame of
	// Close(code, reason), if any.
	Closing(code protocol.CloseCode, reason string) [][]byte
}

// SetFraming makes every later frame of v go through f. Call it before
// the viewer joins its room.
func (v *Viewer) SetFraming(f Framing) {
	v.outMu.Lock()
	v.framing = f
	v.outMu.Unlock()
}

// NewViewer returns a viewer whose queue holds at most limit frames, of
// which at most sessionBuffer-1 (melody's MessageBufferSize, less a slot
// for the close frame) are in melody's buffer at a time.
func NewViewer(s *melody.Session, party uuid.UUID, id auth.Identity, limit, sessionBuffer int, onSlow func(*Viewer)) *Viewer {
	v := &Viewer{Session: s, Party: party, Identity: id, limit: int64(limit), onSlow: onSlow,
		slots:   max(1, sessionBuffer-1),
		drained: make(chan struct{}, 1), done: make(chan struct{}), joined: time.Now()}
	v.pair.flush = v.flushPaired
	return v
}

// Sent records that melody wrote one of the viewer's frames (call it from
// melody's HandleSentMessage, which runs on the session's writer): the
// slot it freed goes to the oldest frame in the overflow.
func (v *Viewer) Sent() {
	v.outMu.Lock()
	v.inMelody--
	for len(v.overflow) > 0 && v.inMelody < v.slots {
		v.handLocked(v.overflow[0])
		v.overflow[0] = nil
		v.overflow = v.overflow[1:]
	}
	if len(v.overflow) == 0 {
		v.overflow = nil
		if v.closing != nil {
			_ = v.Session.CloseWithMsg(v.closing)
			v.closing = nil
		}
	}
	v.outMu.Unlock()
	v.queued.Add(-1)
	select {
	case v.drained <- struct{}{}:
	default:
	}
}

// Queued is the number of the viewer's frames handed to melody and not
// yet written (the one being written included).
func (v *Viewer) Queued() int64 { return v.queued.Load() }

// Send queues a frame that is not a stream entry (ack, error, viewers,
// party_ended): it goes out at once, even during a catch-up.
func (v *Viewer) Send(frame []byte) { v.write(frame) }

// deliver queues the broadcast frame of stream entry id (event event),
// unless the viewer is catching up or its catch-up already sent that
// entry; the frame of the viewer's own event waits for its ack (see
// pairing.go).
func (v *Viewer) deliver(frame []byte, id string, event uuid.UUID) {
	v.mu.Lock()
	skip := v.catchingUp
	if !skip && v.cursor != "" { // sent by the catch-up or covered by the welcome
		if skip = !stream.After(id, v.cursor); !skip {
			v.cursor = ""
		}
	}
	over := v.queueFrames(v.pair.entry(frame, id, event, skip))
	v.mu.Unlock()
	if over {
		v.slow()
	}
}

// queueFrames hands frames to melody back to back: they are counted as
// queued before the first is handed over, so the connection writes them
// together (the gateway's coalescingConn). It reports whether they would
// take the viewer past its limit: then none is queued, and the caller
// closes the viewer (slow) once it holds no lock. The pairing's callers
// queue what it returns under v.mu, so that frames leave in the order
// the pairing released them (a frame released later by another
// goroutine cannot overtake them).
func (v *Viewer) queueFrames(frames [][]byte) (over bool) {
	if len(frames) == 0 || v.closed.Load() {
		return false
	}
	n := int64(len(frames))
	if v.queued.Add(n) > v.limit {
		v.queued.Add(-n)
		return true
	}
	v.outMu.Lock()
	for _, f := range frames {
		v.enqueueLocked(f)
	}
	v.outMu.Unlock()
	return false
}

// write hands frame to melody unless the viewer is closing.
func (v *Viewer) write(frame []byte) {
	if v.closed.Load() {
		return
	}
	if v.queued.Add(1) > v.limit {
		v.queued.Add(-1)
		v.slow()
		return
	}
	v.outMu.Lock()
	v.enqueueLocked(frame)
	v.outMu.Unlock()
}

// enqueueLocked hands frame to melody when it has a slot and nothing waits
// before it, else adds it to the overflow.
func (v *Viewer) enqueueLocked(frame []byte) {
	if len(v.overflow) == 0 && v.inMelody < v.slots {
		v.handLocked(frame)
		return
	}
	v.overflow = append(v.overflow, frame)
}

// handLocked gives frame to melody. A frame melody refuses (the session
// is closed) will never be written: it leaves the queue.
func (v *Viewer) handLocked(frame []byte) {
	if v.framing != nil {
		frame = v.framing.Frame(frame)
	}
	if err := v.Session.Write(frame); err != nil {
		v.queued.Add(-1)
		return
	}
	v.inMelody++
}

func (v *Viewer) slow() {
	if v.Close(protocol.CloseTryAgainLater, protocol.ReasonSlowConsumer) && v.onSlow != nil {
		v.onSlow(v)
	}
}

// Close sends a close frame with code and reason and stops further frames.
// The frames queued before it, and what waited to be paired (see
// pairing.go), go first: the ack of a stored event is never lost to a
// close. It reports whether this call closed the viewer.
func (v *Viewer) Close(code protocol.CloseCode, reason string) bool {
	if !v.closed.Load() {
		v.flushPaired()
	}
	if !v.closed.CompareAndSwap(false, true) {
		return false
	}
	v.code.Store(int32(code.Int()))
	v.Detach()
	msg := melody.FormatCloseMessage(code.Int(), reason)
	v.outMu.Lock()
	if v.framing != nil {
		for _, f := range v.framing.Closing(code, reason) {
			v.queued.Add(1) // over the limit if need be: the close comes next
			v.enqueueLocked(f)
		}
	}
	if len(v.overflow) > 0 {
		v.closing = msg // after the frames queued before it (see Sent)
	} else {
		_ = v.Session.CloseWithMsg(msg)
	}
	v.outMu.Unlock()
	return true
}

// CloseCode is the code Close sent, or 0 when the gateway did not close
// the viewer.
func (v *Viewer) CloseCode() int { return int(v.code.Load()) }

var (
	framePrefix    = []byte(`{"type":"`)
	ackPrefix      = []byte(`{"type":"` + protocol.FrameAck + `"`)
	streamIDMarker = []byte(`,"stream_id":"`)
)

// DeliveryLatency is how long the stream entry a just-written frame
// carries took from its stream time (when Redis stored it) to now, for a
// live broadcast frame; ok is false for other frames (welcome, ack, error,
// viewers) and for entries older than the viewer's connection, which a
// catch-up replays. It reads the id without decoding the JSON: it runs for
// every frame written.
func (v *Viewer) DeliveryLatency(frame []byte, now time.Time) (d time.Duration, ok bool) {
	if !bytes.HasPrefix(frame, framePrefix) || bytes.HasPrefix(frame, ackPrefix) {
		return 0, false
	}
	i := bytes.Index(frame, streamIDMarker)
	if i < 0 {
		return 0, false
	}
	rest := frame[i+len(streamIDMarker):]
	j := bytes.IndexByte(rest, '-')
	if j <= 0 {
		return 0, false
	}
	ms, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	at := time.UnixMilli(ms)
	if at.Before(v.joined.Truncate(time.Millisecond)) {
		return 0, false
	}
	return max(0, now.Sub(at)), true
}

// Detach stops the viewer's catch-up, if any (its connection is gone).
func (v *Viewer) Detach() { v.stop.Do(func() { close(v.done) }) }

// Closed reports whether Close was called.
func (v *Viewer) Closed() bool { return v.closed.Load() }

// startCatchUp holds live entries back until goLive; since is the last
// entry the client saw.
func (v *Viewer) startCatchUp(since string) {
	v.mu.Lock()
	v.catchingUp, v.cursor = true, since
	v.mu.Unlock()
}

// skipThrough makes a live viewer skip the entries up to id (those its
// welcome covers); a catching-up viewer keeps its own cursor.
func (v *Viewer) skipThrough(id string) {
	if id == "" {
		return
	}
	v.mu.Lock()
	if !v.catchingUp {
		v.cursor = id
	}
	v.mu.Unlock()
}

// goLive ends the catch-up. cursor is the last entry it sent, at or past
// every entry the hub has: live entries up to it are skipped.
func (v *Viewer) goLive(cursor string) {
	v.mu.Lock()
	v.catchingUp, v.cursor = false, cursor
	v.mu.Unlock()
}

// waitRoom waits until n more frames fit in the viewer's queue. It reports
// false when the viewer was closed or detached first.
func (v *Viewer) waitRoom(n int) bool {
	for v.queued.Load()+int64(n) > v.limit {
		select {
		case <-v.drained:
		case <-v.done:
			return false
		}
	}
	select {
	case <-v.done:
		return false
	default:
		return true
	}
}
