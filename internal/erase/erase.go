// Package erase removes a person's events, for `flusher erase-user`: from
// PostgreSQL, from every live party stream and from the dead-letter list.
//
// An erasure covers the person's events appended to a stream until its
// time, judged by the stream entry id (Redis's clock, never a gateway's),
// and, for the few events without one, created until then. That time is
// set InFlight after the erasure starts, so that the events gateways
// accepted before it and still hold in their appenders are covered too.
// The erasure is recorded first (store.RecordErasure): from then on the
// flusher's writer and its dead-lettering leave out every event it
// covers, so an event read from a stream before the erasure and written
// or dead-lettered after it, or replayed from the dead-letter list later,
// never comes back. What follows removes what is already stored or
// buffered, twice for the buffers: once at once, and again once the
// erasure's time has passed on Redis's clock, for the events appended
// meanwhile. The person's moderation actions are kept everywhere, with no
// user, as the party's record (store.EraseRows). Each step is idempotent,
// so a run that failed half-way is simply run again.
package erase

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// Request is what to erase: UserID's events in Party, or in every party
// when Party is uuid.Nil.
type Request struct {
	UserID string
	Party  uuid.UUID
	Batch  int // the most rows one transaction changes
	// InFlight is how long an event a gateway accepted before the
	// erasure may still take to reach its stream: the erasure covers
	// what is appended until InFlight after it starts, and Run waits
	// that long before its second pass over the streams and wp:dlq.
	InFlight time.Duration
	Lock     store.LockWait // how recording the erasure waits for the flushers
}

// Report counts what an erasure removed.
type Report struct {
	ErasedAt      time.Time // events appended (without a stream id: created) until then are erased
	Rows          store.RowsErased
	StreamEntries int           // entries deleted from party streams
	Likes         int           // likes removed from live like sets
	DLQ           dlq.Rewritten // removed from wp:dlq
}

// Run erases r.UserID's events: it records the erasure, erases the rows
// (store.EraseRows), deletes the stream entries (acknowledging them, so
// that no flusher keeps them pending) and the like of each live party,
// and the events in dead-lettered batches; then, once the erasure's time
// has passed, it deletes the entries and dead-lettered events appended
// meanwhile. The report is filled even when an error is returned.
func Run(ctx context.Context, db *pgxpool.Pool, rc rdb.Client, r Request) (Report, error) {
	b := newRedisBuffers(rc)
	var rep Report
	// Stream ids come from Redis's clock: so does the erasure's time.
	clock := dlq.Key
	if r.Party != uuid.Nil {
		clock = stream.KeysFor(r.Party).Stream
	}
	now, err := b.Now(ctx, clock)
	if err != nil {
		return rep, fmt.Errorf("read redis time: %w", err)
	}
	e := store.Erasure{UserID: r.UserID, Party: r.Party, At: event.Millis(now.Add(r.InFlight))}
	if e.At, err = store.RecordErasure(ctx, db, e, r.Lock); err != nil {
		return rep, err
	}
	rep.ErasedAt = e.At
	if rep.Rows, err = store.EraseRows(ctx, db, e, r.Batch); err != nil {
		return rep, err
	}
	if err := eraseBuffered(ctx, b, e, &rep, false); err != nil {
		return rep, err
	}
	if err := waitPast(ctx, b, clock, e.At); err != nil {
		return rep, err
	}
	return rep, eraseBuffered(ctx, b, e, &rep, true)
}

// eraseBuffered deletes e's entries from each live party stream and its
// events from wp:dlq. settled says to wait, party by party, until e.At
// has passed on the server holding the stream (on Redis Cluster, another
// server than the one that gave the time), so that nothing e covers can
// be appended after the pass.
func eraseBuffered(ctx context.Context, b buffers, e store.Erasure, rep *Report, settled bool) error {
	parties := []uuid.UUID{e.Party}
	if e.Party == uuid.Nil {
		var err error
		if parties, err = b.Parties(ctx); err != nil {
			return err
		}
	}
	for _, p := range parties {
		if settled {
			if err := waitPast(ctx, b, stream.KeysFor(p).Stream, e.At); err != nil {
				return err
			}
		}
		n, liked, err := eraseFromStream(ctx, b, p, e)
		rep.StreamEntries += n
		rep.Likes += liked
		if err != nil {
			return err
		}
		// Gateways following the party forget the user's chats they hold
		// for welcomes (a gateway reconnecting to Redis at this moment
		// misses it; the chats then leave its memory as newer ones come).
		msg := rdb.ErasedMessage(e.UserID, e.At)
		if err := b.Announce(ctx, stream.KeysFor(p), msg); err != nil {
			return fmt.Errorf("announce the erasure in party %s: %w", p, err)
		}
	}
	done, err := eraseFromDLQ(ctx, b, e)
	rep.DLQ.Events += done.Events
	rep.DLQ.Changed += done.Changed
	rep.DLQ.Batches += done.Batches
	rep.DLQ.Elements += done.Elements
	return err
}

// waitPast returns once the clock of the server holding key has passed
// at, or ctx's error.
func waitPast(ctx context.Context, b buffers, key string, at time.Time) error {
	for {
		now, err := b.Now(ctx, key)
		if err != nil {
			return fmt.Errorf("read redis time: %w", err)
		}
		if now.UnixMilli() > at.UnixMilli() {
			return nil
		}
		t := time.NewTimer(at.Sub(now) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
