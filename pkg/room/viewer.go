// Package room keeps each gateway process's viewers grouped by party and
// fans every entry of a party's stream out to them, encoded once per process.
// It is this project's code, not a public API.
package room

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/olahol/melody"

	"github.com/watchparty/watchparty/pkg/auth"
)

// Close codes the gateway uses.
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	ClosePolicy        = 1008
	CloseTryAgainLater = 1013
)

// Viewer is one open WebSocket of a party. Frames to it go through Send,
// which never blocks: a viewer whose queue of unwritten frames reaches the
// limit is closed with 1013 "slow_consumer" rather than silently missing
// frames (melody drops frames on a full buffer).
type Viewer struct {
	Session  *melody.Session
	Party    uuid.UUID
	Identity auth.Identity

	limit  int64
	onSlow func(*Viewer)
	queued atomic.Int64 // frames handed to melody and not yet written
	closed atomic.Bool

	mu         sync.Mutex
	catchingUp bool
	backlog    [][]byte
}

// NewViewer returns a viewer whose queue holds at most limit frames; limit
// must stay below melody's MessageBufferSize so the close frame still fits.
func NewViewer(s *melody.Session, party uuid.UUID, id auth.Identity, limit int, onSlow func(*Viewer)) *Viewer {
	return &Viewer{Session: s, Party: party, Identity: id, limit: int64(limit), onSlow: onSlow}
}

// Sent records that melody wrote one of the viewer's frames (call it from
// melody's HandleSentMessage).
func (v *Viewer) Sent() { v.queued.Add(-1) }

// Send queues frame for the viewer, behind any catch-up in progress.
func (v *Viewer) Send(frame []byte) {
	v.mu.Lock()
	if v.catchingUp {
		v.backlog = append(v.backlog, frame)
		over := int64(len(v.backlog)) > 4*v.limit
		v.mu.Unlock()
		if over {
			v.slow()
		}
		return
	}
	v.mu.Unlock()
	v.write(frame)
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
// It reports whether this call closed the viewer.
func (v *Viewer) Close(code int, reason string) bool {
	if !v.closed.CompareAndSwap(false, true) {
		return false
	}
	_ = v.Session.CloseWithMsg(melody.FormatCloseMessage(code, reason))
	return true
}

// Closed reports whether Close was called.
func (v *Viewer) Closed() bool { return v.closed.Load() }

func (v *Viewer) startCatchUp() {
	v.mu.Lock()
	v.catchingUp = true
	v.mu.Unlock()
}

// endCatchUp writes what arrived live during the catch-up and goes live.
func (v *Viewer) endCatchUp() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range v.backlog {
		v.write(f)
	}
	v.backlog, v.catchingUp = nil, false
}
