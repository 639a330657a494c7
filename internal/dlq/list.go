package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/watchparty/watchparty/internal/rdb"
)

// ErrNotFound says wp:dlq holds no batch at the requested index.
var ErrNotFound = errors.New("no dlq batch at that index")

// pageSize is how many elements one LRANGE reads.
const pageSize = 100

// list is wp:dlq as this package reads and edits it: whole elements, by
// index from the head (rdb.DeadLetters).
type list interface {
	Push(ctx context.Context, raw string) error
	Len(ctx context.Context) (int, error)
	// Range returns the elements from start to stop, both included.
	Range(ctx context.Context, start, stop int) ([]string, error)
	// Index returns the element at index and whether there is one.
	Index(ctx context.Context, index int) (string, bool, error)
	// Replace swaps old, read at index, for replacement ("": removes
	// it), reporting whether old was still there.
	Replace(ctx context.Context, index int, old, replacement string) (bool, error)
	// Now is the clock of the server holding the list.
	Now(ctx context.Context) (time.Time, error)
}

// Push appends b at the tail of wp:dlq. It never trims the list.
func Push(ctx context.Context, c rdb.Client, b Batch) error {
	if b.PartyID == "" || b.Len() == 0 {
		return errors.New("push dlq batch: a batch needs a party and at least one event")
	}
	raw, err := encode(b, nil)
	if err != nil {
		return err
	}
	if err := rdb.NewDeadLetters(c).Push(ctx, raw); err != nil {
		return fmt.Errorf("push dlq batch of party %s: %w", b.PartyID, err)
	}
	return nil
}

// Len returns how many batches wp:dlq holds, claimed ones included.
func Len(ctx context.Context, c rdb.Client) (int, error) { return length(ctx, rdb.NewDeadLetters(c)) }

func length(ctx context.Context, l list) (int, error) {
	n, err := l.Len(ctx)
	if err != nil {
		return 0, fmt.Errorf("length of %s: %w", Key, err)
	}
	return n, nil
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
func List(ctx context.Context, c rdb.Client, limit int) ([]Indexed, error) {
	return listAll(ctx, rdb.NewDeadLetters(c), limit)
}

func listAll(ctx context.Context, l list, limit int) ([]Indexed, error) {
	var out []Indexed
	for start := 0; limit <= 0 || start < limit; start += pageSize {
		stop := start + pageSize - 1
		if limit > 0 {
			stop = min(stop, limit-1)
		}
		raws, err := l.Range(ctx, start, stop)
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
func Show(ctx context.Context, c rdb.Client, index int) (Batch, string, error) {
	if index < 0 {
		return Batch{}, "", fmt.Errorf("index %d: %w", index, ErrNotFound)
	}
	raw, found, err := rdb.NewDeadLetters(c).Index(ctx, index)
	if err != nil {
		return Batch{}, "", fmt.Errorf("read %s index %d: %w", Key, index, err)
	}
	if !found {
		return Batch{}, "", fmt.Errorf("index %d: %w", index, ErrNotFound)
	}
	b, _, err := decode(raw)
	if err != nil {
		return Batch{}, raw, fmt.Errorf("index %d: %w", index, err)
	}
	return b, raw, nil
}
