// Package history reads a party's chat backwards, merging the entries still
// in its Redis stream with the rows the flusher already stored in
// PostgreSQL, each message once, in stream order.
// It is this project's code, not a public API.
package history

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/moderation"
	"github.com/watchparty/watchparty/pkg/stream"
)

// MaxLimit is the most chats one read returns.
const MaxLimit = 200

// streamPage is how many stream entries one backwards read asks for.
const streamPage = 200

// Archive holds the chats the flusher stored (store.Chats).
type Archive interface {
	// Before returns at most n of party's stored chats whose stream id
	// comes before before, newest first, with StreamID set, leaving out
	// deleted chats and those in exclude.
	Before(ctx context.Context, party uuid.UUID, before event.Position, n int, exclude []uuid.UUID) ([]event.Event, error)
}

// Reader reads chat history. It is safe for concurrent use.
type Reader struct {
	rdb     redis.UniversalClient
	archive Archive
}

// NewReader returns a Reader over the party streams in rdb and archive.
func NewReader(rdb redis.UniversalClient, archive Archive) *Reader {
	return &Reader{rdb: rdb, archive: archive}
}

// Before returns the last n (1..MaxLimit) chats of party whose stream id
// comes before the id before ("" for the newest), oldest first, and
// whether older chats exist.
//
// The stream is read backwards first. Entries are trimmed from it only
// after the flusher committed them, and only as a prefix, so once the
// stream runs out every older chat is in PostgreSQL: those are read below
// the oldest id the stream read covered, which no entry already taken from
// the stream can pass. A flush between two calls moves entries from one
// store to the other without changing their ids, so cursors stay valid.
// Chats that went to the dead-letter list are missing until replayed.
// Deleted chats are left out, whether their delete was flushed or is still
// only in the stream (the party's set of deleted chats in Redis).
func (r *Reader) Before(ctx context.Context, party uuid.UUID, before string, n int) ([]event.Event, bool, error) {
	if n <= 0 || n > MaxLimit {
		return nil, false, fmt.Errorf("history limit %d out of 1..%d", n, MaxLimit)
	}
	bound := event.MaxPosition
	if before != "" {
		p, err := event.ParsePosition(before)
		if err != nil {
			return nil, false, err
		}
		bound = p
	}
	deleted, err := moderation.Deleted(ctx, r.rdb, party)
	if err != nil {
		return nil, false, err
	}
	want := n + 1 // one more says whether there are older chats
	got, covered, err := r.fromStream(ctx, party, before, want, deleted)
	if err != nil {
		return nil, false, err
	}
	if len(got) < want {
		if covered != "" {
			if bound, err = event.ParsePosition(covered); err != nil {
				return nil, false, err
			}
		}
		rows, err := r.archive.Before(ctx, party, bound, want-len(got), slices.Collect(maps.Keys(deleted)))
		if err != nil {
			return nil, false, err
		}
		got = append(got, rows...)
	}
	more := len(got) > n
	got = got[:min(n, len(got))]
	slices.Reverse(got)
	return got, more, nil
}

// fromStream reads up to want chats before before, newest first, a page
// at a time, leaving out deleted ones, and the oldest id it read (or "" if it read none): the stream
// was read without a gap from there up to before.
func (r *Reader) fromStream(ctx context.Context, party uuid.UUID, before string, want int, deleted map[uuid.UUID]bool) ([]event.Event, string, error) {
	keys := stream.KeysFor(party)
	var got []event.Event
	covered, cursor := "", before
	for {
		entries, err := stream.ReadBefore(ctx, r.rdb, keys, cursor, streamPage)
		if err != nil {
			return nil, "", err
		}
		for _, en := range entries {
			covered, cursor = en.ID, en.ID
			if en.Err != nil || en.Event.Type != event.Chat || deleted[en.Event.ID] {
				continue
			}
			if got = append(got, en.Event); len(got) == want {
				return got, covered, nil
			}
		}
		if len(entries) < streamPage {
			return got, covered, nil
		}
	}
}
