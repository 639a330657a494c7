package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/moderation"
	"github.com/watchparty/watchparty/internal/presence"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
)

// Rooms indexes this process's hubs by party, following a party's stream
// while it has at least one viewer here. It is safe for concurrent use.
type Rooms struct {
	rdb      rdb.Client
	feed     *stream.Feed
	presence *presence.Presence
	log      *slog.Logger
	onFrame  func(event.Type)
	history  History

	mu   sync.Mutex
	hubs map[uuid.UUID]*Hub
	wg   sync.WaitGroup // catch-ups

	beforeFollow func()          // test hook: runs as a new hub starts following
	unfollow     func(uuid.UUID) // feed.Unfollow; a test may slow it down
}

// NewRooms returns an empty index. onFrame, if set, is told of each
// broadcast frame fanned out (once per process, not per viewer). hist says
// how many of the party's last chats a new viewer's welcome carries.
func NewRooms(rdb rdb.Client, feed *stream.Feed, pres *presence.Presence, log *slog.Logger,
	onFrame func(event.Type), hist History) *Rooms {
	if hist.Reader == nil {
		hist.Size = 0
	}
	return &Rooms{rdb: rdb, feed: feed, presence: pres, log: log, onFrame: onFrame, history: hist,
		hubs: make(map[uuid.UUID]*Hub), unfollow: feed.Unfollow}
}

// Run pushes each party's viewer count to its viewers at most once a
// second, when it changed, until ctx ends; then it waits for the catch-ups
// of viewers, which end when their viewers are closed.
func (r *Rooms) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return nil
		case <-t.C:
		}
		for _, h := range r.snapshot() {
			n, err := r.presence.Total(ctx, h.party)
			if err != nil {
				continue
			}
			h.pushViewers(n)
		}
	}
}

func (r *Rooms) snapshot() []*Hub {
	r.mu.Lock()
	defer r.mu.Unlock()
	hubs := make([]*Hub, 0, len(r.hubs))
	for _, h := range r.hubs {
		hubs = append(hubs, h)
	}
	return hubs
}

// Playback is a party's playback state as the welcome frame carries it.
type Playback struct {
	State      string  `json:"state"`
	PositionMS int64   `json:"position_ms"`
	UpdatedAt  *string `json:"updated_at"`
}

// Welcome is the first frame a viewer receives.
type Welcome struct {
	Type     string   `json:"type"`
	PartyID  string   `json:"party_id"`
	UserID   string   `json:"user_id"`
	Viewers  int      `json:"viewers"`
	Likes    int64    `json:"likes"`
	Playback Playback `json:"playback"`
	LastID   string   `json:"last_id"`
	Resumed  *bool    `json:"resumed,omitempty"`
	// Role is the viewer's user's role in the party as of LastID (one of
	// protocol's Role…).
	Role string `json:"role"`
	// History is the party's last chats up to and including LastID, oldest
	// first, as broadcast; only for a new viewer (not with since), and
	// absent when it could not be read.
	History *[]json.RawMessage `json:"history,omitempty"`
}

func roleOf(v *Viewer, moderator bool) string {
	switch {
	case v.Host:
		return protocol.RoleHost
	case moderator:
		return protocol.RoleModerator
	}
	return protocol.RoleViewer
}

// ErrBanned says a viewer's user is banned from the party: Join sent it
// no welcome.
var ErrBanned = errors.New("banned from the party")

// Join adds v to its party's hub and sends its welcome, or returns
// ErrBanned when its user is banned from the party. With since (a
// stream id the client saw last) the viewer then receives every later
// entry still in the stream, in order, and goes live once it has reached
// the party's live position. That catch-up runs on its own goroutine,
// because the socket's writer only starts after Join returns; it reads the
// stream a page at a time as the socket drains (see catchUp).
func (r *Rooms) Join(ctx context.Context, v *Viewer, since string) error {
	keys := stream.KeysFor(v.Party)
	var resumed *bool
	if since != "" {
		ok, err := stream.Resumable(ctx, r.rdb, keys, since)
		if err != nil {
			return err
		}
		resumed = &ok
	}
	viewers, err := r.presence.Add(ctx, v.Party, 1)
	if err != nil {
		return err
	}
	withHistory := since == "" && r.history.Size > 0
	welcome := func(st welcomeState, early []chatFrame, earlyOK bool) {
		w := Welcome{Type: protocol.FrameWelcome, PartyID: v.Party.String(), UserID: v.Identity.UserID,
			Viewers: viewers, Likes: st.Likes, Playback: st.Playback, LastID: st.LastID, Resumed: resumed,
			Role: roleOf(v, st.Moderator)}
		if withHistory && earlyOK {
			hist := historyOf(early, st.Recent, r.history.Size, st.Forgotten)
			w.History = &hist
		}
		b, _ := json.Marshal(w)
		v.write(b)
		if since != "" {
			v.startCatchUp(since)
		}
	}
	h, err := r.addViewer(ctx, v, withHistory, welcome)
	if err != nil {
		_, _ = r.presence.Add(context.WithoutCancel(ctx), v.Party, -1)
		return err
	}
	if since != "" {
		gapKnown := !*resumed
		r.wg.Go(func() { r.catchUp(h, v, keys, since, gapKnown) })
	}
	return nil
}

// Catch-up pacing: a page is read only once it fits in the viewer's queue
// (catchUpPage frames below its limit), and a failed read is retried
// catchUpAttempts times, doubling the wait from catchUpRetry.
const (
	catchUpPage     = 200
	catchUpAttempts = 5
	catchUpRetry    = 200 * time.Millisecond
)

// catchUp sends v the entries after since, page by page as its socket
// drains, then lets it go live. gapKnown says the welcome already told the
// client that entries right after since are gone.
func (r *Rooms) catchUp(h *Hub, v *Viewer, keys stream.Keys, since string, gapKnown bool) {
	if _, err := event.ParsePosition(since); err != nil {
		h.goLiveNow(v)
		return
	}
	cursor := since
	for {
		if !v.waitRoom(catchUpPage) {
			return
		}
		page, err := r.readPage(v, keys, cursor)
		if err != nil || (page.Lost && !gapKnown) {
			r.log.Warn("catch-up could not complete; closing so the viewer resumes", "party_id", v.Party,
				"since", cursor, "trimmed", page.Lost, "err", err)
			v.Close(protocol.CloseTryAgainLater, protocol.ReasonCatchUpFailed)
			return
		}
		gapKnown = false
		for _, en := range page.Entries {
			cursor = en.ID
			if en.Err != nil || !en.Event.Type.Broadcast() {
				continue
			}
			if frame, err := event.BroadcastFrame(en.Event, page.Likes); err == nil {
				v.write(frame)
			}
		}
		if len(page.Entries) == catchUpPage {
			continue
		}
		if h.goLive(v, cursor) {
			return
		}
		if len(page.Entries) == 0 { // the hub saw entries the stream no longer has
			r.log.Warn("catch-up found the stream behind the live feed; closing so the viewer resumes", "party_id", v.Party)
			v.Close(protocol.CloseTryAgainLater, protocol.ReasonCatchUpFailed)
			return
		}
	}
}

// readPage reads the page after cursor, retrying failed reads.
func (r *Rooms) readPage(v *Viewer, keys stream.Keys, cursor string) (stream.Page, error) {
	wait := catchUpRetry
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		page, err := stream.ReadAfter(ctx, r.rdb, keys, cursor, catchUpPage)
		cancel()
		if err == nil || attempt == catchUpAttempts {
			return page, err
		}
		r.log.Warn("catch-up read failed; retrying", "party_id", v.Party, "attempt", attempt, "err", err)
		select {
		case <-time.After(wait):
		case <-v.done:
			return page, err
		}
		wait *= 2
	}
}

// historyTimeout bounds the read of a party's chat history for a welcome;
// past it (PostgreSQL down or slow) the welcome goes out without history.
const historyTimeout = 3 * time.Second

// addViewer adds v to the party's current hub; a hub that its last viewer
// left while v was joining is not used. With withHistory, the chats up to
// the hub's start are read first, holding no lock fan-out takes; the hub
// adds those it delivered since, under its lock, as it welcomes v.
func (r *Rooms) addViewer(ctx context.Context, v *Viewer, withHistory bool,
	welcome func(st welcomeState, early []chatFrame, earlyOK bool)) (*Hub, error) {
	for {
		h, err := r.hub(ctx, v.Party)
		if err != nil {
			return nil, err
		}
		// The hub follows the stream from before this look: a ban after
		// it is delivered to the hub, which then refuses v (Hub.add) or
		// removes it.
		standing, err := moderation.StandingOf(ctx, rdb.NewModeration(r.rdb), v.Party, v.Identity.UserID)
		switch {
		case err != nil:
			return nil, err
		case standing.Banned:
			return nil, ErrBanned
		}
		read := h.likesRead()
		likes, err := stream.Likes(ctx, r.rdb, stream.KeysFor(v.Party))
		if err != nil {
			return nil, fmt.Errorf("read likes: %w", err)
		}
		h.noteLikes(likes, read)
		var early []chatFrame
		earlyOK := false
		if withHistory {
			hctx, cancel := context.WithTimeout(ctx, historyTimeout)
			early, err = h.earlyChats(hctx, r.history.Reader, r.history.Size)
			cancel()
			if err != nil {
				r.log.Warn("welcome without chat history", "party_id", v.Party, "err", err)
			}
			earlyOK = err == nil
		}
		r.mu.Lock()
		if r.hubs[v.Party] == h && !h.retiring {
			added := h.add(v, withHistory && earlyOK, standing.Moderator, func(st welcomeState) { welcome(st, early, earlyOK) })
			r.mu.Unlock()
			if !added {
				return nil, ErrBanned
			}
			return h, nil
		}
		r.mu.Unlock()
	}
}

// hub returns the party's hub, following the party first if it is new here.
func (r *Rooms) hub(ctx context.Context, party uuid.UUID) (*Hub, error) {
	r.mu.Lock()
	h, ok := r.hubs[party]
	for ok && h.retiring {
		// Its last viewer left and the pod is unfollowing the party: wait
		// for that, then start afresh.
		r.mu.Unlock()
		select {
		case <-h.retired:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r.mu.Lock()
		h, ok = r.hubs[party]
	}
	if !ok {
		h = newHub(party, r.log, r.onFrame, r.history.Size)
		r.hubs[party] = h
	}
	r.mu.Unlock()
	if !ok {
		h.err = r.start(ctx, h)
		if h.err != nil {
			r.mu.Lock()
			delete(r.hubs, party)
			r.mu.Unlock()
		}
		close(h.ready)
	}
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if h.err != nil {
		return nil, h.err
	}
	return h, nil
}

// start follows the party's stream; the feed hands the hub the playback
// state together with the stream position it belongs to (Hub.Start).
func (r *Rooms) start(ctx context.Context, h *Hub) error {
	if r.beforeFollow != nil {
		r.beforeFollow()
	}
	_, err := r.feed.Follow(ctx, h.party, h)
	return err
}

// Leave removes v; the party is no longer followed once its last viewer
// here has left.
func (r *Rooms) Leave(ctx context.Context, v *Viewer) {
	v.Detach()
	if _, err := r.presence.Add(ctx, v.Party, -1); err != nil {
		r.log.Warn("could not update viewer count", "party_id", v.Party, "err", err)
	}
	r.mu.Lock()
	h, ok := r.hubs[v.Party]
	retire := ok && h.remove(v) == 0 && !h.retiring
	if retire {
		h.retiring = true // no viewer joins it any more
	}
	r.mu.Unlock()
	if !retire {
		return
	}
	// Unfollowing is a Redis round trip: not under the lock every join of
	// every party takes.
	r.unfollow(v.Party)
	r.mu.Lock()
	if r.hubs[v.Party] == h {
		delete(r.hubs, v.Party)
	}
	r.mu.Unlock()
	close(h.retired)
}

// CloseAll closes every viewer with code and reason.
func (r *Rooms) CloseAll(code protocol.CloseCode, reason string) {
	r.mu.Lock()
	hubs := make([]*Hub, 0, len(r.hubs))
	for _, h := range r.hubs {
		hubs = append(hubs, h)
	}
	r.mu.Unlock()
	for _, h := range hubs {
		h.each(func(v *Viewer) { v.Close(code, reason) })
	}
}
