package room

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/olahol/melody"

	"github.com/watchparty/watchparty/pkg/auth"
	"github.com/watchparty/watchparty/pkg/stream"
)

// Close codes the gateway uses.
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	ClosePolicy        = 1008
	CloseTryAgainLater = 1013
	// CloseRemoved closes the connections of a user kicked ("kicked") or
	// banned ("banned") from the party by its host or a moderator.
	CloseRemoved = 4003
)

// Viewer is one open WebSocket of a party. Frames to it go through Send,
// which never blocks: a viewer whose queue of unwritten frames reaches the
// limit is closed with 1013 "slow_consumer" rather than silently missing
// frames (melody drops frames on a full buffer).
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

	limit   int64
	onSlow  func(*Viewer)
	queued  atomic.Int64  // frames handed to melody and not yet written
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
}

// NewViewer returns a viewer whose queue holds at most limit frames; limit
// must stay below melody's MessageBufferSize so the close frame still fits.
func NewViewer(s *melody.Session, party uuid.UUID, id auth.Identity, limit int, onSlow func(*Viewer)) *Viewer {
	v := &Viewer{Session: s, Party: party, Identity: id, limit: int64(limit), onSlow: onSlow,
		drained: make(chan struct{}, 1), done: make(chan struct{}), joined: time.Now()}
	v.pair.flush = v.flushPaired
	return v
}

// Sent records that melody wrote one of the viewer's frames (call it from
// melody's HandleSentMessage).
func (v *Viewer) Sent() {
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
	out := v.pair.entry(frame, id, event, skip)
	v.mu.Unlock()
	v.writeAll(out)
}

// writeAll hands frames to melody back to back: they are counted as
// queued before the first is handed over, so the connection writes them
// together (the gateway's coalescingConn).
func (v *Viewer) writeAll(frames [][]byte) {
	switch {
	case len(frames) == 0:
		return
	case len(frames) == 1:
		v.write(frames[0])
		return
	case v.closed.Load():
		return
	}
	n := int64(len(frames))
	if v.queued.Add(n) > v.limit {
		v.queued.Add(-n)
		v.slow()
		return
	}
	for i, f := range frames {
		if err := v.Session.Write(f); err != nil {
			v.queued.Add(-(n - int64(i)))
			return
		}
	}
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
	if err := v.Session.Write(frame); err != nil {
		v.queued.Add(-1)
	}
}

func (v *Viewer) slow() {
	if v.Close(CloseTryAgainLater, "slow_consumer") && v.onSlow != nil {
		v.onSlow(v)
	}
}

// Close sends a close frame with code and reason and stops further frames.
// What waited to be paired (see pairing.go) goes first: the ack of a
// stored event is never lost to a close. It reports whether this call
// closed the viewer.
func (v *Viewer) Close(code int, reason string) bool {
	if !v.closed.Load() {
		v.flushPaired()
	}
	if !v.closed.CompareAndSwap(false, true) {
		return false
	}
	v.code.Store(int32(code))
	v.Detach()
	_ = v.Session.CloseWithMsg(melody.FormatCloseMessage(code, reason))
	return true
}

// CloseCode is the code Close sent, or 0 when the gateway did not close
// the viewer.
func (v *Viewer) CloseCode() int { return int(v.code.Load()) }

var (
	framePrefix    = []byte(`{"type":"`)
	ackPrefix      = []byte(`{"type":"ack"`)
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
