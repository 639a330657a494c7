package flusher

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// failure is entries that failed permanently together, with the error
// they caused: one entry isolated by bisection, or every entry of a batch
// whose party has no row.
type failure struct {
	entries []stream.Entry
	err     error
}

// isolate writes entries in one transaction and acknowledges them after
// the commit. When the write fails permanently (the data's fault), it first
// checks, once, whether the party still has its row: without it every
// event fails alike and the batch fails as a whole. Otherwise it bisects
// the batch so that every good entry is still written and only the entries
// that fail on their own are returned. Any other error stops it: what is
// not yet written stays pending.
func (f *Flusher) isolate(ctx context.Context, party uuid.UUID, entries []stream.Entry) (int, []failure, error) {
	return f.bisect(ctx, party, entries, true)
}

// bisect is isolate; whole says entries are the whole batch.
func (f *Flusher) bisect(ctx context.Context, party uuid.UUID, entries []stream.Entry, whole bool) (int, []failure, error) {
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
	if whole {
		exists, cerr := f.writer.PartyExists(ctx, party)
		if cerr != nil {
			return 0, nil, cerr
		}
		if !exists {
			return 0, []failure{{entries, fmt.Errorf("party %s has no row in watch_parties: %w", party, err)}}, nil
		}
	}
	if len(entries) == 1 {
		return 0, []failure{{entries, err}}, nil
	}
	mid := len(entries) / 2
	n1, bad1, err := f.bisect(ctx, party, entries[:mid], false)
	if err != nil {
		return n1, bad1, err
	}
	n2, bad2, err := f.bisect(ctx, party, entries[mid:], false)
	return n1 + n2, append(bad1, bad2...), err
}

// deadLetter counts one more permanent failure for each entry of each
// failure (an entry this flusher cannot decode counts as one too); the
// entries of a failure that reached cfg.MaxDeliveries go to wp:dlq
// together, as one batch, and are acknowledged, the others stay pending
// for the next cycle. An entry that could not be decoded is dead-lettered
// raw, every field as stored, for a replay to decode. Entries an erasure
// covers are acknowledged and dropped instead, as the writer drops them,
// but for moderation actions, dead-lettered unattributed.
// A crash between the push and the ack leaves the entries in the DLQ
// twice; replay is idempotent.
func (f *Flusher) deadLetter(ctx context.Context, log *slog.Logger, party uuid.UUID, failed []failure) {
	for _, fl := range failed {
		f.deadLetterFailure(ctx, log, party, fl)
	}
}

func (f *Flusher) deadLetterFailure(ctx context.Context, log *slog.Logger, party uuid.UUID, fl failure) {
	flog := log.With("sqlstate", store.SQLState(fl.err))
	if len(fl.entries) == 1 {
		flog = flog.With("stream_id", fl.entries[0].ID, "event_id", fl.entries[0].Event.ID)
	}
	counts, err := f.consumer.CountFailures(ctx, party, entryIDs(fl.entries))
	if err != nil {
		flog.Warn("count permanent failures", "events", len(fl.entries), "err", err)
		return
	}
	var due []stream.Entry
	attempts := 0
	for i, e := range fl.entries {
		if counts[i] >= f.cfg.MaxDeliveries {
			due = append(due, e)
			attempts = max(attempts, counts[i])
		}
	}
	if len(due) < len(fl.entries) {
		flog.Warn("event failed permanently; stays pending for another attempt",
			"events", len(fl.entries)-len(due), "attempts", slices.Min(counts), "err", fl.err)
	}
	if len(due) == 0 {
		return
	}
	flog = flog.With("events", len(due), "attempts", attempts)
	b := dlq.NewBatch(stream.KeysFor(party).Stream, nil, fl.err, attempts, f.now())
	b.PartyID = party.String()
	erased := 0
	// Under the erasures' lock: an erasure recorded after this read waits
	// for the push, so its pass over wp:dlq finds the batch.
	err = f.writer.WithErasures(ctx, usersOf(due), func(es store.Erasures) error {
		for _, e := range due {
			switch {
			case covered(es, party, e) && e.Err == nil && e.Event.Type.IsModeration():
				// Kept unattributed, as the writer stores it.
				ev := e.Event
				ev.UserID = store.Unattributed
				b.Events = append(b.Events, event.DeadLetter(ev))
			case covered(es, party, e):
				erased++ // as the writer leaves such events out
			case e.Err != nil:
				// Not decodable here (a newer event type, say): kept whole
				// for a replay by a flusher that knows it.
				b.Raw = append(b.Raw, rawEntry(e))
			default:
				b.Events = append(b.Events, event.DeadLetter(e.Event))
			}
		}
		if b.Len() == 0 {
			return nil
		}
		return f.dlq.Push(ctx, b)
	})
	if err != nil {
		flog.Error("could not dead-letter event; stays pending", "err", err)
		return
	}
	ids := entryIDs(due)
	if err := f.consumer.Ack(ctx, party, ids); err != nil {
		flog.Error("dead-lettered event not acknowledged; it may be dead-lettered again", "err", err)
		return
	}
	_ = f.consumer.ForgetFailures(ctx, party, ids)
	if erased > 0 {
		flog.Info("failed events covered by an erasure dropped, not dead-lettered", "erased", erased)
	}
	if b.Len() == 0 {
		return
	}
	f.metrics.DLQEvents.Add(float64(b.Len()))
	flog.Error("event routed to the dead-letter list "+dlq.Key, "err", fl.err)
}

// covered reports whether an erasure covers entry e of party's stream: a
// decoded event by its user, an undecodable one by the users its fields
// name.
func covered(es store.Erasures, party uuid.UUID, e stream.Entry) bool {
	if e.Err == nil {
		return es.Covers(e.Event.UserID, party, e.ID, e.Event.CreatedAt)
	}
	for _, user := range rawEntry(e).UserIDs() {
		if es.Covers(user, party, e.ID, time.Time{}) {
			return true
		}
	}
	return false
}

// usersOf returns the users of entries, those of undecodable ones as their
// fields name them.
func usersOf(entries []stream.Entry) []string {
	var users []string
	for _, e := range entries {
		if e.Err == nil {
			users = append(users, e.Event.UserID)
			continue
		}
		users = append(users, rawEntry(e).UserIDs()...)
	}
	slices.Sort(users)
	return slices.Compact(users)
}

func rawEntry(e stream.Entry) dlq.RawEntry { return dlq.RawEntry{StreamID: e.ID, Fields: e.Fields} }

func entryIDs(entries []stream.Entry) []string {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}
