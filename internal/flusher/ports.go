package flusher

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// Source is where the flusher reads party streams and acknowledges what it
// wrote: one named consumer of group "flushers" (stream.Consumer). Its
// methods may be called concurrently for different parties; an error
// leaves the entries concerned as they were (pending or undelivered).
type Source interface {
	// Parties lists the parties registered as possibly holding unflushed events.
	Parties(ctx context.Context) ([]uuid.UUID, error)
	// EnsureGroup creates the group on party's stream; stream.ErrNoStream
	// when the stream does not exist.
	EnsureGroup(ctx context.Context, party uuid.UUID) error
	// ClaimIdle takes over up to count entries pending on other consumers
	// idle for minIdle, and returns how many it took.
	ClaimIdle(ctx context.Context, party uuid.UUID, minIdle time.Duration, count int) (int, error)
	// ReadOwnPending returns up to count entries delivered to this
	// consumer and not acknowledged, after stream id after.
	ReadOwnPending(ctx context.Context, party uuid.UUID, after string, count int) ([]stream.Entry, error)
	// ReadNew returns up to count entries never delivered, now pending here.
	ReadNew(ctx context.Context, party uuid.UUID, count int) ([]stream.Entry, error)
	// Ack acknowledges entries: they are never delivered again.
	Ack(ctx context.Context, party uuid.UUID, ids []string) error
	// CountFailures adds one permanent failure to each entry and returns
	// each one's count so far.
	CountFailures(ctx context.Context, party uuid.UUID, ids []string) ([]int, error)
	// ForgetFailures drops the failure counts of entries.
	ForgetFailures(ctx context.Context, party uuid.UUID, ids []string) error
	// Trim drops acknowledged entries older than keep.
	Trim(ctx context.Context, party uuid.UUID, keep time.Duration, now time.Time) error
	// PruneConsumers removes consumers idle for idle with nothing pending.
	PruneConsumers(ctx context.Context, party uuid.UUID, idle time.Duration) (int, error)
	// Backlog counts party's entries not yet acknowledged.
	Backlog(ctx context.Context, party uuid.UUID) (int64, error)
}

// Writer writes a batch of events in one transaction (store.Writer): all
// of them or none. Events already stored are skipped, so a batch written
// but not acknowledged can be written again.
type Writer interface {
	Write(ctx context.Context, events []event.Event) error
	// PartyExists reports whether party has its row.
	PartyExists(ctx context.Context, party uuid.UUID) (bool, error)
	// WithErasures calls fn with the erasures of users; no erasure is
	// recorded until fn returns (store.Writer.WithErasures).
	WithErasures(ctx context.Context, users []string, fn func(store.Erasures) error) error
}

// DeadLetters is where events that keep failing go: the list wp:dlq.
type DeadLetters interface {
	// Push appends one batch; on error nothing was appended, or the batch
	// may be appended twice (replay is idempotent).
	Push(ctx context.Context, b dlq.Batch) error
}

// BacklogMeter measures what waits in Redis across party streams, for the
// backlog gauges (rdb.Streams).
type BacklogMeter interface {
	MeasureBacklog(ctx context.Context, parties []uuid.UUID) (rdb.Backlog, error)
}

// dlqList is the dead-letter list in Redis (package dlq).
type dlqList struct{ rdb rdb.Client }

func (l dlqList) Push(ctx context.Context, b dlq.Batch) error { return dlq.Push(ctx, l.rdb, b) }
