package lifecycle

import (
	"context"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/store"
)

// Advance is one pass over the party table: it schedules (SCHEDULED →
// ONGOING once the start time passed), ends (ONGOING → FINISHED at the end
// time or on request; SCHEDULED → FINISHED when the whole slot was missed)
// and then finishes every party that is over but still registered for
// flushing: just ended, or a finish that failed earlier and is retried.
// It stops between parties when ctx ends; failures are logged and retried
// on the next pass.
func (s *Scheduler) Advance(ctx context.Context) {
	if s.hooks.passStarted != nil {
		s.hooks.passStarted(ctx)
	}
	started, err := s.deps.Parties.StartDue(ctx)
	s.logTransitions(started, err, store.Scheduled, store.Ongoing)
	missed, err := s.deps.Parties.FinishMissed(ctx)
	s.logTransitions(missed, err, store.Scheduled, store.Finished)
	finished, err := s.deps.Parties.FinishDue(ctx)
	s.logTransitions(finished, err, store.Ongoing, store.Finished)

	registered, err := s.deps.Flusher.Parties(ctx)
	if err != nil {
		s.log.Warn("list registered parties", "err", err)
		return
	}
	over, err := s.deps.Parties.Over(ctx, registered)
	if err != nil {
		s.log.Warn("find finished parties", "err", err)
		return
	}
	for _, p := range over {
		if ctx.Err() != nil {
			return
		}
		s.Finish(ctx, p)
	}
}

func (s *Scheduler) logTransitions(ids []uuid.UUID, err error, from, to string) {
	if err != nil {
		s.log.Warn("party transition failed", "from", from, "to", to, "err", err)
		return
	}
	for _, id := range ids {
		s.log.Info("party transition", "party_id", id, "from", from, "to", to)
	}
}
