package lifecycle

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/stream"
)

// Finish winds down a party that is over, in this order, each step only
// after the previous one succeeded: close it to writes (its viewers get
// party_ended), the final flush of everything it buffered, a check that
// nothing is left unflushed, its peak viewers recorded, then the cleanup
// of its Redis keys (the ended marker stays). Anything that fails is logged
// and retried on the next pass, keys kept.
func (s *Scheduler) Finish(ctx context.Context, party uuid.UUID) {
	log := s.log.With("party_id", party)
	if err := s.deps.Streams.Close(ctx, party); err != nil {
		log.Warn("close party", "err", err)
		return
	}
	n, err := s.deps.Flusher.FlushParty(ctx, party)
	if err != nil && !errors.Is(err, stream.ErrNoStream) {
		log.Warn("final flush failed; keys kept for a retry", "events", n, "err", err)
		return
	}
	if left, err := s.deps.Flusher.Backlog(ctx, party); err != nil || left > 0 {
		log.Warn("party still has unflushed events; keys kept for a retry", "left", left, "err", err)
		return
	}
	peak, err := s.deps.Presence.Peak(ctx, party)
	if err == nil {
		err = s.deps.Parties.SetPeakViewers(ctx, party, peak)
	}
	if err != nil {
		log.Warn("record peak viewers", "err", err)
		return
	}
	if err := s.deps.Streams.Remove(ctx, party); err != nil {
		log.Warn("remove party keys", "err", err)
		return
	}
	log.Info("party finished: final flush done, stream removed", "events", n, "peak_viewers", peak)
}
