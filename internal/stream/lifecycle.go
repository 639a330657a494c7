package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/rdb"
)

// EndedMessage is the announcement on a party's channel that it ended.
const EndedMessage = rdb.EndedMessage

// endedTTL is how long a party stays closed to writes after its end.
const endedTTL = 7 * 24 * time.Hour

// Close closes party to writes: every later append answers Closed, and the
// pods following it hand its viewers the end. Closing twice is harmless.
func Close(ctx context.Context, c redis.UniversalClient, party uuid.UUID) error {
	if err := rdb.CloseParty(ctx, c, KeysFor(party), endedTTL); err != nil {
		return fmt.Errorf("close party %s: %w", party, err)
	}
	return nil
}

// IsClosed reports whether party was closed to writes.
func IsClosed(ctx context.Context, rdb redis.UniversalClient, party uuid.UUID) (bool, error) {
	n, err := rdb.Exists(ctx, KeysFor(party).Ended).Result()
	if err != nil {
		return false, fmt.Errorf("check party %s closed: %w", party, err)
	}
	return n == 1, nil
}

// Remove deletes every key of a closed party and its registration for
// flushing. Call it only once nothing is left unflushed; the Ended marker
// stays, so a late write is refused instead of recreating the stream.
func Remove(ctx context.Context, rdb redis.UniversalClient, party uuid.UUID) error {
	k := KeysFor(party)
	if err := rdb.Del(ctx, k.Data(time.Now())...).Err(); err != nil {
		return fmt.Errorf("remove keys of party %s: %w", party, err)
	}
	if err := rdb.SRem(ctx, RegistryKey, party.String()).Err(); err != nil {
		return fmt.Errorf("unregister party %s: %w", party, err)
	}
	return nil
}
