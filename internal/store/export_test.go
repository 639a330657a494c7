package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/event"
)

// WriteCounts runs writeCounts in a transaction of its own: no declared
// kind need be stored as counts for its tests.
func WriteCounts(ctx context.Context, db *pgxpool.Pool, es []event.Event, replayed bool) error {
	return inTx(ctx, db, func(tx pgx.Tx) error { return writeCounts(ctx, tx, es, replayed) })
}
