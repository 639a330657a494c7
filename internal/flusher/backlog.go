package flusher

import (
	"context"
	"fmt"
	"time"

	"github.com/watchparty/watchparty/internal/event"
)

// maxBacklogRefresh bounds the pause between two refreshes of the backlog
// gauges, so they move while events wait for a long flush interval.
const maxBacklogRefresh = 15 * time.Second

// backlog is what waits in Redis across every registered stream.
type backlog struct {
	buffered int64     // entries not yet acknowledged by group flushers
	active   int       // registered parties whose stream exists
	oldest   time.Time // stream time of the oldest of them; zero when none
	dlqLen   int64
}

// refreshBacklog measures the backlog and sets the gauges it feeds. It
// costs two pipelined round trips over the registered streams (found in the
// registry set, never by scanning keys) and one LLEN, whatever the number
// of scrapes (rdb.Streams.MeasureBacklog).
func (f *Flusher) refreshBacklog(ctx context.Context, m BacklogMeter) error {
	b, err := f.measureBacklog(ctx, m)
	if err != nil {
		return err
	}
	f.metrics.Buffered.Set(float64(b.buffered))
	f.metrics.ActiveInstances.Set(float64(b.active))
	f.metrics.DLQLength.Set(float64(b.dlqLen))
	f.metrics.setOldest(b.oldest)
	return nil
}

func (f *Flusher) measureBacklog(ctx context.Context, m BacklogMeter) (backlog, error) {
	parties, err := f.consumer.Parties(ctx)
	if err != nil {
		return backlog{}, err
	}
	mb, err := m.MeasureBacklog(ctx, parties)
	if err != nil {
		return backlog{}, err
	}
	b := backlog{buffered: mb.Buffered, active: mb.Active, dlqLen: mb.DLQLen}
	for _, first := range mb.Oldest {
		id, err := event.ParsePosition(first)
		if err != nil {
			return b, fmt.Errorf("oldest unflushed entry %q: %w", first, err)
		}
		if t := time.UnixMilli(id.MS); b.oldest.IsZero() || t.Before(b.oldest) {
			b.oldest = t
		}
	}
	return b, nil
}

// refreshBacklogEvery refreshes the backlog gauges until ctx ends, at least
// every maxBacklogRefresh, so they show events waiting for the next cycle.
func (f *Flusher) refreshBacklogEvery(ctx context.Context) {
	t := time.NewTicker(min(f.cfg.Interval(), maxBacklogRefresh))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.refreshGauges(ctx); err != nil && ctx.Err() == nil {
				f.log.Debug("refresh backlog gauges", "err", err)
			}
		}
	}
}
