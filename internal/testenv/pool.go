package testenv

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewPool returns a connection pool on a fresh database that migrate
// prepared (see NewDatabase), closed when t ends.
func NewPool(t testing.TB, migrate func(ctx context.Context, url string) error) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewDatabase(t, migrate))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Logger discards everything, unless `go test -v` asks to see the logs of
// the code under test: then it writes text to stderr.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}
