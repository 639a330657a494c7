package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ClaimIdle moves to this consumer the party's entries that another
// consumer has held unacknowledged for at least minIdle (a flusher that
// died), and returns how many it took. They are then read as this
// consumer's own pending entries.
func (c *Consumer) ClaimIdle(ctx context.Context, party uuid.UUID, minIdle time.Duration, count int) (int, error) {
	start, claimed := "0-0", 0
	for {
		n, next, err := c.rdb.ClaimIdle(ctx, party, c.name, minIdle, start, count)
		if err != nil {
			return claimed, fmt.Errorf("claim idle entries of party %s: %w", party, err)
		}
		claimed += n
		if next == "0-0" || next == "" {
			return claimed, nil
		}
		start = next
	}
}

// PruneConsumers removes from the party's group the consumers other than
// this one that hold nothing pending and were idle longer than idle: gone
// flushers with unstable names would otherwise pile up.
func (c *Consumer) PruneConsumers(ctx context.Context, party uuid.UUID, idle time.Duration) (int, error) {
	consumers, err := c.rdb.Consumers(ctx, party)
	if err != nil {
		return 0, fmt.Errorf("list consumers of party %s: %w", party, err)
	}
	removed := 0
	for _, cons := range consumers {
		if cons.Name == c.name || cons.Pending > 0 || cons.Idle < idle {
			continue
		}
		// Deleted only if it still holds nothing pending, in one step: a
		// consumer that read since XINFO would otherwise lose its entries.
		deleted, err := c.rdb.DeleteIdleConsumer(ctx, party, cons.Name)
		if err != nil {
			return removed, fmt.Errorf("remove consumer %s of party %s: %w", cons.Name, party, err)
		}
		if deleted {
			removed++
		}
	}
	return removed, nil
}

// CountFailures records one more permanent write failure of each entry of
// ids, in one round trip, and returns each one's count so far.
func (c *Consumer) CountFailures(ctx context.Context, party uuid.UUID, ids []string) ([]int, error) {
	out, err := c.rdb.CountFailures(ctx, party, ids)
	if err != nil {
		return nil, fmt.Errorf("count failures of %d entries of party %s: %w", len(ids), party, err)
	}
	return out, nil
}

// ForgetFailures drops the failure counts of ids (after they were
// acknowledged).
func (c *Consumer) ForgetFailures(ctx context.Context, party uuid.UUID, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return c.rdb.ForgetFailures(ctx, party, ids)
}
