package flusher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
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
// of scrapes.
func (f *Flusher) refreshBacklog(ctx context.Context, rc redis.UniversalClient) error {
	b, err := f.measureBacklog(ctx, rc)
	if err != nil {
		return err
	}
	f.metrics.Buffered.Set(float64(b.buffered))
	f.metrics.ActiveInstances.Set(float64(b.active))
	f.metrics.DLQLength.Set(float64(b.dlqLen))
	f.metrics.setOldest(b.oldest)
	return nil
}

func (f *Flusher) measureBacklog(ctx context.Context, rc redis.UniversalClient) (backlog, error) {
	var b backlog
	parties, err := f.consumer.Parties(ctx)
	if err != nil {
		return b, err
	}
	// Round 1: the group's position in every stream.
	pipe := rc.Pipeline()
	groups := make([]*redis.XInfoGroupsCmd, len(parties))
	for i, p := range parties {
		groups[i] = pipe.XInfoGroups(ctx, stream.KeysFor(p).Stream)
	}
	dlqLen := pipe.LLen(ctx, dlq.Key)
	_, _ = pipe.Exec(ctx) // Exec reports the first failed command; each is judged below
	if err := dlqLen.Err(); err != nil {
		return b, fmt.Errorf("length of %s: %w", dlq.Key, err)
	}
	b.dlqLen = dlqLen.Val()

	// Round 2: the oldest unacknowledged entry of each stream with a
	// backlog: the group's oldest pending entry when it has one (pending
	// entries precede every undelivered one), else the first entry after
	// the group's last delivered id.
	pipe = rc.Pipeline()
	type probe struct {
		pending *redis.XPendingCmd
		first   *redis.XMessageSliceCmd
		length  *redis.IntCmd
	}
	probes := make([]probe, len(parties))
	queued := 0
	for i, p := range parties {
		key := stream.KeysFor(p).Stream
		if err := groups[i].Err(); err != nil {
			if rdb.IsNoSuchKey(err) {
				continue // no stream: nothing waits
			}
			return b, fmt.Errorf("backlog of party %s: %w", p, err)
		}
		b.active++
		g, ok := findGroup(groups[i].Val())
		switch {
		case !ok: // no flusher read it yet: every entry waits
			probes[i].length = pipe.XLen(ctx, key)
			probes[i].first = pipe.XRangeN(ctx, key, "-", "+", 1)
		case g.Pending > 0:
			b.buffered += g.Pending + max(g.Lag, 0)
			probes[i].pending = pipe.XPending(ctx, key, stream.Group)
		case g.Lag != 0:
			if g.Lag > 0 {
				b.buffered += g.Lag
			} else { // lag unknown (entries deleted): count from the position
				probes[i].length = pipe.XLen(ctx, key)
			}
			probes[i].first = pipe.XRangeN(ctx, key, "("+g.LastDeliveredID, "+", 1)
		default:
			continue
		}
		queued++
	}
	if queued > 0 {
		_, _ = pipe.Exec(ctx)
	}
	for i, p := range parties {
		pr := probes[i]
		var first string
		switch {
		case pr.pending != nil:
			if err := pr.pending.Err(); err != nil {
				return b, fmt.Errorf("pending entries of party %s: %w", p, err)
			}
			first = pr.pending.Val().Lower
		case pr.first != nil:
			if err := pr.first.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return b, fmt.Errorf("first unflushed entry of party %s: %w", p, err)
			}
			if msgs := pr.first.Val(); len(msgs) > 0 {
				first = msgs[0].ID
			}
		}
		if pr.length != nil {
			b.buffered += pr.length.Val()
		}
		if first == "" {
			continue
		}
		id, err := event.ParsePosition(first)
		if err != nil {
			return b, fmt.Errorf("party %s: %w", p, err)
		}
		if t := time.UnixMilli(id.MS); b.oldest.IsZero() || t.Before(b.oldest) {
			b.oldest = t
		}
	}
	return b, nil
}

func findGroup(groups []redis.XInfoGroup) (redis.XInfoGroup, bool) {
	for _, g := range groups {
		if g.Name == stream.Group {
			return g, true
		}
	}
	return redis.XInfoGroup{}, false
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
