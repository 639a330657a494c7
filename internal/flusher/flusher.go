package flusher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/shutdown"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// flushWorkers is how many parties one flusher writes at once.
const flushWorkers = 2

// Flusher flushes every registered party stream to PostgreSQL. Its methods
// may be called concurrently for different parties.
type Flusher struct {
	cfg       Config
	deployErr atomic.Pointer[error]
	consumer  Source
	writer    Writer
	dlq       DeadLetters
	// refreshGauges measures the backlog and sets its gauges.
	refreshGauges func(context.Context) error
	metrics       *Metrics
	log           *slog.Logger
	now           func() time.Time
}

// New returns a Flusher reading as consumer cfg.ConsumerName of rdb's
// streams, writing to db and dead-lettering to wp:dlq.
func New(cfg Config, rc rdb.Client, db *pgxpool.Pool, metrics *Metrics, log *slog.Logger) (*Flusher, error) {
	if rc == nil || db == nil || metrics == nil || log == nil {
		return nil, errors.New("flusher needs redis, database, metrics and logger")
	}
	f := assemble(cfg, stream.NewConsumer(rc, cfg.ConsumerName), store.NewWriter(db), dlqList{rc}, metrics, log)
	meter := rdb.NewStreams(rc)
	f.refreshGauges = func(ctx context.Context) error { return f.refreshBacklog(ctx, meter) }
	return f, nil
}

// assemble returns a Flusher over its three dependencies, without backlog
// gauges.
func assemble(cfg Config, src Source, w Writer, dl DeadLetters, metrics *Metrics, log *slog.Logger) *Flusher {
	return &Flusher{
		cfg:           cfg,
		consumer:      src,
		writer:        w,
		dlq:           dl,
		refreshGauges: func(context.Context) error { return nil },
		metrics:       metrics,
		log:           log.With("component", "flusher", "consumer", cfg.ConsumerName),
		now:           time.Now,
	}
}

// Run flushes every interval until ctx ends. Shutdown order: stop reading
// new batches (quit, when ctx ends), finish the batch in flight (commit,
// then XACK) within cfg.ShutdownTimeout, after which it is given up
// (abort), and return; anything not acknowledged stays pending.
func (f *Flusher) Run(ctx context.Context) error {
	st := shutdown.New(f.cfg.ShutdownTimeout, func() {
		f.log.Warn("shutdown timeout reached; the batch in flight stays pending", "timeout", f.cfg.ShutdownTimeout)
	})
	defer st.Abort()
	defer st.QuitWhen(ctx)()
	sig := st.Signals()

	gauges, stopGauges := context.WithCancel(ctx)
	defer stopGauges()
	go f.refreshBacklogEvery(gauges)

	wait := f.cfg.Interval()
	for {
		_, err := f.flushAll(sig)
		wait = f.nextWait(wait, err)
		pause := wait
		if err != nil {
			// Jitter, so replicas that failed together (a Redis or
			// PostgreSQL outage) do not all retry at the same moment.
			pause = wait/2 + rand.N(wait/2+1)
			// Failed party flushes were logged where they failed; only
			// what was not is logged here.
			if err := unlogged(err); err != nil {
				f.log.Error("flush cycle incomplete; retrying", "err", err, "retry_in", pause)
			} else {
				f.log.Error("flush cycle incomplete; retrying", "retry_in", pause)
			}
		}
		select {
		case <-sig.Quit.Done():
			return nil
		case <-time.After(pause):
		}
	}
}

// nextWait is the pause before the next cycle: the flush interval, or after
// a failed cycle a backoff that doubles from it up to a minute (or the
// interval, if longer), so an outage is retried without hammering the
// database.
func (f *Flusher) nextWait(prev time.Duration, err error) time.Duration {
	interval := f.cfg.Interval()
	if err == nil {
		return interval
	}
	ceiling := max(interval, time.Minute)
	if prev < interval {
		prev = interval
	}
	return min(2*prev, ceiling)
}

// FlushOnce flushes every stream with events once, to the end, and reports
// an error if any party batch could not be written.
func (f *Flusher) FlushOnce(ctx context.Context) (Report, error) {
	return f.flushAll(shutdown.Together(ctx))
}

// Report counts what one cycle did.
type Report struct {
	Parties int
	Events  int
	Failed  int // party flushes that stopped on an error
}

// flushAll flushes each registered party. sig.Quit ends the cycle between
// batches; sig.Abort bounds the batches themselves.
func (f *Flusher) flushAll(sig shutdown.Signals) (Report, error) {
	parties, err := f.consumer.Parties(sig.Abort)
	if err != nil {
		return Report{}, err
	}
	var (
		mu   sync.Mutex
		rep  Report
		errs []error
		g    errgroup.Group
	)
	// Parties are flushed flushWorkers at a time: one party's Redis reads
	// and JSON decoding overlap another's COPY.
	g.SetLimit(flushWorkers)
	for _, p := range parties {
		if sig.Quit.Err() != nil {
			break
		}
		g.Go(func() error {
			n, err := f.flushParty(sig, p)
			mu.Lock()
			defer mu.Unlock()
			rep.Parties++
			rep.Events += n
			if errors.Is(err, stream.ErrNoStream) {
				return nil
			}
			if err != nil {
				rep.Failed++
				errs = append(errs, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := f.refreshGauges(sig.Abort); err != nil {
		f.log.Warn("refresh backlog gauges", "err", err)
	}
	return rep, errors.Join(errs...)
}

// FlushParty writes every unflushed entry of party, until ctx ends: first
// those already delivered to this consumer and not acknowledged, then new
// ones, batch by batch, each in one transaction acknowledged after its
// commit. It returns how many events were written; stream.ErrNoStream when
// party has no stream.
func (f *Flusher) FlushParty(ctx context.Context, party uuid.UUID) (int, error) {
	return f.flushParty(shutdown.Together(ctx), party)
}

// Parties lists the parties registered as possibly holding unflushed events.
func (f *Flusher) Parties(ctx context.Context) ([]uuid.UUID, error) { return f.consumer.Parties(ctx) }

// Backlog counts party's entries not yet written and acknowledged.
func (f *Flusher) Backlog(ctx context.Context, party uuid.UUID) (int64, error) {
	return f.consumer.Backlog(ctx, party)
}

// flushParty is FlushParty: sig.Quit stops it between batches, sig.Abort
// gives up the batch in flight.
func (f *Flusher) flushParty(sig shutdown.Signals, party uuid.UUID) (int, error) {
	stop, work := sig.Quit, sig.Abort
	log := f.log.With("party_id", party)
	if err := f.consumer.EnsureGroup(work, party); err != nil {
		return 0, err
	}
	start := f.now()
	if n, err := f.consumer.ClaimIdle(work, party, f.cfg.ClaimMinIdle, f.cfg.BatchSize); err != nil {
		log.Warn("claim entries of dead flushers", "err", err)
	} else if n > 0 {
		f.metrics.Claimed.Add(float64(n))
		log.Info("claimed entries pending on a dead flusher", "entries", n, "min_idle", f.cfg.ClaimMinIdle)
	}
	written := 0
	after := "0"
	for stop.Err() == nil {
		entries, err := f.consumer.ReadOwnPending(work, party, after, f.cfg.BatchSize)
		if err != nil || len(entries) == 0 {
			if err != nil {
				return written, f.failed(log, err, 0)
			}
			break
		}
		after = entries[len(entries)-1].ID
		n, err := f.writeBatch(work, log, party, entries)
		written += n
		if err != nil {
			return written, err
		}
	}
	n, err := f.flushNew(sig, log, party)
	written += n
	if err != nil {
		return written, err
	}
	if err := f.consumer.Trim(work, party, f.cfg.Retention, f.now()); err != nil {
		log.Warn("trim failed", "err", err)
	}
	if n, err := f.consumer.PruneConsumers(work, party, max(2*f.cfg.Interval(), f.cfg.ClaimMinIdle)); err == nil && n > 0 {
		log.Info("removed idle consumers without pending entries", "consumers", n)
	}
	if written > 0 {
		log.Info("flushed party", "events", written, "duration_ms", f.now().Sub(start).Milliseconds())
	}
	return written, nil
}

// flushNew reads batches of new entries one ahead of the writer, so that
// reading from Redis overlaps writing to PostgreSQL. Read entries that are
// not written stay pending on this consumer and are re-read first next time.
func (f *Flusher) flushNew(sig shutdown.Signals, log *slog.Logger, party uuid.UUID) (int, error) {
	stop, work := sig.Quit, sig.Abort
	readCtx, cancelRead := context.WithCancel(work)
	defer cancelRead()
	type read struct {
		entries []stream.Entry
		err     error
	}
	batches := make(chan read, 1)
	go func() {
		defer close(batches)
		for stop.Err() == nil && readCtx.Err() == nil {
			entries, err := f.consumer.ReadNew(readCtx, party, f.cfg.BatchSize)
			if len(entries) == 0 && err == nil {
				return
			}
			select {
			case batches <- read{entries, err}:
			case <-readCtx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	written := 0
	for b := range batches {
		if stop.Err() != nil {
			// Read ahead but not written: stays pending. Wait for the reader.
			cancelRead()
			for range batches { //nolint:revive // drain so the reader exits
			}
			break
		}
		if b.err != nil {
			return written, f.failed(log, b.err, 0)
		}
		n, err := f.writeBatch(work, log, party, b.entries)
		written += n
		if err != nil {
			cancelRead()
			for range batches { //nolint:revive // drain so the reader exits
			}
			return written, err
		}
	}
	return written, nil
}

// writeBatch writes one batch: the good entries in one transaction,
// acknowledged after the commit, with permanently failing entries isolated
// and counted toward the dead-letter list. A transient or deployment error
// leaves everything not yet written pending.
func (f *Flusher) writeBatch(ctx context.Context, log *slog.Logger, party uuid.UUID, entries []stream.Entry) (int, error) {
	start := f.now()
	good := make([]stream.Entry, 0, len(entries))
	var bad []failure
	for _, e := range entries {
		if e.Err != nil {
			bad = append(bad, failure{[]stream.Entry{e}, e.Err})
			continue
		}
		good = append(good, e)
	}
	log.Debug("flush start", "events", len(good))
	written, failed, err := f.isolate(ctx, party, good)
	f.countFlushed(good, written, failed)
	if err != nil {
		return written, f.failed(log, err, len(good)-written)
	}
	f.deployErr.Store(nil)
	f.deadLetter(ctx, log, party, append(bad, failed...))
	f.metrics.FlushDuration.Observe(float64(f.now().Sub(start).Microseconds()) / 1000)
	return written, nil
}

// countFlushed adds the written events to the per-type counter.
func (f *Flusher) countFlushed(good []stream.Entry, written int, failed []failure) {
	if written == 0 {
		return
	}
	skip := make(map[string]bool, len(failed))
	for _, fl := range failed {
		for _, e := range fl.entries {
			skip[e.ID] = true
		}
	}
	counts := map[event.Type]int{}
	for _, e := range good {
		if !skip[e.ID] {
			counts[e.Event.Type]++
		}
	}
	for t, n := range counts {
		f.metrics.Flushed.WithLabelValues(string(t)).Add(float64(n))
	}
}

// failed records a batch that could not be written: a transient error is
// retried on later cycles; a deployment error (missing table, bad
// credentials) is retried too but turns the flusher not ready.
func (f *Flusher) failed(log *slog.Logger, err error, events int) error {
	f.metrics.FailedFlushes.Inc()
	class := store.Classify(err)
	if class == store.Deployment {
		f.deployErr.Store(&err)
		log.Error("flush failed: the deployment looks wrong (schema, permissions or credentials), not the data; "+
			"entries stay pending and are retried", "events", events, "sqlstate", store.SQLState(err), "err", err)
	} else {
		log.Error("flush failed; entries stay pending", "class", class.String(), "events", events, "err", err)
	}
	return loggedError{fmt.Errorf("flush: %w", err)}
}

// loggedError is an error already logged where it was handled, so that
// whoever receives it does not log it again.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// unlogged returns the parts of err (a join of errors) not logged yet, nil
// when every part was.
func unlogged(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var rest []error
		for _, e := range j.Unwrap() {
			if e := unlogged(e); e != nil {
				rest = append(rest, e)
			}
		}
		return errors.Join(rest...)
	}
	var l loggedError
	if errors.As(err, &l) {
		return nil
	}
	return err
}

// Unlogged returns the parts of an error of FlushOnce not logged by the
// flusher yet, nil when every part was.
func Unlogged(err error) error { return unlogged(err) }

// Ready reports a deployment error seen on the last write, if any: the
// flusher is not ready until a write succeeds again.
func (f *Flusher) Ready(context.Context) error {
	if p := f.deployErr.Load(); p != nil {
		return fmt.Errorf("writes fail: %w", *p)
	}
	return nil
}
