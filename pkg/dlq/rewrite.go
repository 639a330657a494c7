package dlq

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/pkg/event"
)

// maxRewritePasses bounds Rewrite's passes over a list that keeps changing.
const maxRewritePasses = 20

// Rewrite removes the events drop selects from every batch of wp:dlq,
// keeping each batch's claim, and removes the batches it leaves empty. A
// batch changes only if nobody changed it since it was read (a replay, a
// push that shifted it); when one did, the list is read again, until a
// pass finds nothing left to remove. It returns the events and the
// batches it removed. Entries that cannot be decoded are left alone (a
// replay decodes them and the writer applies the same rules to them).
func Rewrite(ctx context.Context, c redis.UniversalClient, drop func(event.Event) bool) (events, batches int, err error) {
	for range maxRewritePasses {
		list, err := List(ctx, c, 0)
		if err != nil {
			return events, batches, err
		}
		missed := false
		// From the tail: removing a batch does not move those before it.
		for _, it := range slices.Backward(list) {
			if it.Err != nil {
				continue
			}
			kept := make([]event.Event, 0, len(it.Batch.Events))
			for _, e := range it.Batch.Events {
				if !drop(e) {
					kept = append(kept, e)
				}
			}
			removed := len(it.Batch.Events) - len(kept)
			if removed == 0 {
				continue
			}
			b := it.Batch
			b.Events = kept
			replacement := ""
			if b.Len() > 0 {
				if replacement, err = encode(b, it.Claim); err != nil {
					return events, batches, err
				}
			}
			ok, err := swap(ctx, c, it.Index, it.Raw, replacement)
			if err != nil {
				return events, batches, err
			}
			if !ok {
				missed = true
				continue
			}
			events += removed
			if replacement == "" {
				batches++
			}
		}
		if !missed {
			return events, batches, nil
		}
	}
	return events, batches, fmt.Errorf("%s kept changing: %d passes did not get through it", Key, maxRewritePasses)
}
