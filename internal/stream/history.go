package stream

import (
	"context"
	"fmt"

	"github.com/watchparty/watchparty/internal/rdb"
)

// ReadBefore reads at most count (1..MaxPage) entries of the party's
// stream that come before the id before ("" for the newest), newest first.
// A stream that does not exist yields no entries.
func ReadBefore(ctx context.Context, c rdb.Client, keys Keys, before string, count int) ([]Entry, error) {
	if count <= 0 || count > MaxPage {
		count = MaxPage
	}
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := rdb.NewStreams(c).ReadBefore(ctx, keys, end, count)
	if err != nil {
		return nil, fmt.Errorf("read stream %s backwards: %w", keys.Stream, err)
	}
	return decodeAll(msgs), nil
}
