package dlq

import (
	"context"
	"fmt"
	"time"
)

// A replay edits wp:dlq in place by compare-and-swap on whole elements
// (rdb.ReplaceInList, through list.Replace): an element changes or leaves only if nobody
// claimed, updated or removed it since it was read, so replays running at
// once never write a batch twice and a batch never leaves the list before
// its commit.

// swap replaces the element old, read at index, with new, reporting whether
// old was still there.
func swap(ctx context.Context, l list, index int, old, new string) (bool, error) {
	ok, err := l.Replace(ctx, index, old, new)
	if err != nil {
		return false, fmt.Errorf("update %s: %w", Key, err)
	}
	return ok, nil
}

// remove deletes the element raw, read at index, reporting whether it was
// there. A claimed element names its claim's owner and expiry, so it is
// unique in the list.
func remove(ctx context.Context, l list, index int, raw string) (bool, error) {
	ok, err := l.Replace(ctx, index, raw, "")
	if err != nil {
		return false, fmt.Errorf("remove from %s: %w", Key, err)
	}
	return ok, nil
}

// serverNow returns the clock of the server holding wp:dlq, so that every
// replay judges claims by one clock.
func serverNow(ctx context.Context, l list) (time.Time, error) {
	now, err := l.Now(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read redis time: %w", err)
	}
	return now, nil
}
