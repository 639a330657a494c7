package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
)

// world is every dependency of the scheduler in memory, recording what it
// was asked to do in one journal.
type world struct {
	mu      sync.Mutex
	clock   *fakeClock
	journal []string
	parties map[uuid.UUID]*party
	// registered parties hold a stream the flusher would flush; backlog
	// is what waits in it.
	registered map[uuid.UUID]bool
	backlog    map[uuid.UUID]int64
	flushErr   error
	viewers    map[uuid.UUID]int
	samples    []event.Event
	passes     int // calls of StartDue: one per pass over the table
	prunes     int // calls of Prune
}

type party struct {
	status       string
	start, end   time.Time
	endRequested bool
	peak         int
	peakRecorded bool
}

var errDown = errors.New("connection refused")

func newWorld(now time.Time) *world {
	return &world{clock: &fakeClock{now: now, tickers: make(chan chan time.Time, 16)},
		parties: map[uuid.UUID]*party{}, registered: map[uuid.UUID]bool{}, backlog: map[uuid.UUID]int64{},
		viewers: map[uuid.UUID]int{}}
}

func (w *world) log(format string, args ...any) {
	w.journal = append(w.journal, fmt.Sprintf(format, args...))
}

func (w *world) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.journal)
}

func (w *world) deps() Deps {
	return Deps{Parties: (*fakeParties)(w), Flusher: (*fakeFlusher)(w), Streams: (*fakeStreams)(w),
		Presence: (*fakePresence)(w), Samples: (*fakeSamples)(w), Leader: newGauge(), Pruner: (*fakePruner)(w)}
}

type fakePruner world

func (f *fakePruner) Prune(context.Context, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prunes++
}

// move applies one guarded transition to every party it fits.
func (w *world) move(from, to string, due func(p *party, now time.Time) bool) []uuid.UUID {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []uuid.UUID
	for id, p := range w.parties {
		if p.status == from && due(p, w.clock.Now()) {
			p.status = to
			ids = append(ids, id)
		}
	}
	return ids
}

type fakeParties world

func (f *fakeParties) StartDue(context.Context) ([]uuid.UUID, error) {
	w := (*world)(f)
	w.mu.Lock()
	w.passes++
	w.mu.Unlock()
	return w.move(store.Scheduled, store.Ongoing, func(p *party, now time.Time) bool {
		return !now.Before(p.start) && now.Before(p.end)
	}), nil
}

func (f *fakeParties) FinishMissed(context.Context) ([]uuid.UUID, error) {
	return (*world)(f).move(store.Scheduled, store.Finished, func(p *party, now time.Time) bool { return !now.Before(p.end) }), nil
}

func (f *fakeParties) FinishDue(context.Context) ([]uuid.UUID, error) {
	return (*world)(f).move(store.Ongoing, store.Finished, func(p *party, now time.Time) bool {
		return p.endRequested || !now.Before(p.end)
	}), nil
}

func (f *fakeParties) Over(_ context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uuid.UUID
	for _, id := range ids {
		if p := f.parties[id]; p != nil && (p.status == store.Finished || p.status == store.Cancelled) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (f *fakeParties) OngoingIDs(context.Context) ([]uuid.UUID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uuid.UUID
	for id, p := range f.parties {
		if p.status == store.Ongoing {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out, nil
}

func (f *fakeParties) SetPeakViewers(_ context.Context, id uuid.UUID, peak int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parties[id].peak, f.parties[id].peakRecorded = peak, true
	(*world)(f).log("peak %d", peak)
	return nil
}

type fakeFlusher world

func (f *fakeFlusher) FlushParty(_ context.Context, p uuid.UUID) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	(*world)(f).log("flush")
	if !f.registered[p] {
		return 0, stream.ErrNoStream
	}
	if f.flushErr != nil {
		return 0, f.flushErr
	}
	n := f.backlog[p]
	f.backlog[p] = 0
	return int(n), nil
}

func (f *fakeFlusher) Parties(context.Context) ([]uuid.UUID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uuid.UUID
	for p := range f.registered {
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeFlusher) Backlog(_ context.Context, p uuid.UUID) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.backlog[p], nil
}

type fakeStreams world

func (f *fakeStreams) Close(context.Context, uuid.UUID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	(*world)(f).log("close")
	return nil
}

func (f *fakeStreams) Remove(_ context.Context, p uuid.UUID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	(*world)(f).log("remove")
	delete(f.registered, p)
	return nil
}

type fakePresence world

func (f *fakePresence) Total(_ context.Context, p uuid.UUID) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.viewers[p], nil
}

func (f *fakePresence) Peak(_ context.Context, p uuid.UUID) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.viewers[p] + 10, nil
}

type fakeSamples world

func (f *fakeSamples) Append(_ context.Context, e event.Event, dedup bool) (stream.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !dedup {
		return stream.Result{}, errors.New("viewer samples must be appended with dedup")
	}
	f.samples = append(f.samples, e)
	return stream.Result{Status: stream.Stored}, nil
}

// fakeClock is the scheduler's time: the test moves it and hands out
// every ticker created, so that it ticks them itself.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers chan chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time)
	c.tickers <- ch
	return ch, func() {}
}

// leaseStore is the lease key shared by replicas.
type leaseStore struct {
	mu       sync.Mutex
	holder   string
	renewErr error
	renewed  chan bool // each renewal's answer, when set
}

// fakeLease is one replica's view of the lease.
type fakeLease struct {
	s    *leaseStore
	name string
}

func (l fakeLease) hold(context.Context) (bool, error) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.holder == "" || l.s.holder == l.name {
		l.s.holder = l.name
		return true, nil
	}
	return false, nil
}

func (l fakeLease) renew(context.Context) (bool, error) {
	l.s.mu.Lock()
	held, err := l.s.holder == l.name, l.s.renewErr
	ch := l.s.renewed
	l.s.mu.Unlock()
	if ch != nil {
		defer func() { ch <- held && err == nil }()
	}
	if err != nil {
		return false, err
	}
	return held, nil
}

func (l fakeLease) release(context.Context) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.holder == l.name {
		l.s.holder = ""
	}
}
