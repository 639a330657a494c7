package stream

import (
	"context"
	"fmt"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// MaxPage is the most entries one catch-up read asks Redis for, so that
// no reader ever asks for a whole stream at once.
const MaxPage = 1000

// Page is one read of the entries after a cursor.
type Page struct {
	Entries []Entry
	// Likes is the party's like total when the page was read; broadcast
	// frames of like entries carry it.
	Likes int64
	// Lost says entries right after the cursor were trimmed before they
	// could be read: delivering this page would leave a gap.
	Lost bool
}

// Last is the id of the page's last entry, or "" for an empty page.
func (p Page) Last() string {
	if len(p.Entries) == 0 {
		return ""
	}
	return p.Entries[len(p.Entries)-1].ID
}

// ReadAfter reads at most count (1..MaxPage) entries of the party's stream
// that come after the id after, in stream order. One pipelined round trip
// checks the stream's trimmed prefix, reads the entries and the like total.
// A stream that does not exist yields an empty page.
func ReadAfter(ctx context.Context, c rdb.Client, keys Keys, after string, count int) (Page, error) {
	return readAfter(ctx, rdb.NewStreams(c), keys, after, count)
}

func readAfter(ctx context.Context, r readRedis, keys Keys, after string, count int) (Page, error) {
	if count <= 0 || count > MaxPage {
		count = MaxPage
	}
	read, err := r.ReadAfter(ctx, keys, after, count)
	if err != nil {
		return Page{}, err
	}
	page := Page{Likes: read.Likes}
	if read.Exists {
		page.Lost = TrimmedAfter(read.Info, after)
	}
	page.Entries = decodeAll(read.Entries)
	return page, nil
}

// decodeAll decodes entries read outside the group.
func decodeAll(msgs []rdb.StreamEntry) []Entry {
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		payload, _ := m.Values[payloadField].(string)
		e, err := event.Decode([]byte(payload), m.ID)
		out[i] = Entry{ID: m.ID, Event: e, Err: err}
	}
	return out
}

// TrimmedAfter reports whether entries after the id after were trimmed
// from the stream described by info. Entries are only ever trimmed as a
// prefix (never deleted one by one), so when any were removed, every one
// before the first remaining entry is gone.
func TrimmedAfter(info rdb.StreamInfo, after string) bool {
	if info.EntriesAdded <= info.Length {
		return false // nothing was ever removed
	}
	first := info.FirstID
	if first == "" { // everything was trimmed
		return After(info.LastGeneratedID, after)
	}
	return After(first, after) && first != NextID(after)
}

// NextID is the smallest stream id after id, or "" when id is not one.
func NextID(id string) string {
	p, err := event.ParsePosition(id)
	if err != nil {
		return ""
	}
	p.Seq++
	return p.String()
}

// Resumable reports whether every entry of the party's stream after since
// is still there, so a viewer resuming from since misses nothing. An id
// that is not a stream id is not resumable; a stream that does not exist
// (nothing was written, or it was removed) is.
func Resumable(ctx context.Context, c rdb.Client, keys Keys, since string) (bool, error) {
	if _, err := event.ParsePosition(since); err != nil {
		return false, nil
	}
	info, exists, err := rdb.NewStreams(c).Info(ctx, keys)
	if err != nil {
		return false, fmt.Errorf("inspect stream: %w", err)
	}
	return !exists || !TrimmedAfter(info, since), nil
}

// Likes returns the party's like total.
func Likes(ctx context.Context, c rdb.Client, keys Keys) (int64, error) {
	return rdb.NewStreams(c).Likes(ctx, keys)
}
