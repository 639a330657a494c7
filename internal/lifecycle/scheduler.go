package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watchparty/watchparty/internal/presence"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
)

// Config tunes the scheduler.
type Config struct {
	// Name is this replica's name (the flusher's consumer name); the lease
	// token starts with it.
	Name string
	// Interval is the pause between two passes over the party table.
	Interval time.Duration
	// LeaseTTL is how long the lease outlives a holder that stops renewing.
	LeaseTTL time.Duration
	// SampleInterval is the period of viewer-count samples.
	SampleInterval time.Duration
}

// Deps is what the scheduler acts on.
type Deps struct {
	Parties  Parties
	Flusher  Flusher
	Streams  Streams
	Presence Presence
	Samples  SampleWriter
	// Leader is set to 1 while this replica holds the lease, else 0.
	Leader prometheus.Gauge
	// Pruner, when set, deletes expired rows after each pass over the
	// party table (Retention).
	Pruner Pruner
}

// Pruner deletes what has outlived its retention.
type Pruner interface {
	Prune(ctx context.Context, now time.Time)
}

// Scheduler advances party statuses, finishes parties (final flush, peak
// viewers, removal of their Redis keys) and samples viewer counts. It acts
// only while this replica holds the scheduler lease, so one replica at a
// time does; each transition is also guarded in SQL by the status it leaves.
type Scheduler struct {
	cfg   Config
	deps  Deps
	lease lease
	log   *slog.Logger
	clock clock
	hooks hooks
}

// hooks let tests watch the lease and slow a pass down on purpose; all nil
// in production.
type hooks struct {
	leaseChecked func(held bool)           // after each take-or-renew of the loop
	passStarted  func(ctx context.Context) // inside a pass, with the pass's context
}

// New returns the scheduler of the flusher replica cfg.Name over Redis
// c: its lease, the streams it closes and removes, the viewer counts it
// reads and the samples it appends are there. parties, f, leader and
// pruner (nil: none) are the rest of deps.
func New(cfg Config, c rdb.Client, parties Parties, f Flusher, leader prometheus.Gauge,
	pruner Pruner, log *slog.Logger) *Scheduler {
	return newScheduler(cfg, Deps{Parties: parties, Flusher: f, Streams: redisStreams{c},
		Presence: presence.Reader(c), Samples: stream.NewWriter(c), Leader: leader, Pruner: pruner},
		newRedisLease(rdb.NewLease(c, LeaseKey), cfg.Name, cfg.LeaseTTL), realClock{}, log)
}

func newScheduler(cfg Config, deps Deps, l lease, c clock, log *slog.Logger) *Scheduler {
	return &Scheduler{cfg: cfg, deps: deps, lease: l, clock: c,
		log: log.With("component", "scheduler", "consumer", cfg.Name)}
}

// loop is what the scheduler remembers between two lease checks.
type loop struct {
	leader      bool
	lastAdvance time.Time
	nextSample  time.Time
}

// Run holds or contends for the lease and acts while held, until ctx ends;
// then it releases the lease so another replica takes over at once.
func (s *Scheduler) Run(ctx context.Context) error {
	ticks, stop := s.clock.NewTicker(min(s.cfg.Interval, s.cfg.LeaseTTL/3))
	defer stop()
	st := loop{nextSample: s.nextSample(s.clock.Now())}
	for {
		s.step(ctx, &st)
		select {
		case <-ctx.Done():
			if st.leader {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				s.lease.release(rctx)
				cancel()
			}
			s.deps.Leader.Set(0)
			return nil
		case <-ticks:
		}
	}
}

// nextSample is the first sampling moment after t: a multiple of the
// sample interval, so that replicas sample the same moments.
func (s *Scheduler) nextSample(t time.Time) time.Time {
	return t.Truncate(s.cfg.SampleInterval).Add(s.cfg.SampleInterval)
}

// step checks the lease and, if held, runs what is due: a pass over the
// party table every Interval, a viewer sample at every sampling moment.
func (s *Scheduler) step(ctx context.Context, st *loop) {
	checked := s.clock.Now()
	held, err := s.lease.hold(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("scheduler lease check failed", "err", err)
	}
	if s.hooks.leaseChecked != nil {
		s.hooks.leaseChecked(held)
	}
	if held {
		s.deps.Leader.Set(1)
	} else {
		s.deps.Leader.Set(0)
	}
	if held != st.leader {
		st.leader = held
		s.log.Info("scheduler lease changed", "held", held)
	}
	now := s.clock.Now()
	doAdvance := held && now.Sub(st.lastAdvance) >= s.cfg.Interval
	doSample, sampleAt := held && !now.Before(st.nextSample), st.nextSample
	if doAdvance {
		st.lastAdvance = now
	}
	if !now.Before(st.nextSample) {
		st.nextSample = s.nextSample(now)
	}
	if !doAdvance && !doSample {
		return
	}
	s.underLease(ctx, checked, func(ctx context.Context) {
		if doAdvance {
			s.Advance(ctx)
			if s.deps.Pruner != nil && ctx.Err() == nil {
				s.deps.Pruner.Prune(ctx, now)
			}
		}
		if doSample && ctx.Err() == nil {
			s.Sample(ctx, sampleAt)
		}
	})
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
	ticks, stopTicks := s.clock.NewTicker(every)
	defer stopTicks()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-ticks:
		}
		sent := s.clock.Now()
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
		case s.clock.Now().Sub(heldAt)+every >= s.cfg.LeaseTTL:
			s.log.Warn("scheduler lease could not be renewed and may lapse; the pass stops", "err", err)
			cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
			return
		case ctx.Err() == nil:
			s.log.Warn("renew scheduler lease during a pass", "err", err)
		}
	}
}
