package room

import (
	"log/slog"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/stream"
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

	mu          sync.Mutex
	viewers     map[*Viewer]struct{}
	recent      chatRing // the last chats delivered since Start
	lastID      string
	likes       int64
	playback    Playback
	ended       bool
	sentViewers int // the count last pushed to viewers
	onFrame     func(event.Type)
}

func newHub(party uuid.UUID, log *slog.Logger, onFrame func(event.Type), history int) *Hub {
	return &Hub{party: party, log: log, ready: make(chan struct{}), retired: make(chan struct{}),
		viewers: make(map[*Viewer]struct{}), onFrame: onFrame, playback: Playback{State: "paused"}, sentViewers: -1,
		recent: chatRing{max: history}}
}

var partyEndedFrame = []byte(`{"type":"party_ended"}`)

// Ended implements stream.Sink: every viewer gets party_ended, then a
// normal close.
func (h *Hub) Ended() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return
	}
	h.ended = true
	for v := range h.viewers {
		endViewer(v)
	}
}

func endViewer(v *Viewer) {
	v.Send(partyEndedFrame)
	v.Close(CloseNormal, "party ended")
}

// pushViewers sends the viewer count to every viewer when it changed.
func (h *Hub) pushViewers(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n == h.sentViewers || h.ended {
		return
	}
	h.sentViewers = n
	frame := []byte(`{"type":"viewers","count":` + strconv.Itoa(n) + `}`)
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
	if e.Type == event.Like && likes > h.likes {
		h.likes = likes
	}
	if e.Type.IsPlayback() && e.PositionMS != nil {
		ts := event.FormatTime(e.CreatedAt)
		h.playback.PositionMS, h.playback.UpdatedAt = *e.PositionMS, &ts
		switch e.Type {
		case event.Play:
			h.playback.State = "playing"
		case event.Pause:
			h.playback.State = "paused"
		}
	}
	if !e.Type.Broadcast() {
		return
	}
	frame, err := event.BroadcastFrame(e, likes)
	if err != nil {
		h.log.Error("encode broadcast frame", "party_id", h.party, "err", err)
		return
	}
	if e.Type == event.Chat {
		h.recent.add(frame)
	}
	for v := range h.viewers {
		v.deliver(frame, e.StreamID)
	}
	if h.onFrame != nil {
		h.onFrame(e.Type)
	}
}

// welcomeState is what a welcome carries from the hub, read under its
// lock: the stream position, the likes and playback it leaves, and the
// chats delivered since the hub started (oldest first, at most the
// configured history) that belong in the welcome's history.
type welcomeState struct {
	LastID   string
	Likes    int64
	Playback Playback
	Recent   [][]byte
}

// add registers v after running welcome under the hub's lock, so that no
// entry delivered after the welcome's last_id can be missed or come first.
func (h *Hub) add(v *Viewer, withRecent bool, welcome func(welcomeState)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := welcomeState{LastID: h.lastID, Likes: h.likes, Playback: h.playback}
	if withRecent {
		st.Recent = h.recent.frames()
	}
	welcome(st)
	h.viewers[v] = struct{}{}
	if h.ended {
		endViewer(v)
	}
}

// goLive ends v's catch-up if cursor has reached every entry delivered to
// the hub; otherwise the catch-up must read further.
func (h *Hub) goLive(v *Viewer, cursor string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if stream.After(h.lastID, cursor) {
		return false
	}
	if !stream.After(cursor, h.lastID) {
		cursor = "" // caught up exactly: nothing to skip
	}
	v.goLive(cursor)
	return true
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

// noteLikes raises the hub's like total to at least n.
func (h *Hub) noteLikes(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > h.likes {
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
