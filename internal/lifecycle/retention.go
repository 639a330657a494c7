package lifecycle

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/watchparty/watchparty/internal/store"
)

// retentionBatch is the most rows one delete of the retention removes, and
// retentionBatches the most deletes per table in one scheduler pass: old
// rows go in small transactions, a pass stays short, and a large backlog
// of expired rows drains over several passes.
const (
	retentionBatch   = 5000
	retentionBatches = 20
)

// Retention deletes event rows older than their table's retention: the
// scheduler runs it once per pass, so only the lease holder does.
type Retention struct {
	db *pgxpool.Pool
	// keep is each table's retention; a table without one keeps its rows.
	keep    map[string]time.Duration
	deleted *prometheus.CounterVec
	log     *slog.Logger
}

// NewRetention returns the retention of the tables in keep (table ->
// how long its rows stay; zero or absent: forever), counting deleted rows
// in deleted (labelled by table).
func NewRetention(db *pgxpool.Pool, keep map[string]time.Duration, deleted *prometheus.CounterVec, log *slog.Logger) *Retention {
	return &Retention{db: db, keep: keep, deleted: deleted, log: log.With("component", "retention")}
}

// Prune deletes, table by table, rows created before now minus the
// table's retention, at most retentionBatches batches each, stopping when
// ctx ends.
func (r *Retention) Prune(ctx context.Context, now time.Time) {
	for table, keep := range r.keep {
		if keep <= 0 {
			continue
		}
		cutoff := now.Add(-keep)
		var total int64
		for range retentionBatches {
			n, err := store.DeleteOlderThan(ctx, r.db, table, cutoff, retentionBatch)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("retention delete failed", "table", table, "err", err)
				}
				break
			}
			total += n
			r.deleted.WithLabelValues(table).Add(float64(n))
			if n < retentionBatch {
				break
			}
		}
		if total > 0 {
			r.log.Info("deleted expired rows", "table", table, "rows", total, "older_than", cutoff)
		}
	}
}
