package stream

import (
	"context"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
)

// Writer appends events one at a time, each in its own round trip, with
// the same script, registration and answers as an Appender, but without
// its batching workers: for a process that appends now and then (the party
// scheduler's viewer samples). It is safe for concurrent use.
type Writer struct{ a *Appender }

// NewWriter returns a Writer over rdb that never refuses an event for a
// full backlog.
func NewWriter(c rdb.Client) *Writer {
	return &Writer{a: NewAppender(c, AppenderConfig{Workers: 1, MaxBatch: 1})}
}

// Append stores e in its party's stream and returns once Redis answered,
// as Appender.Append does; it gives up after five seconds or when ctx ends.
// An error wraps ErrUnavailable.
func (w *Writer) Append(ctx context.Context, e event.Event, dedup bool) (Result, error) {
	r := &appendReq{ev: e, dedup: dedup, done: make(chan appendResp, 1)}
	w.a.exec(ctx, []*appendReq{r})
	resp := <-r.done
	return resp.res, resp.err
}
