package room

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/presence"
	"github.com/watchparty/watchparty/pkg/stream"
)

// Rooms indexes this process's hubs by party, following a party's stream
// while it has at least one viewer here. It is safe for concurrent use.
type Rooms struct {
	rdb      redis.UniversalClient
	feed     *stream.Feed
	presence *presence.Presence
	log      *slog.Logger
	onFrame  func(event.Type)

	mu   sync.Mutex
	hubs map[uuid.UUID]*Hub
}

// NewRooms returns an empty index. onFrame, if set, is told of each
// broadcast frame fanned out (once per process, not per viewer).
func NewRooms(rdb redis.UniversalClient, feed *stream.Feed, pres *presence.Presence, log *slog.Logger, onFrame func(event.Type)) *Rooms {
	return &Rooms{rdb: rdb, feed: feed, presence: pres, log: log, onFrame: onFrame, hubs: make(map[uuid.UUID]*Hub)}
}

// Run pushes each party's viewer count to its viewers at most once a
// second, when it changed, until ctx ends.
func (r *Rooms) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
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
}

// Join adds v to its party's hub and sends its welcome. With since (a
// stream id the client saw last) the viewer first receives every later
// entry still in the stream, then live entries.
func (r *Rooms) Join(ctx context.Context, v *Viewer, since string) error {
	keys := stream.KeysFor(v.Party)
	likes, err := r.rdb.SCard(ctx, keys.Likers).Result()
	if err != nil {
		return fmt.Errorf("read likes: %w", err)
	}
	var resumed *bool
	if since != "" {
		ok, err := r.resumable(ctx, keys.Stream, since)
		if err != nil {
			return err
		}
		resumed = &ok
	}
	viewers, err := r.presence.Add(ctx, v.Party, 1)
	if err != nil {
		return err
	}
	var upto string
	welcome := func(lastID string, likes int64, playback Playback) {
		w := Welcome{Type: "welcome", PartyID: v.Party.String(), UserID: v.Identity.UserID,
			Viewers: viewers, Likes: likes, Playback: playback, LastID: lastID, Resumed: resumed}
		b, _ := json.Marshal(w)
		v.write(b)
		if since != "" {
			upto = lastID
			v.startCatchUp()
		}
	}
	if err := r.addViewer(ctx, v, likes, welcome); err != nil {
		_, _ = r.presence.Add(context.WithoutCancel(ctx), v.Party, -1)
		return err
	}
	if since != "" {
		r.catchUp(ctx, v, keys.Stream, since, upto)
	}
	return nil
}

// resumable reports whether every entry after since is still in the stream.
func (r *Rooms) resumable(ctx context.Context, key, since string) (bool, error) {
	if _, err := stream.ParseID(since); err != nil {
		return false, nil
	}
	info, err := r.rdb.XInfoStream(ctx, key).Result()
	if err != nil {
		if err.Error() == "ERR no such key" {
			return true, nil
		}
		return false, fmt.Errorf("inspect stream: %w", err)
	}
	return !lostAfter(info, since), nil
}

// lostAfter reports whether entries after since were trimmed. Entries are
// only ever trimmed as a prefix (never deleted one by one), so when any
// were removed, every one before the first remaining entry is gone.
func lostAfter(info *redis.XInfoStream, since string) bool {
	if info.EntriesAdded <= info.Length {
		return false // nothing was ever removed
	}
	first := info.FirstEntry.ID
	if first == "" { // everything was trimmed
		return stream.After(info.LastGeneratedID, since)
	}
	return stream.After(first, since) && first != nextID(since)
}

// nextID is the smallest stream id after id.
func nextID(id string) string {
	p, err := stream.ParseID(id)
	if err != nil {
		return ""
	}
	p.Seq++
	return p.String()
}

// catchUp writes the entries after since up to upto, then lets v go live.
func (r *Rooms) catchUp(ctx context.Context, v *Viewer, key, since, upto string) {
	defer v.endCatchUp()
	if _, err := stream.ParseID(since); err != nil || !stream.After(upto, since) {
		return
	}
	msgs, err := r.rdb.XRange(ctx, key, "("+since, upto).Result()
	if err != nil {
		r.log.Warn("catch-up read failed", "party_id", v.Party, "err", err)
		return
	}
	likes, _ := r.rdb.SCard(ctx, stream.KeysFor(v.Party).Likers).Result()
	for _, m := range msgs {
		payload, _ := m.Values["e"].(string)
		e, err := event.Decode([]byte(payload), m.ID)
		if err != nil || !e.Type.Broadcast() {
			continue
		}
		if frame, err := event.BroadcastFrame(e, likes); err == nil {
			v.write(frame)
		}
	}
}

// addViewer adds v to the party's current hub; a hub that its last viewer
// left while v was joining is not used.
func (r *Rooms) addViewer(ctx context.Context, v *Viewer, likes int64, welcome func(string, int64, Playback)) error {
	for {
		h, err := r.hub(ctx, v.Party)
		if err != nil {
			return err
		}
		h.noteLikes(likes)
		r.mu.Lock()
		if r.hubs[v.Party] == h {
			h.add(v, welcome)
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
	}
}

// hub returns the party's hub, following the party first if it is new here.
func (r *Rooms) hub(ctx context.Context, party uuid.UUID) (*Hub, error) {
	r.mu.Lock()
	h, ok := r.hubs[party]
	if !ok {
		h = newHub(party, r.log, r.onFrame)
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

// start reads the party's playback state and follows its stream. A
// playback event landing in between is applied again by the feed, which
// leaves the same state.
func (r *Rooms) start(ctx context.Context, h *Hub) error {
	state, pos, updated, err := stream.PlaybackOf(ctx, r.rdb, h.party)
	if err != nil {
		return err
	}
	p := Playback{State: state, PositionMS: pos}
	if updated != "" {
		p.UpdatedAt = &updated
	}
	h.setPlayback(p)
	_, err = r.feed.Follow(ctx, h.party, h)
	return err
}

// Leave removes v; the party is no longer followed once its last viewer
// here has left.
func (r *Rooms) Leave(ctx context.Context, v *Viewer) {
	if _, err := r.presence.Add(ctx, v.Party, -1); err != nil {
		r.log.Warn("could not update viewer count", "party_id", v.Party, "err", err)
	}
	r.mu.Lock()
	h, ok := r.hubs[v.Party]
	r.mu.Unlock()
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.remove(v) == 0 && r.hubs[v.Party] == h {
		delete(r.hubs, v.Party)
		r.feed.Unfollow(v.Party)
	}
}

// Count is the number of the party's viewers on this process.
func (r *Rooms) Count(party uuid.UUID) int {
	r.mu.Lock()
	h, ok := r.hubs[party]
	r.mu.Unlock()
	if !ok {
		return 0
	}
	return h.Len()
}

// CloseAll closes every viewer with code and reason.
func (r *Rooms) CloseAll(code int, reason string) {
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
