package rdb

import (
	"context"
	"fmt"
	"time"
)

// Erasure is what erasing a person's events (internal/erase) changes in
// Redis besides the dead-letter list: party streams read in pages and
// entries deleted, like sets, and the announcement to the pods. It is safe
// for concurrent use.
type Erasure struct{ c Client }

// NewErasure returns the erasure's commands over c.
func NewErasure(c Client) Erasure { return Erasure{c: c} }

// EntryFields is a stream entry with its fields as strings, as a flusher
// keeps them.
type EntryFields struct {
	ID     string
	Fields map[string]string
}

// Now returns the clock of the server holding key (ServerTime).
func (e Erasure) Now(ctx context.Context, key string) (time.Time, error) {
	return ServerTime(ctx, e.c, key)
}

// Range returns at most n entries of stream from the id start on ("-":
// the oldest; "(id": after id), oldest first.
func (e Erasure) Range(ctx context.Context, stream, start string, n int) ([]EntryFields, error) {
	msgs, err := e.c.XRangeN(ctx, stream, start, "+", int64(n)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]EntryFields, len(msgs))
	for i, m := range msgs {
		fields := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			fields[k] = fmt.Sprint(v)
		}
		out[i] = EntryFields{ID: m.ID, Fields: fields}
	}
	return out, nil
}

// AckAndDelete acknowledges ids in group and deletes them from stream, in
// one transaction, and returns how many it deleted.
func (e Erasure) AckAndDelete(ctx context.Context, stream, group string, ids []string) (int, error) {
	pipe := e.c.TxPipeline()
	pipe.XAck(ctx, stream, group, ids...)
	del := pipe.XDel(ctx, stream, ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	return int(del.Val()), nil
}

// EraseLike removes user from the like set of the party of k and reports
// whether it was there (EraseLike).
func (e Erasure) EraseLike(ctx context.Context, k PartyKeys, user string) (bool, error) {
	return EraseLike(ctx, e.c, k, user)
}

// Announce publishes msg on the party channel of k (sharded pub/sub), for
// the pods following the party.
func (e Erasure) Announce(ctx context.Context, k PartyKeys, msg string) error {
	return e.c.SPublish(ctx, k.Channel, msg).Err()
}
