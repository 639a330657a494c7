package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound says wp:dlq holds no batch at the requested index.
var ErrNotFound = errors.New("no dlq batch at that index")

// pageSize is how many elements one LRANGE reads.
const pageSize = 100

// Push appends b at the tail of wp:dlq. It never trims the list.
func Push(ctx context.Context, rdb redis.UniversalClient, b Batch) error {
	if b.PartyID == "" || b.Len() == 0 {
		return errors.New("push dlq batch: a batch needs a party and at least one event")
	}
	raw, err := encode(b, nil)
	if err != nil {
		return err
	}
	if err := rdb.RPush(ctx, Key, raw).Err(); err != nil {
		return fmt.Errorf("push dlq batch of party %s: %w", b.PartyID, err)
	}
	return nil
}

// Len returns how many batches wp:dlq holds, claimed ones included.
func Len(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	n, err := rdb.LLen(ctx, Key).Result()
	if err != nil {
		return 0, fmt.Errorf("length of %s: %w", Key, err)
	}
	return int(n), nil
}

// Indexed is one element of wp:dlq and its index from the head.
type Indexed struct {
	Index int
	Batch Batch
	Claim *Claim // the replay writing it now, or nil
	Raw   string // the element as stored
	Err   error  // set, with Batch empty, when the element cannot be decoded
}

// List returns the first limit elements of wp:dlq, head first (all of them
// when limit <= 0), including batches a replay is writing. An element that
// cannot be decoded is listed with Err set. Under concurrent replays the
// indexes are those of the moment each page was read.
func List(ctx context.Context, rdb redis.UniversalClient, limit int) ([]Indexed, error) {
	var out []Indexed
	for start := 0; limit <= 0 || start < limit; start += pageSize {
		stop := start + pageSize - 1
		if limit > 0 {
			stop = min(stop, limit-1)
		}
		raws, err := rdb.LRange(ctx, Key, int64(start), int64(stop)).Result()
		if err != nil {
			return out, fmt.Errorf("read %s: %w", Key, err)
		}
		for i, raw := range raws {
			b, c, err := decode(raw)
			out = append(out, Indexed{Index: start + i, Batch: b, Claim: c, Raw: raw, Err: err})
		}
		if len(raws) < stop-start+1 {
			break
		}
	}
	return out, nil
}

// Show returns the batch at index (0 is the head) and the element as stored.
// It returns ErrNotFound, wrapped, when there is no such element, and the raw
// element with a decode error when it is not a valid batch.
func Show(ctx context.Context, rdb redis.UniversalClient, index int) (Batch, string, error) {
	if index < 0 {
		return Batch{}, "", fmt.Errorf("index %d: %w", index, ErrNotFound)
	}
	raw, err := rdb.LIndex(ctx, Key, int64(index)).Result()
	if errors.Is(err, redis.Nil) {
		return Batch{}, "", fmt.Errorf("index %d: %w", index, ErrNotFound)
	}
	if err != nil {
		return Batch{}, "", fmt.Errorf("read %s index %d: %w", Key, index, err)
	}
	b, _, err := decode(raw)
	if err != nil {
		return Batch{}, raw, fmt.Errorf("index %d: %w", index, err)
	}
	return b, raw, nil
}
