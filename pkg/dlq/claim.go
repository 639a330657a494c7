package dlq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// swapScript replaces the first element equal to ARGV[1] with ARGV[2] and
// returns 1, or returns 0 when no element equals ARGV[1] any more. Comparing
// the whole element makes it a compare-and-swap: it fails when anyone
// claimed, updated or removed the batch since it was read.
var swapScript = redis.NewScript(`
local pos = redis.call('LPOS', KEYS[1], ARGV[1])
if not pos then return 0 end
redis.call('LSET', KEYS[1], pos, ARGV[2])
return 1
`)

// clockScript returns the TIME of the server holding wp:dlq, so that every
// replay judges claims by one clock.
var clockScript = redis.NewScript(`return redis.call('TIME')`)

// swap replaces the element old with new, reporting whether old was there.
func swap(ctx context.Context, rdb redis.UniversalClient, old, new string) (bool, error) {
	n, err := swapScript.Run(ctx, rdb, []string{Key}, old, new).Int()
	if err != nil {
		return false, fmt.Errorf("update %s: %w", Key, err)
	}
	return n == 1, nil
}

// remove deletes the element raw, reporting whether it was there. A claimed
// element names its claim's owner and expiry, so it is unique in the list.
func remove(ctx context.Context, rdb redis.UniversalClient, raw string) (bool, error) {
	n, err := rdb.LRem(ctx, Key, 1, raw).Result()
	if err != nil {
		return false, fmt.Errorf("remove from %s: %w", Key, err)
	}
	return n == 1, nil
}

// serverNow returns the clock of the server holding wp:dlq.
func serverNow(ctx context.Context, rdb redis.UniversalClient) (time.Time, error) {
	parts, err := clockScript.Run(ctx, rdb, []string{Key}).StringSlice()
	if err != nil {
		return time.Time{}, fmt.Errorf("read redis time: %w", err)
	}
	if len(parts) != 2 {
		return time.Time{}, fmt.Errorf("read redis time: bad reply %q", parts)
	}
	sec, err1 := strconv.ParseInt(parts[0], 10, 64)
	usec, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("read redis time: bad reply %q", parts)
	}
	return time.Unix(sec, usec*1000).UTC(), nil
}
