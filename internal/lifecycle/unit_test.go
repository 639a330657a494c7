package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

func newGauge() prometheus.Gauge { return prometheus.NewGauge(prometheus.GaugeOpts{Name: "leader"}) }

var t0 = time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)

func unitConfig() Config {
	return Config{Name: "a", Interval: time.Second, LeaseTTL: 3 * time.Second, SampleInterval: time.Minute}
}

func unitScheduler(w *world, l lease) *Scheduler {
	return newScheduler(unitConfig(), w.deps(), l, w.clock, testenv.Logger())
}

func TestUnitAdvance(t *testing.T) {
	finished := []string{"close", "flush", "peak 10", "remove"}
	tests := []struct {
		name       string
		party      party
		registered bool
		backlog    int64
		flushErr   error
		wantStatus string
		wantSteps  []string // what finishing the party did, in order
		wantKept   bool     // still registered: keys kept for a retry
	}{
		{name: "scheduled, start time not reached: stays", party: party{status: store.Scheduled,
			start: t0.Add(time.Second), end: t0.Add(time.Hour)}, registered: true, wantStatus: store.Scheduled,
			wantKept: true},
		{name: "scheduled, start time passed: ongoing", party: party{status: store.Scheduled,
			start: t0, end: t0.Add(time.Hour)}, registered: true, wantStatus: store.Ongoing, wantKept: true},
		{name: "ongoing before its end: stays", party: party{status: store.Ongoing,
			start: t0.Add(-time.Hour), end: t0.Add(time.Millisecond)}, registered: true, wantStatus: store.Ongoing,
			wantKept: true},
		{name: "ongoing at its end: finished, final flush before cleanup", party: party{status: store.Ongoing,
			start: t0.Add(-time.Hour), end: t0}, registered: true, backlog: 7, wantStatus: store.Finished,
			wantSteps: finished},
		{name: "end requested: finished", party: party{status: store.Ongoing, start: t0.Add(-time.Hour),
			end: t0.Add(time.Hour), endRequested: true}, registered: true, wantStatus: store.Finished,
			wantSteps: finished},
		{name: "whole slot missed: finished", party: party{status: store.Scheduled, start: t0.Add(-time.Hour),
			end: t0.Add(-time.Minute)}, registered: true, wantStatus: store.Finished, wantSteps: finished},
		{name: "cancelled and registered: finished without a transition", party: party{status: store.Cancelled,
			start: t0.Add(time.Hour), end: t0.Add(2 * time.Hour)}, registered: true, wantStatus: store.Cancelled,
			wantSteps: finished},
		{name: "finished, not registered: nothing to finish", party: party{status: store.Ongoing,
			start: t0.Add(-time.Hour), end: t0}, wantStatus: store.Finished},
		{name: "final flush fails: keys kept for a retry", party: party{status: store.Ongoing,
			start: t0.Add(-time.Hour), end: t0}, registered: true, backlog: 3, flushErr: errDown,
			wantStatus: store.Finished, wantSteps: []string{"close", "flush"}, wantKept: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t0)
			id := uuid.New()
			p := tt.party
			w.parties[id] = &p
			w.registered[id] = tt.registered
			if !tt.registered {
				delete(w.registered, id)
			}
			w.backlog[id], w.flushErr = tt.backlog, tt.flushErr
			unitScheduler(w, fakeLease{&leaseStore{}, "a"}).Advance(context.Background())
			if p.status != tt.wantStatus {
				t.Errorf("status = %s, want %s", p.status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantSteps, w.lines()); diff != "" {
				t.Errorf("finish steps (-want +got):\n%s", diff)
			}
			if w.registered[id] != tt.wantKept {
				t.Errorf("still registered = %v, want %v", w.registered[id], tt.wantKept)
			}
		})
	}
}

func TestUnitSample(t *testing.T) {
	w := newWorld(t0)
	on, off := uuid.New(), uuid.New()
	w.parties[on] = &party{status: store.Ongoing}
	w.parties[off] = &party{status: store.Scheduled}
	w.viewers[on], w.viewers[off] = 42, 5
	s := unitScheduler(w, fakeLease{&leaseStore{}, "a"})
	s.Sample(context.Background(), t0)
	s.Sample(context.Background(), t0) // a second replica, the same moment
	if len(w.samples) != 2 {
		t.Fatalf("%d samples, want 2 (the ongoing party, twice)", len(w.samples))
	}
	e := w.samples[0]
	if e.Type != event.Viewers || e.PartyID != on || e.Viewers == nil || *e.Viewers != 42 || !e.CreatedAt.Equal(t0) {
		t.Errorf("sample = %+v, want 42 viewers of the ongoing party at %v", e, t0)
	}
	if w.samples[1].ID != e.ID {
		t.Error("two samples of one party at one moment have different ids: a second replica would store it twice")
	}
}

// TestUnitSchedulerSteps: only the lease holder acts; a pass over the
// table runs every Interval, a sample at each sampling moment; the lease
// changes hands when its holder releases it.
func TestUnitSchedulerSteps(t *testing.T) {
	w := newWorld(t0.Add(-time.Millisecond)) // the sampling moment t0 is just ahead
	shared := &leaseStore{}
	a := unitScheduler(w, fakeLease{shared, "a"})
	b := newScheduler(Config{Name: "b", Interval: time.Second, LeaseTTL: 3 * time.Second, SampleInterval: time.Minute},
		w.deps(), fakeLease{shared, "b"}, w.clock, testenv.Logger())
	w.parties[uuid.New()] = &party{status: store.Ongoing, end: t0.Add(time.Hour)}
	ctx := context.Background()
	la := loop{nextSample: a.nextSample(w.clock.Now())}
	lb := loop{nextSample: b.nextSample(w.clock.Now())}
	// passes and samples so far, and each one's leader gauge.
	check := func(step string, passes, samples int, aLeads, bLeads float64) {
		t.Helper()
		if w.passes != passes || len(w.samples) != samples {
			t.Errorf("%s: %d passes, %d samples; want %d, %d", step, w.passes, len(w.samples), passes, samples)
		}
		if w.prunes != passes { // the retention runs after each pass, by the lease holder only
			t.Errorf("%s: %d prunes, want one per pass (%d)", step, w.prunes, passes)
		}
		if got := testutil.ToFloat64(a.deps.Leader); got != aLeads {
			t.Errorf("%s: a's leader gauge = %v, want %v", step, got, aLeads)
		}
		if got := testutil.ToFloat64(b.deps.Leader); got != bLeads {
			t.Errorf("%s: b's leader gauge = %v, want %v", step, got, bLeads)
		}
	}
	a.step(ctx, &la)
	check("a takes the lease", 1, 0, 1, 0)
	b.step(ctx, &lb)
	check("b finds it held", 1, 0, 1, 0)
	w.clock.advance(500 * time.Millisecond)
	a.step(ctx, &la)
	check("a, half an interval later", 1, 1, 1, 0) // t0 passed: a sample, no pass
	w.clock.advance(500 * time.Millisecond)
	a.step(ctx, &la)
	check("a, an interval later", 2, 1, 1, 0)
	b.step(ctx, &lb)
	check("b still out", 2, 1, 1, 0)
	a.lease.release(ctx)
	b.step(ctx, &lb)
	check("b takes over the released lease", 3, 1, 1, 1)
	a.step(ctx, &la)
	check("a lost it", 3, 1, 0, 1)
}

// TestUnitLeaseDuringPass: while a pass runs, the lease is renewed every
// TTL/3; the pass is cancelled when another replica holds it or when it
// could not be renewed for long enough that it may have lapsed.
func TestUnitLeaseDuringPass(t *testing.T) {
	tests := []struct {
		name     string
		renewals []func(s *leaseStore, c *fakeClock) // before each tick
		wantLost bool
	}{
		{name: "renewed: the pass goes on", renewals: []func(*leaseStore, *fakeClock){
			func(*leaseStore, *fakeClock) {}, func(*leaseStore, *fakeClock) {}, func(*leaseStore, *fakeClock) {}}},
		{name: "taken by another replica: the pass stops", renewals: []func(*leaseStore, *fakeClock){
			func(*leaseStore, *fakeClock) {}, func(s *leaseStore, _ *fakeClock) { s.holder = "b" }},
			wantLost: true},
		{name: "one failed renewal within the TTL: the pass goes on", renewals: []func(*leaseStore, *fakeClock){
			func(s *leaseStore, c *fakeClock) { s.renewErr = errDown; c.advance(time.Second) },
			func(s *leaseStore, c *fakeClock) { s.renewErr = nil; c.advance(time.Second) }}},
		{name: "renewals fail until the lease may lapse: the pass stops", renewals: []func(*leaseStore, *fakeClock){
			func(s *leaseStore, c *fakeClock) { s.renewErr = errDown; c.advance(time.Second) },
			func(_ *leaseStore, c *fakeClock) { c.advance(time.Second) }},
			wantLost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t0)
			shared := &leaseStore{holder: "a", renewed: make(chan bool)}
			s := unitScheduler(w, fakeLease{shared, "a"})
			started, finish := make(chan struct{}), make(chan struct{})
			var cause error
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.underLease(context.Background(), w.clock.Now(), func(ctx context.Context) {
					close(started)
					select {
					case <-ctx.Done():
						cause = context.Cause(ctx)
					case <-finish:
					}
				})
			}()
			<-started
			ticks := <-w.clock.tickers
			for _, renewal := range tt.renewals {
				shared.mu.Lock()
				renewal(shared, w.clock)
				shared.mu.Unlock()
				ticks <- w.clock.Now()
				<-shared.renewed // the renewal this tick started is answered
			}
			if !tt.wantLost {
				close(finish)
			}
			<-done
			if lost := errors.Is(cause, errLeaseLost); lost != tt.wantLost {
				t.Errorf("pass cancelled for a lost lease = %v (cause %v), want %v", lost, cause, tt.wantLost)
			}
		})
	}
}
