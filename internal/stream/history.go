package stream

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
)

// ReadBefore reads at most count (1..MaxPage) entries of the party's
// stream that come before the id before ("" for the newest), newest first.
// A stream that does not exist yields no entries.
func ReadBefore(ctx context.Context, c redis.UniversalClient, keys Keys, before string, count int) ([]Entry, error) {
	if count <= 0 || count > MaxPage {
		count = MaxPage
	}
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := c.XRevRangeN(ctx, keys.Stream, end, "-", int64(count)).Result()
	if err != nil {
		return nil, fmt.Errorf("read stream %s backwards: %w", keys.Stream, err)
	}
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		payload, _ := m.Values["e"].(string)
		e, err := event.Decode([]byte(payload), m.ID)
		out[i] = Entry{ID: m.ID, Event: e, Err: err}
	}
	return out, nil
}
