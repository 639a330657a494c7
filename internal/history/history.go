// Package history reads a party's chat backwards, merging the entries still
// in its Redis stream with the rows the flusher already stored in PostgreSQL,
// each message once, in stream order.
package history

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/moderation"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
)

// MaxLimit is the most chats one read returns.
const MaxLimit = 200

// MaxScan is the most stream entries one read looks at, chats or not, so
// that a party whose recent entries are mostly likes, joins and playback
// costs a bounded number of round trips (MaxScan/streamPage) per read.
const MaxScan = 2000

// streamPage is how many stream entries one backwards read asks for.
const streamPage = 200

// Archive holds the chats the flusher stored (store.Chats).
type Archive interface {
	// Before returns at most n of party's stored chats whose stream id
	// comes before before, newest first, with StreamID set, leaving out
	// deleted chats and those in exclude.
	Before(ctx context.Context, party uuid.UUID, before event.Position, n int, exclude []uuid.UUID) ([]event.Event, error)
}

// Live is what a party still holds in Redis, as far as history needs it.
type Live interface {
	// Deleted returns the event ids of party's deleted chats
	// (moderation.Deleted).
	Deleted(ctx context.Context, party uuid.UUID) (map[uuid.UUID]bool, error)
	// ReadBefore returns at most n entries of party's stream that come
	// before the id before ("" for the newest), newest first
	// (stream.ReadBefore).
	ReadBefore(ctx context.Context, party uuid.UUID, before string, n int) ([]stream.Entry, error)
}

// redisLive is Live over the party's keys in Redis.
type redisLive struct{ c rdb.Client }

func (l redisLive) Deleted(ctx context.Context, party uuid.UUID) (map[uuid.UUID]bool, error) {
	return moderation.Deleted(ctx, rdb.NewModeration(l.c), party)
}

func (l redisLive) ReadBefore(ctx context.Context, party uuid.UUID, before string, n int) ([]stream.Entry, error) {
	return stream.ReadBefore(ctx, l.c, stream.KeysFor(party), before, n)
}

// Reader reads chat history. It is safe for concurrent use.
type Reader struct {
	live    Live
	archive Archive
}

// NewReader returns a Reader over the party streams in c and archive.
func NewReader(c rdb.Client, archive Archive) *Reader { return newReader(redisLive{c}, archive) }

func newReader(live Live, archive Archive) *Reader {
	return &Reader{live: live, archive: archive}
}

// Before returns the last n (1..MaxLimit) chats of party whose stream id
// comes before the id before ("" for the newest), oldest first, and the
// cursor of the next, older page ("" when there is none).
//
// The stream is read backwards first, at most MaxScan entries. Entries are
// trimmed from it only after the flusher committed them, and only as a
// prefix, so once the stream runs out every older chat is in PostgreSQL:
// those are read below the oldest id the stream read covered, which no
// entry already taken from the stream can pass. When the stream read stops
// at MaxScan entries, the page holds the chats found so far (fewer than n,
// maybe none) and next is the oldest id read: the next page goes on from
// there. A flush between two calls moves entries from one store to the
// other without changing their ids, so cursors stay valid.
// Chats that went to the dead-letter list are missing until replayed.
// Deleted chats are left out, whether their delete was flushed or is still
// only in the stream (the party's set of deleted chats in Redis).
func (r *Reader) Before(ctx context.Context, party uuid.UUID, before string, n int) (chats []event.Event, next string, err error) {
	if n <= 0 || n > MaxLimit {
		return nil, "", fmt.Errorf("history limit %d out of 1..%d", n, MaxLimit)
	}
	bound := event.MaxPosition
	if before != "" {
		if bound, err = event.ParsePosition(before); err != nil {
			return nil, "", err
		}
		if bound == (event.Position{}) {
			return nil, "", nil // nothing comes before 0-0
		}
	}
	deleted, err := r.live.Deleted(ctx, party)
	if err != nil {
		return nil, "", err
	}
	want := n + 1 // one more says whether there are older chats
	got, scan, err := r.fromStream(ctx, party, bound, want, deleted)
	if err != nil {
		return nil, "", err
	}
	switch {
	case len(got) == want:
	case scan.full:
		next = scan.covered
	default:
		if scan.covered != "" {
			if bound, err = event.ParsePosition(scan.covered); err != nil {
				return nil, "", err
			}
		}
		rows, err := r.archive.Before(ctx, party, bound, want-len(got), slices.Collect(maps.Keys(deleted)))
		if err != nil {
			return nil, "", err
		}
		got = append(got, rows...)
	}
	if len(got) > n {
		got = got[:n]
		next = got[n-1].StreamID
	}
	slices.Reverse(got)
	return got, next, nil
}

// streamScan is how far a backwards read of the stream went: the oldest
// id it read ("" if it read none), from which up to its start the stream
// was read without a gap, and whether it stopped there because MaxScan
// entries were read.
type streamScan struct {
	covered string
	full    bool
}

// fromStream reads up to want chats before bound, newest first, a page at
// a time and at most MaxScan entries, leaving out deleted ones.
func (r *Reader) fromStream(ctx context.Context, party uuid.UUID, bound event.Position, want int, deleted map[uuid.UUID]bool) ([]event.Event, streamScan, error) {
	var got []event.Event
	var scan streamScan
	cursor := ""
	if bound != event.MaxPosition {
		cursor = bound.String()
	}
	for left := MaxScan; left > 0; {
		page := min(streamPage, left)
		entries, err := r.live.ReadBefore(ctx, party, cursor, page)
		if err != nil {
			return nil, scan, err
		}
		left -= len(entries)
		for _, en := range entries {
			scan.covered, cursor = en.ID, en.ID
			if en.Err != nil || !en.Event.Type.Kind().Room.History || deleted[en.Event.ID] {
				continue
			}
			if got = append(got, en.Event); len(got) == want {
				return got, scan, nil
			}
		}
		if len(entries) < page {
			return got, scan, nil
		}
	}
	scan.full = true
	return got, scan, nil
}
