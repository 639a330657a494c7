package flusher

import (
	"context"
	"log/slog"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/dlq"
	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/stream"
)

// failure is an entry that failed permanently, with the error it caused.
type failure struct {
	entry stream.Entry
	err   error
}

// isolate writes entries in one transaction and acknowledges them after
// the commit. When the write fails permanently (the data's fault), it
// bisects the batch so that every good entry is still written and only the
// entries that fail on their own are returned. Any other error stops it:
// what is not yet written stays pending.
func (f *Flusher) isolate(ctx context.Context, party uuid.UUID, entries []stream.Entry) (int, []failure, error) {
	if len(entries) == 0 {
		return 0, nil, nil
	}
	events := make([]event.Event, len(entries))
	ids := make([]string, len(entries))
	for i, e := range entries {
		events[i], ids[i] = e.Event, e.ID
	}
	err := f.writer.Write(ctx, events)
	if err == nil {
		if err := f.consumer.Ack(ctx, party, ids); err != nil {
			// Committed, not acknowledged: redelivered, skipped by the writer.
			return 0, nil, err
		}
		return len(entries), nil, nil
	}
	if store.Classify(err) != store.Permanent {
		return 0, nil, err
	}
	if len(entries) == 1 {
		return 0, []failure{{entries[0], err}}, nil
	}
	mid := len(entries) / 2
	n1, bad1, err := f.isolate(ctx, party, entries[:mid])
	if err != nil {
		return n1, bad1, err
	}
	n2, bad2, err := f.isolate(ctx, party, entries[mid:])
	return n1 + n2, append(bad1, bad2...), err
}

// deadLetter counts one more permanent failure for each entry; an entry
// that reached cfg.MaxDeliveries goes to wp:dlq and is acknowledged, the
// others stay pending for the next cycle. A crash between the push and the
// ack leaves the entry in the DLQ twice; replay is idempotent.
func (f *Flusher) deadLetter(ctx context.Context, log *slog.Logger, party uuid.UUID, failed []failure) {
	for _, fl := range failed {
		e := fl.entry
		n, err := f.consumer.CountFailure(ctx, party, e.ID)
		if err != nil {
			log.Warn("count permanent failure", "stream_id", e.ID, "err", err)
			continue
		}
		elog := log.With("stream_id", e.ID, "event_id", e.Event.ID, "sqlstate", store.SQLState(fl.err), "attempts", n)
		if n < f.cfg.MaxDeliveries {
			elog.Warn("event failed permanently; stays pending for another attempt", "err", fl.err)
			continue
		}
		b := dlq.NewBatch(stream.KeysFor(party).Stream, []event.Event{e.Event}, fl.err, n, f.now())
		b.PartyID = party.String()
		if err := dlq.Push(ctx, f.rdb, b); err != nil {
			elog.Error("could not dead-letter event; stays pending", "err", err)
			continue
		}
		if err := f.consumer.Ack(ctx, party, []string{e.ID}); err != nil {
			elog.Error("dead-lettered event not acknowledged; it may be dead-lettered again", "err", err)
			continue
		}
		_ = f.consumer.ForgetFailures(ctx, party, []string{e.ID})
		f.metrics.DLQEvents.Inc()
		elog.Error("event routed to the dead-letter list "+dlq.Key, "err", fl.err)
	}
}
