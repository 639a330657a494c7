package flusher

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// journal records, in order, what the fakes were asked to do, so a test
// can check that nothing was acknowledged before its commit.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// fakeSource is one party stream and its consumer group in memory, read by
// a single consumer.
type fakeSource struct {
	j        *journal
	mu       sync.Mutex
	party    uuid.UUID
	entries  []stream.Entry // the whole stream, in order
	next     int            // index of the first undelivered entry
	pending  map[string]bool
	failures map[string]int
	readErr  error    // every read fails with it when set
	ackErr   error    // the next Ack fails with it, once, when set
	counted  []string // ids passed to CountFailures, in order
}

func newFakeSource(j *journal, party uuid.UUID, entries []stream.Entry) *fakeSource {
	return &fakeSource{j: j, party: party, entries: entries, pending: map[string]bool{}, failures: map[string]int{}}
}

func (s *fakeSource) Parties(context.Context) ([]uuid.UUID, error) { return []uuid.UUID{s.party}, nil }

func (s *fakeSource) EnsureGroup(_ context.Context, p uuid.UUID) error {
	if p != s.party {
		return stream.ErrNoStream
	}
	return nil
}

func (s *fakeSource) ClaimIdle(context.Context, uuid.UUID, time.Duration, int) (int, error) {
	return 0, nil
}

func (s *fakeSource) ReadOwnPending(_ context.Context, _ uuid.UUID, after string, count int) ([]stream.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return nil, s.readErr
	}
	var out []stream.Entry
	for _, e := range s.entries[:s.next] {
		if s.pending[e.ID] && (after == "0" || stream.After(e.ID, after)) && len(out) < count {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *fakeSource) ReadNew(_ context.Context, _ uuid.UUID, count int) ([]stream.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return nil, s.readErr
	}
	end := min(s.next+count, len(s.entries))
	out := slices.Clone(s.entries[s.next:end])
	for _, e := range out {
		s.pending[e.ID] = true
	}
	s.next = end
	return out, nil
}

func (s *fakeSource) Ack(_ context.Context, _ uuid.UUID, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ackErr; err != nil {
		s.ackErr = nil
		s.j.add("ack failed %s", strings.Join(ids, ","))
		return err
	}
	for _, id := range ids {
		delete(s.pending, id)
	}
	s.j.add("ack %s", strings.Join(ids, ","))
	return nil
}

func (s *fakeSource) CountFailures(_ context.Context, _ uuid.UUID, ids []string) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counted = append(s.counted, ids...)
	out := make([]int, len(ids))
	for i, id := range ids {
		s.failures[id]++
		out[i] = s.failures[id]
	}
	return out, nil
}

func (s *fakeSource) ForgetFailures(_ context.Context, _ uuid.UUID, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.failures, id)
	}
	return nil
}

func (s *fakeSource) Trim(context.Context, uuid.UUID, time.Duration, time.Time) error { return nil }

func (s *fakeSource) PruneConsumers(context.Context, uuid.UUID, time.Duration) (int, error) {
	return 0, nil
}

func (s *fakeSource) Backlog(context.Context, uuid.UUID) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.pending) + len(s.entries) - s.next), nil
}

// pendingIDs lists the entries delivered and not acknowledged, in order.
func (s *fakeSource) pendingIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.entries {
		if s.pending[e.ID] {
			out = append(out, e.ID)
		}
	}
	return out
}

// fakeWriter is the database: a batch commits whole, unless one of its
// events is poison (a permanent error, as a check constraint gives), the
// party has no row (every batch fails permanently) or the database is down
// (a transient error).
type fakeWriter struct {
	j       *journal
	mu      sync.Mutex
	poison  map[string]bool // stream ids whose event the database refuses
	noParty bool
	down    bool
	stored  []string // stream ids committed, in order
	// onWrite, when set, runs before each write with its context; an
	// error it returns is the write's.
	onWrite func(ctx context.Context) error
}

var (
	errPermanent = &pgconn.PgError{Code: "23514", Message: "violates check constraint"}
	errTransient = &pgconn.PgError{Code: "08006", Message: "connection failure"}
)

func (w *fakeWriter) Write(ctx context.Context, events []event.Event) error {
	if w.onWrite != nil {
		if err := w.onWrite(ctx); err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.StreamID
	}
	switch {
	case w.down:
		return fmt.Errorf("write batch: %w", errTransient)
	case w.noParty:
		return fmt.Errorf("write batch: %w", &pgconn.PgError{Code: "23503", Message: "foreign key violation"})
	}
	for _, id := range ids {
		if w.poison[id] {
			return fmt.Errorf("write batch: %w", errPermanent)
		}
	}
	w.stored = append(w.stored, ids...)
	w.j.add("commit %s", strings.Join(ids, ","))
	return nil
}

func (w *fakeWriter) PartyExists(context.Context, uuid.UUID) (bool, error) { return !w.noParty, nil }

func (w *fakeWriter) WithErasures(_ context.Context, _ []string, fn func(store.Erasures) error) error {
	return fn(store.Erasures{})
}

// fakeDLQ is wp:dlq.
type fakeDLQ struct {
	j       *journal
	mu      sync.Mutex
	batches []dlq.Batch
	err     error // every push fails with it when set
}

func (d *fakeDLQ) Push(_ context.Context, b dlq.Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.batches = append(d.batches, b)
	d.j.add("dlq %s", strings.Join(batchIDs(b), ","))
	return nil
}

// batchIDs lists the stream ids of a dead-letter batch: decoded events
// first, then raw entries.
func batchIDs(b dlq.Batch) []string {
	var ids []string
	for _, e := range b.ToEvents() {
		ids = append(ids, e.StreamID)
	}
	for _, r := range b.Raw {
		ids = append(ids, r.StreamID)
	}
	return ids
}

// entries returns n decodable chat entries of party with stream ids 1-0 … n-0.
func entries(party uuid.UUID, n int) []stream.Entry {
	out := make([]stream.Entry, n)
	for i := range out {
		id := fmt.Sprintf("%d-0", i+1)
		out[i] = stream.Entry{ID: id, Event: event.Event{Type: event.Chat, ID: uuid.New(), PartyID: party,
			UserID: "u", CreatedAt: time.UnixMilli(int64(i + 1)).UTC(), Text: "hi", StreamID: id}}
	}
	return out
}
