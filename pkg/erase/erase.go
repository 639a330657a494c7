// Package erase removes a person's events, for `flusher erase-user`: from
// PostgreSQL, from every live party stream and from the dead-letter list.
//
// The erasure is recorded first (store.RecordErasure), and the flusher's
// writer leaves out every event it covers, so an event of the person read
// from a stream before the erasure and written after it, or replayed from
// the dead-letter list later, never comes back. What follows only removes
// what is already stored or buffered; each step is idempotent, so a run
// that failed half-way is simply run again.
package erase

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/dlq"
	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/rdb"
	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/stream"
)

// Request is what to erase: UserID's events in Party, or in every party
// when Party is uuid.Nil. Batch is the most rows one delete transaction
// removes.
type Request struct {
	UserID string
	Party  uuid.UUID
	Batch  int
}

// Report counts what an erasure removed.
type Report struct {
	ErasedAt      time.Time        // events created until then are erased
	Rows          map[string]int64 // table -> rows deleted
	StreamEntries int              // entries deleted from party streams
	Likes         int              // likes removed from live like sets
	DLQEvents     int              // events removed from dead-lettered batches
	DLQBatches    int              // batches left empty and removed
}

// Run erases r.UserID's events: it records the erasure, then deletes the
// rows, the stream entries (acknowledging them, so that no flusher keeps
// them pending) and the like of each live party, and the events in
// dead-lettered batches.
func Run(ctx context.Context, db *pgxpool.Pool, rc redis.UniversalClient, r Request) (Report, error) {
	rep := Report{Rows: map[string]int64{}}
	var err error
	if rep.ErasedAt, err = store.RecordErasure(ctx, db, r.UserID, r.Party); err != nil {
		return rep, err
	}
	for _, table := range store.EventTables {
		if rep.Rows[table], err = store.DeleteUserRows(ctx, db, table, r.UserID, r.Party, r.Batch); err != nil {
			return rep, err
		}
	}
	parties := []uuid.UUID{r.Party}
	if r.Party == uuid.Nil {
		if parties, err = stream.NewConsumer(rc, "erase-user").Parties(ctx); err != nil {
			return rep, err
		}
	}
	for _, p := range parties {
		n, liked, err := eraseFromStream(ctx, rc, p, r.UserID)
		if err != nil {
			return rep, err
		}
		rep.StreamEntries += n
		rep.Likes += liked
		// Gateways following the party forget the user's chats they hold
		// for welcomes (a gateway reconnecting to Redis at this moment
		// misses it; the chats then leave its memory as newer ones come).
		msg := rdb.ErasedMessage(r.UserID, rep.ErasedAt)
		if err := rc.SPublish(ctx, stream.KeysFor(p).Channel, msg).Err(); err != nil {
			return rep, fmt.Errorf("announce the erasure in party %s: %w", p, err)
		}
	}
	rep.DLQEvents, rep.DLQBatches, err = eraseFromDLQ(ctx, rc, r)
	return rep, err
}

// eraseFromStream deletes user's entries from party's stream, page by page,
// acknowledging them in the flushers' group, and removes the user from the
// party's like set.
func eraseFromStream(ctx context.Context, rc redis.UniversalClient, party uuid.UUID, user string) (int, int, error) {
	keys := stream.KeysFor(party)
	deleted := 0
	for cursor := "0-0"; ; {
		page, err := stream.ReadAfter(ctx, rc, keys, cursor, stream.MaxPage)
		if err != nil {
			return deleted, 0, err
		}
		var ids []string
		for _, en := range page.Entries {
			if en.Err == nil && en.Event.UserID == user {
				ids = append(ids, en.ID)
			}
		}
		if len(ids) > 0 {
			pipe := rc.TxPipeline()
			pipe.XAck(ctx, keys.Stream, stream.Group, ids...)
			del := pipe.XDel(ctx, keys.Stream, ids...)
			if _, err := pipe.Exec(ctx); err != nil {
				return deleted, 0, fmt.Errorf("delete %d entries of %s from %s: %w", len(ids), user, keys.Stream, err)
			}
			deleted += int(del.Val())
		}
		if len(page.Entries) < stream.MaxPage {
			break
		}
		cursor = page.Last()
	}
	liked, err := rc.SRem(ctx, keys.Likers, user).Result()
	if err != nil {
		return deleted, 0, fmt.Errorf("remove %s from %s: %w", user, keys.Likers, err)
	}
	return deleted, int(liked), nil
}

// eraseFromDLQ removes the request's events from every dead-lettered
// batch, through dlq.Rewrite, which changes a batch only if nobody changed
// it since it was read.
func eraseFromDLQ(ctx context.Context, rc redis.UniversalClient, r Request) (events, emptied int, err error) {
	covered := func(e event.Event) bool {
		return e.UserID == r.UserID && (r.Party == uuid.Nil || e.PartyID == r.Party)
	}
	return dlq.Rewrite(ctx, rc, covered)
}
