package flusher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/stream"
)

// Flusher flushes every registered party stream to PostgreSQL. Its methods
// may be called concurrently for different parties.
type Flusher struct {
	cfg      Config
	consumer *stream.Consumer
	writer   *store.Writer
	metrics  *Metrics
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Flusher reading as consumer cfg.ConsumerName.
func New(cfg Config, rdb redis.UniversalClient, db *pgxpool.Pool, metrics *Metrics, log *slog.Logger) (*Flusher, error) {
	if rdb == nil || db == nil || metrics == nil || log == nil {
		return nil, errors.New("flusher needs redis, database, metrics and logger")
	}
	return &Flusher{
		cfg:      cfg,
		consumer: stream.NewConsumer(rdb, cfg.ConsumerName),
		writer:   store.NewWriter(db),
		metrics:  metrics,
		log:      log.With("component", "flusher", "consumer", cfg.ConsumerName),
		now:      time.Now,
	}, nil
}

// Run flushes every interval until ctx ends. Shutdown order: stop reading
// new batches, finish the batch in flight (commit, then XACK) within
// cfg.ShutdownTimeout, and return; anything not acknowledged stays pending.
func (f *Flusher) Run(ctx context.Context) error {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(f.cfg.ShutdownTimeout, func() {
			f.log.Warn("shutdown timeout reached; the batch in flight stays pending", "timeout", f.cfg.ShutdownTimeout)
			cancel()
		})
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()

	ticker := time.NewTicker(f.cfg.Interval())
	defer ticker.Stop()
	for {
		if _, err := f.flushAll(ctx, work); err != nil {
			f.log.Error("flush cycle incomplete", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// FlushOnce flushes every stream with events once, to the end, and reports
// an error if any party batch could not be written.
func (f *Flusher) FlushOnce(ctx context.Context) (Report, error) {
	return f.flushAll(ctx, ctx)
}

// Report counts what one cycle did.
type Report struct {
	Parties int
	Events  int
	Failed  int // party flushes that stopped on an error
}

// flushAll flushes each registered party. stop ends the cycle between
// batches; work bounds the batches themselves.
func (f *Flusher) flushAll(stop, work context.Context) (Report, error) {
	parties, err := f.consumer.Parties(work)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var errs []error
	var buffered int64
	active := 0
	for _, p := range parties {
		if stop.Err() != nil {
			break
		}
		n, err := f.FlushParty(stop, work, p)
		rep.Parties++
		rep.Events += n
		if errors.Is(err, stream.ErrNoStream) {
			continue
		}
		active++
		if err != nil {
			rep.Failed++
			errs = append(errs, err)
		}
		if b, err := f.consumer.Backlog(work, p); err == nil {
			buffered += b
		}
	}
	f.metrics.Buffered.Set(float64(buffered))
	f.metrics.ActiveInstances.Set(float64(active))
	return rep, errors.Join(errs...)
}

// FlushParty writes party's unflushed entries: first those already
// delivered to this consumer and not acknowledged, then new ones, batch by
// batch, each in one transaction acknowledged after its commit. It returns
// how many events were written.
func (f *Flusher) FlushParty(stop, work context.Context, party uuid.UUID) (int, error) {
	log := f.log.With("party_id", party)
	if err := f.consumer.EnsureGroup(work, party); err != nil {
		return 0, err
	}
	start := f.now()
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
	n, err := f.flushNew(stop, work, log, party)
	written += n
	if err != nil {
		return written, err
	}
	if err := f.consumer.Trim(work, party, f.cfg.Retention, f.now()); err != nil {
		log.Warn("trim failed", "err", err)
	}
	if written > 0 {
		log.Info("flushed party", "events", written, "duration_ms", f.now().Sub(start).Milliseconds())
	}
	return written, nil
}

// flushNew reads batches of new entries one ahead of the writer, so that
// reading from Redis overlaps writing to PostgreSQL. Read entries that are
// not written stay pending on this consumer and are re-read first next time.
func (f *Flusher) flushNew(stop, work context.Context, log *slog.Logger, party uuid.UUID) (int, error) {
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

// writeBatch writes the decodable entries of one batch in one transaction
// and acknowledges them after the commit. Undecodable entries stay pending.
func (f *Flusher) writeBatch(ctx context.Context, log *slog.Logger, party uuid.UUID, entries []stream.Entry) (int, error) {
	start := f.now()
	events := make([]event.Event, 0, len(entries))
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Err != nil {
			log.Error("undecodable stream entry left pending", "stream_id", e.ID, "err", e.Err)
			continue
		}
		events = append(events, e.Event)
		ids = append(ids, e.ID)
	}
	if len(events) > 0 {
		log.Debug("flush start", "events", len(events))
		if err := f.writer.Write(ctx, events); err != nil {
			return 0, f.failed(log, err, len(events))
		}
	}
	if err := f.consumer.Ack(ctx, party, ids); err != nil {
		// Committed but not acknowledged: the entries are redelivered and
		// the idempotent write skips them.
		return 0, f.failed(log, err, len(events))
	}
	f.metrics.FlushDuration.Observe(float64(f.now().Sub(start).Microseconds()) / 1000)
	for _, e := range events {
		f.metrics.Flushed.WithLabelValues(string(e.Type)).Inc()
	}
	return len(events), nil
}

func (f *Flusher) failed(log *slog.Logger, err error, events int) error {
	f.metrics.FailedFlushes.Inc()
	log.Error("flush failed; entries stay pending", "events", events, "err", err)
	return fmt.Errorf("flush: %w", err)
}
