package rdb

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeadLetters is the dead-letter list wp:dlq (DLQKey) as internal/dlq
// edits it: whole elements as stored, addressed by their index from the
// head. It is safe for concurrent use.
type DeadLetters struct{ c Client }

// NewDeadLetters returns the dead-letter list of c.
func NewDeadLetters(c Client) DeadLetters { return DeadLetters{c: c} }

// Push appends raw at the tail of the list.
func (d DeadLetters) Push(ctx context.Context, raw string) error {
	return d.c.RPush(ctx, DLQKey, raw).Err()
}

// Len returns how many elements the list holds.
func (d DeadLetters) Len(ctx context.Context) (int, error) {
	n, err := d.c.LLen(ctx, DLQKey).Result()
	return int(n), err
}

// Range returns the elements from index start to stop, both included.
func (d DeadLetters) Range(ctx context.Context, start, stop int) ([]string, error) {
	return d.c.LRange(ctx, DLQKey, int64(start), int64(stop)).Result()
}

// Index returns the element at index and whether there is one.
func (d DeadLetters) Index(ctx context.Context, index int) (string, bool, error) {
	raw, err := d.c.LIndex(ctx, DLQKey, int64(index)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return raw, err == nil, err
}

// Replace replaces the element old, read at index, with replacement ("":
// removes it), reporting whether old was still there (ReplaceInList).
func (d DeadLetters) Replace(ctx context.Context, index int, old, replacement string) (bool, error) {
	return ReplaceInList(ctx, d.c, DLQKey, index, old, replacement)
}

// Now returns the clock of the server holding the list.
func (d DeadLetters) Now(ctx context.Context) (time.Time, error) {
	return ServerTime(ctx, d.c, DLQKey)
}
