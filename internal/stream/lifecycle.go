package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// EndedMessage is the announcement on a party's channel that it ended.
const EndedMessage = rdb.EndedMessage

// endedTTL is how long a party stays closed to writes after its end.
const endedTTL = 7 * 24 * time.Hour

// Close closes party to writes: every later append answers Closed, and the
// pods following it hand its viewers the end. Closing twice is harmless.
func Close(ctx context.Context, c rdb.Client, party uuid.UUID) error {
	if err := rdb.NewStreams(c).CloseParty(ctx, KeysFor(party), endedTTL); err != nil {
		return fmt.Errorf("close party %s: %w", party, err)
	}
	return nil
}

// IsClosed reports whether party was closed to writes.
func IsClosed(ctx context.Context, c rdb.Client, party uuid.UUID) (bool, error) {
	return isClosed(ctx, rdb.NewStreams(c), party)
}

func isClosed(ctx context.Context, r readRedis, party uuid.UUID) (bool, error) {
	ended, err := r.IsEnded(ctx, KeysFor(party))
	if err != nil {
		return false, fmt.Errorf("check party %s closed: %w", party, err)
	}
	return ended, nil
}

// Remove deletes every key of a closed party and its registration for
// flushing. Call it only once nothing is left unflushed; the Ended marker
// stays, so a late write is refused instead of recreating the stream.
func Remove(ctx context.Context, c rdb.Client, party uuid.UUID) error {
	r := rdb.NewStreams(c)
	if err := r.Delete(ctx, KeysFor(party).Data(time.Now())...); err != nil {
		return fmt.Errorf("remove keys of party %s: %w", party, err)
	}
	if err := r.Unregister(ctx, party); err != nil {
		return fmt.Errorf("unregister party %s: %w", party, err)
	}
	return nil
}
