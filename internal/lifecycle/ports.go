package lifecycle

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
)

// Parties is the party table as the lifecycle changes it (store.Parties).
// Each transition is guarded in SQL by the status it leaves, so two
// replicas applying it at once change each party once.
type Parties interface {
	// StartDue moves SCHEDULED parties whose start time passed to ONGOING.
	StartDue(ctx context.Context) ([]uuid.UUID, error)
	// FinishMissed moves SCHEDULED parties whose end time passed to FINISHED.
	FinishMissed(ctx context.Context) ([]uuid.UUID, error)
	// FinishDue moves ONGOING parties whose end time passed, or whose end
	// was requested, to FINISHED.
	FinishDue(ctx context.Context) ([]uuid.UUID, error)
	// Over returns those of ids that are FINISHED or CANCELLED.
	Over(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error)
	// OngoingIDs lists the ONGOING parties.
	OngoingIDs(ctx context.Context) ([]uuid.UUID, error)
	// SetPeakViewers records a finished party's peak viewer count.
	SetPeakViewers(ctx context.Context, id uuid.UUID, peak int) error
}

// Flusher is what the final flush of a finished party needs from the
// flusher (*flusher.Flusher).
type Flusher interface {
	// FlushParty writes every unflushed entry of party and acknowledges it
	// after the commit; stream.ErrNoStream when party has no stream.
	FlushParty(ctx context.Context, party uuid.UUID) (int, error)
	// Parties lists the parties registered as possibly holding unflushed events.
	Parties(ctx context.Context) ([]uuid.UUID, error)
	// Backlog counts party's entries not yet written and acknowledged.
	Backlog(ctx context.Context, party uuid.UUID) (int64, error)
}

// Streams closes and removes party streams (internal/stream).
type Streams interface {
	// Close closes party to writes and tells the gateways following it,
	// which hand its viewers party_ended. Closing twice is harmless.
	Close(ctx context.Context, party uuid.UUID) error
	// Remove deletes the keys of a closed party and its registration,
	// keeping the ended marker.
	Remove(ctx context.Context, party uuid.UUID) error
}

// Presence counts viewers across gateways (presence.Reader).
type Presence interface {
	Total(ctx context.Context, party uuid.UUID) (int, error)
	Peak(ctx context.Context, party uuid.UUID) (int, error)
}

// SampleWriter appends a viewer-count event to a party's stream
// (stream.Writer): the only event the lifecycle writes. dedup says a
// second append of the same event id stores nothing new.
type SampleWriter interface {
	Append(ctx context.Context, e event.Event, dedup bool) (stream.Result, error)
}

// lease elects the one replica that acts (redisLease).
type lease interface {
	// hold takes the lease when free or renews it when held, and reports
	// whether this process holds it.
	hold(ctx context.Context) (bool, error)
	// renew extends the lease only if this process still holds it.
	renew(ctx context.Context) (bool, error)
	// release gives the lease up if this process holds it.
	release(ctx context.Context)
}

// clock is the scheduler's time, replaced in tests.
type clock interface {
	Now() time.Time
	// NewTicker ticks every d until stop is called.
	NewTicker(d time.Duration) (ticks <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// redisStreams is Streams over Redis.
type redisStreams struct{ c rdb.Client }

func (s redisStreams) Close(ctx context.Context, party uuid.UUID) error {
	return stream.Close(ctx, s.c, party)
}

func (s redisStreams) Remove(ctx context.Context, party uuid.UUID) error {
	return stream.Remove(ctx, s.c, party)
}
