package room

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/stream"
)

// HistoryReader reads a party's last chats before a stream id, oldest
// first, and the cursor of older ones (history.Reader). It looks at a
// bounded number of stream entries per read, so it may return fewer than
// n chats while older ones exist.
type HistoryReader interface {
	Before(ctx context.Context, party uuid.UUID, before string, n int) ([]event.Event, string, error)
}

// History configures the chats a new viewer's welcome carries: the last
// Size chats of the party (0: none), read through Reader.
type History struct {
	Reader HistoryReader
	Size   int
}

// chatFrame is a chat's broadcast frame, its event id, user and time.
type chatFrame struct {
	id    uuid.UUID
	user  string
	at    time.Time
	frame []byte
}

// chatFrameOf keeps e's frame with the time an erasure is compared with:
// its stream id's, which Redis's clock wrote (as the flusher compares),
// else its created_at.
func chatFrameOf(e event.Event, frame []byte) chatFrame {
	at := e.CreatedAt
	if p, err := event.ParsePosition(e.StreamID); err == nil {
		at = time.UnixMilli(p.MS).UTC()
	}
	return chatFrame{id: e.ID, user: e.UserID, at: at, frame: frame}
}

// forgotten says which chats a welcome leaves out: those deleted, and
// those of an erased user created until the erasure.
type forgotten struct {
	deleted map[uuid.UUID]bool
	erased  map[string]time.Time
}

func (f forgotten) has(c chatFrame) bool {
	if f.deleted[c.id] {
		return true
	}
	at, ok := f.erased[c.user]
	return ok && !c.at.After(at)
}

// chatRing keeps the broadcast frames of the last max chats a hub
// delivered. It is guarded by the hub's lock.
type chatRing struct {
	max    int
	buf    []chatFrame
	next   int // where the next frame goes once buf is full
	filled bool
}

func (r *chatRing) add(f chatFrame) {
	if r.max <= 0 {
		return
	}
	if !r.filled {
		r.buf = append(r.buf, f)
		r.filled = len(r.buf) == r.max
		return
	}
	r.buf[r.next] = f
	r.next = (r.next + 1) % r.max
}

// frames returns the kept frames, oldest first, in a new slice.
func (r *chatRing) frames() []chatFrame {
	out := make([]chatFrame, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// earlyHistory is a hub's chats up to the position it started following
// at, read once for all its viewers. The chats before that position never
// change (a flush only moves them from the stream to PostgreSQL), so one
// read serves every later welcome; a failed read is tried again by the
// next viewer. Its lock is held across the read, so viewers joining
// meanwhile wait for that one read rather than each making their own; the
// hub's lock, which fan-out takes, is never held for it.
type earlyHistory struct {
	mu     sync.Mutex
	frames []chatFrame
	done   bool
}

// earlyChats returns the broadcast frames of the party's last n chats up
// to and including the stream position the hub started at, oldest first:
// those one read of rd finds, which looks at a bounded number of entries,
// so a party whose last entries are mostly not chats welcomes with fewer.
// Chats deleted before the read are left out (the reader leaves them out);
// those deleted later, when a welcome is made (historyOf).
func (h *Hub) earlyChats(ctx context.Context, rd HistoryReader, n int) ([]chatFrame, error) {
	h.early.mu.Lock()
	defer h.early.mu.Unlock()
	if h.early.done {
		return h.early.frames, nil
	}
	// The chats up to startID are those before the id right after it.
	chats, _, err := rd.Before(ctx, h.party, stream.NextID(h.startID), n)
	if err != nil {
		return nil, fmt.Errorf("read chat history of party %s: %w", h.party, err)
	}
	frames := make([]chatFrame, 0, len(chats))
	for _, e := range chats {
		f, err := event.BroadcastFrame(e, 0)
		if err != nil {
			return nil, fmt.Errorf("encode chat history of party %s: %w", h.party, err)
		}
		frames = append(frames, chatFrameOf(e, f))
	}
	h.early.frames, h.early.done = frames, true
	return frames, nil
}

// historyOf joins a hub's early chats and the chats it delivered since,
// less the forgotten ones, into the last n, oldest first, as the welcome's
// history array.
func historyOf(early, recent []chatFrame, n int, gone forgotten) []json.RawMessage {
	kept := make([]json.RawMessage, 0, len(early)+len(recent))
	for _, list := range [][]chatFrame{early, recent} {
		for _, f := range list {
			if !gone.has(f) {
				kept = append(kept, f.frame)
			}
		}
	}
	return kept[max(0, len(kept)-n):]
}
