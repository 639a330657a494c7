package rdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Backlog is what waits in Redis across a set of party streams.
type Backlog struct {
	Buffered int64 // entries not yet acknowledged by FlushGroup
	Active   int   // parties whose stream exists
	// Oldest holds, for each stream with a backlog, the id of its oldest
	// unacknowledged entry.
	Oldest []string
	DLQLen int64 // elements of DLQKey
}

// MeasureBacklog measures the backlog of parties' streams and the length
// of DLQKey in two pipelined round trips, whatever the number of parties.
func (s *Streams) MeasureBacklog(ctx context.Context, parties []uuid.UUID) (Backlog, error) {
	var b Backlog
	// Round 1: the group's position in every stream.
	pipe := s.c.Pipeline()
	groups := make([]*redis.XInfoGroupsCmd, len(parties))
	for i, p := range parties {
		groups[i] = pipe.XInfoGroups(ctx, KeysFor(p).Stream)
	}
	dlqLen := pipe.LLen(ctx, DLQKey)
	_, _ = pipe.Exec(ctx) // Exec reports the first failed command; each is judged below
	if err := dlqLen.Err(); err != nil {
		return b, fmt.Errorf("length of %s: %w", DLQKey, err)
	}
	b.DLQLen = dlqLen.Val()

	// Round 2: the oldest unacknowledged entry of each stream with a
	// backlog: the group's oldest pending entry when it has one (pending
	// entries precede every undelivered one), else the first entry after
	// the group's last delivered id.
	pipe = s.c.Pipeline()
	type probe struct {
		pending *redis.XPendingCmd
		first   *redis.XMessageSliceCmd
		length  *redis.IntCmd
	}
	probes := make([]probe, len(parties))
	queued := 0
	for i, p := range parties {
		key := KeysFor(p).Stream
		if err := groups[i].Err(); err != nil {
			if IsNoSuchKey(err) {
				continue // no stream: nothing waits
			}
			return b, fmt.Errorf("backlog of party %s: %w", p, err)
		}
		b.Active++
		g, ok := findFlushGroup(groups[i].Val())
		switch {
		case !ok: // no flusher read it yet: every entry waits
			probes[i].length = pipe.XLen(ctx, key)
			probes[i].first = pipe.XRangeN(ctx, key, "-", "+", 1)
		case g.Pending > 0:
			b.Buffered += g.Pending + max(g.Lag, 0)
			probes[i].pending = pipe.XPending(ctx, key, FlushGroup)
		case g.Lag != 0:
			if g.Lag > 0 {
				b.Buffered += g.Lag
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
			b.Buffered += pr.length.Val()
		}
		if first != "" {
			b.Oldest = append(b.Oldest, first)
		}
	}
	return b, nil
}
