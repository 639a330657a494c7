package stream

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

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
func ReadAfter(ctx context.Context, c redis.UniversalClient, keys Keys, after string, count int) (Page, error) {
	if count <= 0 || count > MaxPage {
		count = MaxPage
	}
	pipe := c.Pipeline()
	info := pipe.XInfoStream(ctx, keys.Stream)
	rng := pipe.XRangeN(ctx, keys.Stream, "("+after, "+", int64(count))
	likes := pipe.SCard(ctx, keys.Likers)
	_, _ = pipe.Exec(ctx)
	if err := info.Err(); err != nil && !rdb.IsNoSuchKey(err) {
		return Page{}, fmt.Errorf("inspect stream %s: %w", keys.Stream, err)
	}
	if err := rng.Err(); err != nil {
		return Page{}, fmt.Errorf("read stream %s: %w", keys.Stream, err)
	}
	if err := likes.Err(); err != nil {
		return Page{}, fmt.Errorf("read likes of %s: %w", keys.Stream, err)
	}
	page := Page{Likes: likes.Val()}
	if info.Err() == nil {
		page.Lost = TrimmedAfter(info.Val(), after)
	}
	msgs := rng.Val()
	page.Entries = make([]Entry, len(msgs))
	for i, m := range msgs {
		payload, _ := m.Values["e"].(string)
		e, err := event.Decode([]byte(payload), m.ID)
		page.Entries[i] = Entry{ID: m.ID, Event: e, Err: err}
	}
	return page, nil
}

// TrimmedAfter reports whether entries after the id after were trimmed
// from the stream described by info. Entries are only ever trimmed as a
// prefix (never deleted one by one), so when any were removed, every one
// before the first remaining entry is gone.
func TrimmedAfter(info *redis.XInfoStream, after string) bool {
	if info.EntriesAdded <= info.Length {
		return false // nothing was ever removed
	}
	first := info.FirstEntry.ID
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
func Resumable(ctx context.Context, c redis.UniversalClient, keys Keys, since string) (bool, error) {
	if _, err := event.ParsePosition(since); err != nil {
		return false, nil
	}
	info, err := c.XInfoStream(ctx, keys.Stream).Result()
	if err != nil {
		if rdb.IsNoSuchKey(err) {
			return true, nil
		}
		return false, fmt.Errorf("inspect stream: %w", err)
	}
	return !TrimmedAfter(info, since), nil
}

// Likes returns the party's like total.
func Likes(ctx context.Context, c redis.UniversalClient, keys Keys) (int64, error) {
	return c.SCard(ctx, keys.Likers).Result()
}
