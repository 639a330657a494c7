package rdb

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Backoff spaces the retries of something that needs Redis: the pause
// doubles from Min up to Max, and each pause is drawn at random from its
// upper half, so that pods restarted together do not retry in step. The
// zero value uses 50 ms and 2 s. It is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Next returns the pause before the next try.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 50 * time.Millisecond
	}
	if hi < lo {
		hi = max(lo, 2*time.Second)
	}
	if b.next < lo {
		b.next = lo
	}
	d := b.next
	b.next = min(2*b.next, hi)
	return d/2 + rand.N(d/2+1)
}

// Reset starts the pauses from Min again.
func (b *Backoff) Reset() { b.next = 0 }

// Sleep waits for the next pause and reports false if ctx ended first.
func (b *Backoff) Sleep(ctx context.Context) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Retry calls try until it succeeds or ctx ends, pausing with a Backoff
// between tries. It logs the first failure and the recovery, as what, and
// returns ctx's error if ctx ended first.
func Retry(ctx context.Context, log *slog.Logger, what string, try func(ctx context.Context) error) error {
	var b Backoff
	for n := 1; ; n++ {
		err := try(ctx)
		if err == nil {
			if n > 1 {
				log.Info("redis answers again: "+what+" done", "tries", n)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n == 1 {
			log.Warn("redis unavailable: "+what+" failed; retrying with backoff until it answers", "err", err)
		}
		if !b.Sleep(ctx) {
			return ctx.Err()
		}
	}
}
