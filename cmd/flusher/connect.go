package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

// connect opens the Redis client and the PostgreSQL pool a command needs;
// closeAll releases both.
func connect(ctx context.Context, redisURL string, cluster bool, databaseURL string) (
	rc rdb.Client, db *pgxpool.Pool, closeAll func(), err error) {
	rc, err = rdb.Open(redisURL, cluster)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err = store.Open(ctx, databaseURL)
	if err != nil {
		_ = rc.Close()
		return nil, nil, nil, err
	}
	return rc, db, func() { db.Close(); _ = rc.Close() }, nil
}
