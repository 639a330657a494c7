package room

import (
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/stream"
)

// Hub is one party's viewers on this process. It is the party's
// stream.Sink: entries arrive in stream order and each is encoded once and
// queued to every viewer.
type Hub struct {
	party uuid.UUID
	log   *slog.Logger
	ready chan struct{} // closed once the feed follows the party
	err   error         // set before ready closes when following failed
	// retiring (guarded by Rooms.mu) says the last viewer left and the
	// party is being unfollowed; retired is closed once it was.
	retiring bool
	retired  chan struct{}

	// startID is the stream position the hub started following at (set
	// by Start, before ready closes); the chats up to it are read once,
	// off the hub's lock, into early.
	startID string
	early   earlyHistory

	mu        sync.Mutex
	viewers   map[*Viewer]struct{}
	recent    chatRing  // the last chats delivered since Start
	forgotten forgotten // chats deleted, and users erased, since Start
	// banned holds the users banned by entries delivered since Start,
	// less those unbanned since: a viewer of theirs added later is
	// refused its welcome (see add).
	banned map[string]bool
	// moderators holds, for the users whose role entries delivered since
	// Start changed, whether they moderate now (see add).
	moderators  map[string]bool
	lastID      string
	likes       int64
	likesSet    int64 // how many times Likes set likes
	playback    Playback
	ended       bool
	sentViewers int // the count last pushed to viewers
	onFrame     func(event.Type)
	// pending holds the broadcast frames (and the end) delivered to the
	// hub and not yet fanned out; fanning says a fan-out goroutine runs.
	pending []pendingFrame
	fanning bool
}

// pendingFrame is an entry's broadcast frame, the party's end, or the
// removal of a kicked or banned user's viewers (closed with reason).
type pendingFrame struct {
	frame          []byte
	id             string
	event          uuid.UUID
	end            bool
	remove, reason string
}

func newHub(party uuid.UUID, log *slog.Logger, onFrame func(event.Type), history int) *Hub {
	return &Hub{party: party, log: log, ready: make(chan struct{}), retired: make(chan struct{}),
		viewers: make(map[*Viewer]struct{}), onFrame: onFrame, playback: Playback{State: "paused"}, sentViewers: -1,
		recent: chatRing{max: history}}
}

var partyEndedFrame = []byte(`{"type":"` + protocol.FramePartyEnded + `"}`)

// Ended implements stream.Sink: every viewer gets party_ended, then a
// normal close.
func (h *Hub) Ended() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return
	}
	h.ended = true
	h.queueLocked(pendingFrame{end: true}) // after the entries still pending
}

func endViewer(v *Viewer) {
	v.flushPaired() // acks of events stored before the end come before it
	v.Send(partyEndedFrame)
	v.Close(protocol.CloseNormal, protocol.ReasonPartyEnded)
}

// Erased implements stream.Sink: welcomes leave out user's chats created
// until at, which the hub may hold from before the erasure.
func (h *Hub) Erased(user string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.forgotten.erased == nil {
		h.forgotten.erased = make(map[string]time.Time)
	}
	if at.After(h.forgotten.erased[user]) {
		h.forgotten.erased[user] = at
	}
}

// Likes implements stream.Sink: the party's like total went down to total
// (an erased like). A join's read of the total from before it no longer
// counts (noteLikes).
func (h *Hub) Likes(total int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.likes = total
	h.likesSet++
}

// pushViewers sends the viewer count to every viewer when it changed.
func (h *Hub) pushViewers(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n == h.sentViewers || h.ended {
		return
	}
	h.sentViewers = n
	frame := []byte(`{"type":"` + string(event.Viewers) + `","count":` + strconv.Itoa(n) + `}`)
	for v := range h.viewers {
		v.Send(frame)
	}
}

// Start implements stream.Sink: the playback state comes with the last
// id, read together, so no play/pause/seek can fall between them.
func (h *Hub) Start(snap stream.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastID, h.startID = snap.LastID, snap.LastID
	h.playback = Playback{State: snap.Playback.State, PositionMS: snap.Playback.PositionMS}
	if snap.Playback.UpdatedAt != "" {
		updated := snap.Playback.UpdatedAt
		h.playback.UpdatedAt = &updated
	}
}

// Deliver implements stream.Sink.
func (h *Hub) Deliver(e event.Event, likes int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastID = e.StreamID
	k := e.Type.Kind()
	if k.Room.Likes && likes > h.likes {
		h.likes = likes
	}
	if k.Redis == event.SetsPlayback && e.PositionMS != nil {
		ts := event.FormatTime(e.CreatedAt)
		h.playback.PositionMS, h.playback.UpdatedAt = *e.PositionMS, &ts
		if k.PlaybackState != "" {
			h.playback.State = k.PlaybackState
		}
	}
	if !k.Broadcast {
		return
	}
	frame, err := event.BroadcastFrame(e, likes)
	if err != nil {
		h.log.Error("encode broadcast frame", "party_id", h.party, "err", err)
		return
	}
	h.keepLocked(e, k, frame)
	h.queueLocked(pendingFrame{frame: frame, id: e.StreamID, event: e.ID})
	if k.Room.Removes != "" {
		h.queueLocked(pendingFrame{remove: e.Target, reason: k.Room.Removes})
	}
	if h.onFrame != nil {
		h.onFrame(e.Type)
	}
}

// keepLocked keeps what the room must remember of e, as its kind declares
// (event.Room): a chat for welcomes, a hidden chat, a ban, a role.
func (h *Hub) keepLocked(e event.Event, k event.Kind, frame []byte) {
	if k.Room.History {
		h.recent.add(chatFrameOf(e, frame))
	}
	if k.Hides {
		if h.forgotten.deleted == nil {
			h.forgotten.deleted = make(map[uuid.UUID]bool)
		}
		h.forgotten.deleted[e.TargetEvent] = true
	}
	switch {
	case k.Room.Bars:
		if h.banned == nil {
			h.banned = make(map[string]bool)
		}
		h.banned[e.Target] = true
	case k.Room.Unbars:
		delete(h.banned, e.Target)
	}
	if k.Room.Role != 0 {
		if h.moderators == nil {
			h.moderators = make(map[string]bool)
		}
		h.moderators[e.Target] = k.Room.Role > 0 // a ban ends the role too
	}
}

// welcomeState is what a welcome carries from the hub, read under its
// lock: the stream position, the likes and playback it leaves, and the
// chats delivered since the hub started (oldest first, at most the
// configured history) that belong in the welcome's history, and the chats
// deleted and users erased since then, which it leaves out.
type welcomeState struct {
	LastID    string
	Likes     int64
	Playback  Playback
	Recent    []chatFrame
	Forgotten forgotten
	Moderator bool // the viewer's user moderates the party as of LastID
}

// queueLocked adds f to the frames to fan out and starts the fan-out
// goroutine unless it runs.
func (h *Hub) queueLocked(f pendingFrame) {
	h.pending = append(h.pending, f)
	if !h.fanning {
		h.fanning = true
		go h.fanOut()
	}
}

// fanOut sends the pending frames to the viewers until none are left. It
// runs apart from the feed, so that entries arriving while it writes to
// many viewers gather in pending: the next round then queues them to each
// viewer back to back, and the viewer's connection writes them with one
// system call (see the gateway's coalescingConn). Each round takes the
// pending frames and the viewers together under the hub's lock: a viewer
// added later got a welcome whose last_id covers those frames, and its
// rounds skip the entries up to that id (see add).
func (h *Hub) fanOut() {
	var batch []pendingFrame
	var viewers []*Viewer
	for {
		h.mu.Lock()
		if len(h.pending) == 0 {
			h.fanning = false
			h.mu.Unlock()
			return
		}
		batch, h.pending = h.pending, batch[:0]
		viewers = viewers[:0]
		for v := range h.viewers {
			viewers = append(viewers, v)
		}
		h.mu.Unlock()
		for _, v := range viewers {
			for _, f := range batch {
				if f.end {
					endViewer(v)
					break
				}
				if f.remove != "" {
					if v.Identity.UserID == f.remove {
						v.Close(protocol.CloseRemoved, f.reason)
						break
					}
					continue
				}
				v.deliver(f.frame, f.id, f.event)
			}
		}
		clear(batch)
		clear(viewers)
	}
}

// add registers v after running welcome under the hub's lock, so that no
// entry delivered after the welcome's last_id can be missed or come first.
// add welcomes v at the hub's position and adds it, unless its user was
// banned by an entry the hub delivered (false): the welcome would cover
// the ban, so its removal would never reach v.
//
// moderator says whether v's user was a moderator when its standing was
// read, before the hub's position; a change the hub delivered since
// overrides it.
func (h *Hub) add(v *Viewer, withRecent, moderator bool, welcome func(welcomeState)) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.banned[v.Identity.UserID] {
		return false
	}
	if m, changed := h.moderators[v.Identity.UserID]; changed {
		moderator = m
	}
	st := welcomeState{LastID: h.lastID, Likes: h.likes, Playback: h.playback, Moderator: moderator}
	if withRecent {
		st.Recent = h.recent.frames()
		st.Forgotten = forgotten{deleted: maps.Clone(h.forgotten.deleted), erased: maps.Clone(h.forgotten.erased)}
	}
	welcome(st)
	// Frames still pending are of entries up to lastID, which the
	// welcome covers: the viewer skips them.
	v.skipThrough(h.lastID)
	h.viewers[v] = struct{}{}
	if h.ended {
		endViewer(v)
	}
	return true
}

// goLive ends v's catch-up if cursor has reached every entry delivered to
// the hub; otherwise the catch-up must read further.
func (h *Hub) goLive(v *Viewer, cursor string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if stream.After(h.lastID, cursor) {
		return false
	}
	// cursor is at or past every entry the hub has: frames of entries up
	// to it may still be pending, and the viewer skips them.
	v.goLive(cursor)
	return true
}

// goLiveNow ends v's catch-up at the hub's live position: v gets the
// entries after it.
func (h *Hub) goLiveNow(v *Viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v.goLive(h.lastID)
}

// remove unregisters v and reports how many viewers are left.
func (h *Hub) remove(v *Viewer) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.viewers, v)
	return len(h.viewers)
}

// Len is the number of the party's viewers on this process.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.viewers)
}

// likesRead is what a join notes before it reads the party's like total
// from Redis (see noteLikes).
func (h *Hub) likesRead() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.likesSet
}

// noteLikes raises the hub's like total to at least n, which a join read
// after likesRead returned read: unless an erased like set the total
// since, as n may be from before it.
func (h *Hub) noteLikes(n, read int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > h.likes && h.likesSet == read {
		h.likes = n
	}
}

// each calls fn for every viewer.
func (h *Hub) each(fn func(*Viewer)) {
	h.mu.Lock()
	vs := make([]*Viewer, 0, len(h.viewers))
	for v := range h.viewers {
		vs = append(vs, v)
	}
	h.mu.Unlock()
	for _, v := range vs {
		fn(v)
	}
}
