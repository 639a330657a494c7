package flusher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/presence"
	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/stream"
)

// Scheduler advances party statuses, finishes parties (final flush, peak
// viewers, removal of their Redis keys) and samples viewer counts. It acts
// only while this flusher holds the scheduler lease, so one replica at a
// time does; each transition is also guarded in SQL by the status it leaves.
type Scheduler struct {
	cfg      Config
	rdb      redis.UniversalClient
	parties  *store.Parties
	flusher  *Flusher
	appender *stream.Appender
	presence *presence.Presence
	lease    lease
	log      *slog.Logger
	now      func() time.Time
	hooks    schedulerHooks
}

// schedulerHooks let tests watch the lease and slow a pass down on purpose;
// all nil in production.
type schedulerHooks struct {
	leaseChecked func(held bool)           // after each take-or-renew of the loop
	passStarted  func(ctx context.Context) // inside a pass, with the pass's context
}

// NewScheduler returns the scheduler of flusher f. appender must be running
// for viewer samples to be recorded.
func NewScheduler(cfg Config, rdb redis.UniversalClient, parties *store.Parties, f *Flusher,
	appender *stream.Appender, log *slog.Logger) *Scheduler {
	return &Scheduler{
		cfg: cfg, rdb: rdb, parties: parties, flusher: f, appender: appender,
		presence: presence.Reader(rdb),
		lease:    newLease(rdb, cfg.ConsumerName, cfg.LeaseTTL),
		log:      log.With("component", "scheduler", "consumer", cfg.ConsumerName),
		now:      time.Now,
	}
}

// Run holds or contends for the lease and acts while held, until ctx ends;
// then it releases the lease so another replica takes over at once.
func (s *Scheduler) Run(ctx context.Context) error {
	tick := min(s.cfg.SchedulerInterval, s.cfg.LeaseTTL/3)
	t := time.NewTicker(tick)
	defer t.Stop()
	leader := false
	var lastAdvance time.Time
	nextSample := s.now().Truncate(s.cfg.ViewerSampleInterval).Add(s.cfg.ViewerSampleInterval)
	for {
		checked := time.Now()
		held, err := s.lease.hold(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler lease check failed", "err", err)
		}
		if s.hooks.leaseChecked != nil {
			s.hooks.leaseChecked(held)
		}
		if held {
			s.flusher.metrics.SchedulerLeader.Set(1)
		} else {
			s.flusher.metrics.SchedulerLeader.Set(0)
		}
		if held != leader {
			leader = held
			s.log.Info("scheduler lease changed", "held", held)
		}
		now := s.now()
		doAdvance := held && now.Sub(lastAdvance) >= s.cfg.SchedulerInterval
		doSample, sampleAt := held && !now.Before(nextSample), nextSample
		if doAdvance {
			lastAdvance = now
		}
		if !now.Before(nextSample) {
			nextSample = now.Truncate(s.cfg.ViewerSampleInterval).Add(s.cfg.ViewerSampleInterval)
		}
		if doAdvance || doSample {
			s.underLease(ctx, checked, func(ctx context.Context) {
				if doAdvance {
					s.advance(ctx)
				}
				if doSample && ctx.Err() == nil {
					s.sample(ctx, sampleAt)
				}
			})
		}
		select {
		case <-ctx.Done():
			if leader {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				s.lease.release(rctx)
				cancel()
			}
			s.flusher.metrics.SchedulerLeader.Set(0)
			return nil
		case <-t.C:
		}
	}
}

// errLeaseLost ends a pass whose lease another replica holds now, or that
// could not be renewed in time to be sure it is still held.
var errLeaseLost = errors.New("scheduler lease lost during a pass")

// underLease runs pass, which must stop acting when its context ends. A
// pass can outlast the lease (a big final flush, thousands of parties to
// sample), so while it runs the lease is renewed every TTL/3, only if this
// process still holds it. When a renewal finds another holder, or none
// succeeded for two thirds of a TTL since the last proof of holding it
// (heldAt), the pass's context is cancelled: two replicas never both act
// past the moment one learns it lost the lease, and a transition in flight
// is still guarded in SQL by the status it leaves.
func (s *Scheduler) underLease(ctx context.Context, heldAt time.Time, pass func(context.Context)) {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		s.keepLease(pctx, cancel, heldAt, stop)
	}()
	pass(pctx)
	close(stop)
	<-done
}

// keepLease renews the lease every TTL/3 until stop is closed or ctx ends,
// and cancels the pass when the lease is lost or may have lapsed.
func (s *Scheduler) keepLease(ctx context.Context, cancel context.CancelCauseFunc, heldAt time.Time, stop <-chan struct{}) {
	every := s.cfg.LeaseTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, every)
		held, err := s.lease.renew(rctx)
		rcancel()
		switch {
		case err == nil && held:
			heldAt = sent // it lasts at least a TTL from when the renewal was sent
		case err == nil:
			s.log.Warn("scheduler lease taken by another replica during a pass; the pass stops")
			cancel(errLeaseLost)
			return
		case time.Since(heldAt)+every >= s.cfg.LeaseTTL:
			s.log.Warn("scheduler lease could not be renewed and may lapse; the pass stops", "err", err)
			cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
			return
		case ctx.Err() == nil:
			s.log.Warn("renew scheduler lease during a pass", "err", err)
		}
	}
}

// advance applies every due transition and finishes what has ended.
func (s *Scheduler) advance(ctx context.Context) {
	if s.hooks.passStarted != nil {
		s.hooks.passStarted(ctx)
	}
	started, err := s.parties.StartDue(ctx)
	s.logTransitions(started, err, store.Scheduled, store.Ongoing)
	missed, err := s.parties.FinishMissed(ctx)
	s.logTransitions(missed, err, store.Scheduled, store.Finished)
	finished, err := s.parties.FinishDue(ctx)
	s.logTransitions(finished, err, store.Ongoing, store.Finished)

	// Parties over but still registered: just finished, or a final flush
	// that failed earlier and is retried here.
	registered, err := s.flusher.consumer.Parties(ctx)
	if err != nil {
		s.log.Warn("list registered parties", "err", err)
		return
	}
	over, err := s.parties.Over(ctx, registered)
	if err != nil {
		s.log.Warn("find finished parties", "err", err)
		return
	}
	for _, p := range over {
		if ctx.Err() != nil {
			return
		}
		s.finish(ctx, p)
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

// finish closes a party to writes (its viewers get party_ended), flushes
// everything it buffered, records its peak viewers and removes its Redis
// keys once nothing is left unflushed. Anything that fails is retried on
// the next pass, keys kept.
func (s *Scheduler) finish(ctx context.Context, party uuid.UUID) {
	log := s.log.With("party_id", party)
	if err := stream.Close(ctx, s.rdb, party); err != nil {
		log.Warn("close party", "err", err)
		return
	}
	n, err := s.flusher.FlushParty(ctx, ctx, party)
	if err != nil && !errors.Is(err, stream.ErrNoStream) {
		log.Warn("final flush failed; keys kept for a retry", "events", n, "err", err)
		return
	}
	if left, err := s.flusher.consumer.Backlog(ctx, party); err != nil || left > 0 {
		log.Warn("party still has unflushed events; keys kept for a retry", "left", left, "err", err)
		return
	}
	peak, err := s.presence.Peak(ctx, party)
	if err == nil {
		err = s.parties.SetPeakViewers(ctx, party, peak)
	}
	if err != nil {
		log.Warn("record peak viewers", "err", err)
		return
	}
	if err := stream.Remove(ctx, s.rdb, party); err != nil {
		log.Warn("remove party keys", "err", err)
		return
	}
	log.Info("party finished: final flush done, stream removed", "events", n, "peak_viewers", peak)
}

// sample records each ongoing party's viewer count at sampledAt as a
// viewer-count event. Its id derives from party and time, so a second
// replica sampling the same moment stores nothing new.
func (s *Scheduler) sample(ctx context.Context, sampledAt time.Time) {
	ids, err := s.parties.OngoingIDs(ctx)
	if err != nil {
		s.log.Warn("list ongoing parties for viewer samples", "err", err)
		return
	}
	for _, p := range ids {
		n, err := s.presence.Total(ctx, p)
		if err != nil {
			s.log.Warn("count viewers", "party_id", p, "err", err)
			continue
		}
		e := event.Event{Type: event.Viewers, ID: event.NewID(p, "", "viewers@"+event.FormatTime(sampledAt)),
			PartyID: p, CreatedAt: event.Millis(sampledAt), Viewers: &n}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = s.appender.Append(actx, e, true)
		cancel()
		if err != nil {
			s.log.Warn("record viewer sample", "party_id", p, "err", err)
		}
	}
}
