package dlq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// replaceScript replaces one element of the list, found by its whole
// value, with another, or removes it. Comparing the whole element makes it
// a compare-and-swap: it fails when anyone claimed, updated or removed the
// element since it was read.
//
// The caller passes the index where it read the element. Elements only
// ever move toward the head (flushers append at the tail, replays remove),
// so the element is there unless another replay removed some ahead of it;
// only then is the list searched from the head. Looking an index up walks
// the list's nodes, not its elements, so a replay of the whole list stays
// about linear in its length, where a search per element was quadratic.
//
// Redis cannot remove by index: the element is overwritten with a marker
// that no batch can equal, which LREM then removes scanning from the nearer
// end, comparing lengths only, or popped when it is at the head.
//
//	KEYS[1] -> wp:dlq
//	ARGV[1] -> the index the element was read at (a hint)
//	ARGV[2] -> the element as read
//	ARGV[3] -> its replacement, or "" to remove it
//	ARGV[4] -> the removal marker
//
// Returns 1 when done, 0 when the element is no longer in the list.
var replaceScript = redis.NewScript(`
local i = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], i) ~= ARGV[2] then
  i = redis.call('LPOS', KEYS[1], ARGV[2])
  if not i then return 0 end
end
if ARGV[3] ~= '' then
  redis.call('LSET', KEYS[1], i, ARGV[3])
  return 1
end
if i == 0 then
  redis.call('LPOP', KEYS[1])
  return 1
end
redis.call('LSET', KEYS[1], i, ARGV[4])
if i > redis.call('LLEN', KEYS[1]) / 2 then
  redis.call('LREM', KEYS[1], -1, ARGV[4])
else
  redis.call('LREM', KEYS[1], 1, ARGV[4])
end
return 1
`)

// removalMarker stands for an element being removed, inside one script
// run; it is never left in the list and is not a JSON document.
const removalMarker = "\x00wp:dlq:removed"

// clockScript returns the TIME of the server holding wp:dlq, so that every
// replay judges claims by one clock.
var clockScript = redis.NewScript(`return redis.call('TIME')`)

// swap replaces the element old, read at index, with new, reporting whether
// old was still there.
func swap(ctx context.Context, rdb redis.UniversalClient, index int, old, new string) (bool, error) {
	n, err := replaceScript.Run(ctx, rdb, []string{Key}, index, old, new, removalMarker).Int()
	if err != nil {
		return false, fmt.Errorf("update %s: %w", Key, err)
	}
	return n == 1, nil
}

// remove deletes the element raw, read at index, reporting whether it was
// there. A claimed element names its claim's owner and expiry, so it is
// unique in the list.
func remove(ctx context.Context, rdb redis.UniversalClient, index int, raw string) (bool, error) {
	n, err := replaceScript.Run(ctx, rdb, []string{Key}, index, raw, "", removalMarker).Int()
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
