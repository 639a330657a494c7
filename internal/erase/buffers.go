package erase

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/stream"
)

// buffers is where an erasure finds the events it removes outside
// PostgreSQL: the party streams, their like sets and the pods following
// them (rdb.Erasure), the live parties (stream.Consumer) and the
// dead-letter list (dlq.Rewrite).
type buffers interface {
	// Now returns the clock of the server holding key.
	Now(ctx context.Context, key string) (time.Time, error)
	// Parties lists the parties whose streams may hold events.
	Parties(ctx context.Context) ([]uuid.UUID, error)
	// Range returns at most n entries of stream from start on ("-": the
	// oldest; "(id": after id), oldest first.
	Range(ctx context.Context, stream, start string, n int) ([]rdb.EntryFields, error)
	// AckAndDelete acknowledges ids in group and deletes them from
	// stream, returning how many it deleted.
	AckAndDelete(ctx context.Context, stream, group string, ids []string) (int, error)
	// EraseLike removes user from the party's like set, reporting whether
	// it was there; the pods following the party learn the new total.
	EraseLike(ctx context.Context, k rdb.PartyKeys, user string) (bool, error)
	// Announce tells the pods following the party msg.
	Announce(ctx context.Context, k rdb.PartyKeys, msg string) error
	// RewriteDeadLetters applies edit to wp:dlq (dlq.Rewrite).
	RewriteDeadLetters(ctx context.Context, edit dlq.Edit) (dlq.Rewritten, error)
}

// redisBuffers is buffers over Redis.
type redisBuffers struct {
	rdb.Erasure
	c rdb.Client
}

func newRedisBuffers(c rdb.Client) redisBuffers {
	return redisBuffers{Erasure: rdb.NewErasure(c), c: c}
}

func (b redisBuffers) Parties(ctx context.Context) ([]uuid.UUID, error) {
	return stream.NewConsumer(b.c, "erase-user").Parties(ctx)
}

func (b redisBuffers) RewriteDeadLetters(ctx context.Context, edit dlq.Edit) (dlq.Rewritten, error) {
	return dlq.Rewrite(ctx, b.c, edit)
}
