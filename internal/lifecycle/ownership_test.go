package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/watchparty/watchparty/internal/store"
)

// fakeLeaseKey is the lease key in memory (rdb.Lease without Redis): the
// owner token holding it, and the error every call returns while set.
type fakeLeaseKey struct {
	holder string
	err    error
	ttls   []time.Duration
}

func (k *fakeLeaseKey) Hold(_ context.Context, owner string, ttl time.Duration) (bool, error) {
	if k.err != nil {
		return false, k.err
	}
	k.ttls = append(k.ttls, ttl)
	if k.holder == "" {
		k.holder = owner
	}
	return k.holder == owner, nil
}

func (k *fakeLeaseKey) Renew(_ context.Context, owner string, ttl time.Duration) (bool, error) {
	if k.err != nil {
		return false, k.err
	}
	k.ttls = append(k.ttls, ttl)
	return k.holder == owner, nil
}

func (k *fakeLeaseKey) Release(_ context.Context, owner string) error {
	if k.err != nil {
		return k.err
	}
	if k.holder == owner {
		k.holder = ""
	}
	return nil
}

// TestUnitLeaseTokens: two flushers given the same name by mistake never
// both hold the lease, a release lets the other take it, every call asks
// for the configured TTL, and a failure of Redis is an error, not a hold.
func TestUnitLeaseTokens(t *testing.T) {
	ctx := context.Background()
	key := &fakeLeaseKey{}
	a, b := newRedisLease(key, "flusher-0", 3*time.Second), newRedisLease(key, "flusher-0", 3*time.Second)
	step := func(what string, got bool, err error, want bool) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %v, %v; want %v", what, got, err, want)
		}
	}
	held, err := a.hold(ctx)
	step("a holds", held, err, true)
	held, err = b.hold(ctx)
	step("b, same name, holds", held, err, false)
	held, err = b.renew(ctx)
	step("b renews", held, err, false)
	held, err = a.renew(ctx)
	step("a renews", held, err, true)
	a.release(ctx)
	held, err = b.hold(ctx)
	step("b holds after a released", held, err, true)
	held, err = a.renew(ctx)
	step("a renews after b took it", held, err, false)
	for _, ttl := range key.ttls {
		if ttl != 3*time.Second {
			t.Fatalf("lease asked for ttl %v, want 3s", ttl)
		}
	}

	key.err = errDown
	if held, err := b.hold(ctx); held || !errors.Is(err, errDown) {
		t.Errorf("hold while Redis is down = %v, %v; want false and the error", held, err)
	}
	if held, err := b.renew(ctx); held || !errors.Is(err, errDown) {
		t.Errorf("renew while Redis is down = %v, %v; want false and the error", held, err)
	}
}

// TestUnitNotHeldDoesNothing: a replica that does not hold the lease
// leaves everything as it is even when all is due: no party started or
// finished, no keys closed, no sample, no prune, and its leader gauge 0.
func TestUnitNotHeldDoesNothing(t *testing.T) {
	w := newWorld(t0)
	due, over := uuid.New(), uuid.New()
	w.parties[due] = &party{status: store.Scheduled, start: t0.Add(-time.Minute), end: t0.Add(time.Hour)}
	w.parties[over] = &party{status: store.Ongoing, start: t0.Add(-time.Hour), end: t0}
	w.registered[over] = true
	w.viewers[due] = 3
	s := unitScheduler(w, newRedisLease(&fakeLeaseKey{holder: "another replica"}, "a", time.Second))
	st := loop{nextSample: t0} // a sampling moment is due
	s.step(context.Background(), &st)

	if w.parties[due].status != store.Scheduled || w.parties[over].status != store.Ongoing {
		t.Errorf("statuses changed: %s, %s", w.parties[due].status, w.parties[over].status)
	}
	if len(w.lines()) != 0 || len(w.samples) != 0 || w.passes != 0 || w.prunes != 0 {
		t.Errorf("acted without the lease: journal %q, %d samples, %d passes, %d prunes",
			w.lines(), len(w.samples), w.passes, w.prunes)
	}
	if got := testutil.ToFloat64(s.deps.Leader); got != 0 {
		t.Errorf("leader gauge = %v, want 0", got)
	}
}

// TestUnitPartyLifeOnce: over passes of two replicas taking turns with the
// lease, a due party is started and nothing more, and once over it gets
// one final flush before its keys are closed and removed, once: later
// passes, of either replica, find nothing left to do for it.
func TestUnitPartyLifeOnce(t *testing.T) {
	w := newWorld(t0)
	key := &fakeLeaseKey{}
	a := unitScheduler(w, newRedisLease(key, "a", 3*time.Second))
	b := unitScheduler(w, newRedisLease(key, "b", 3*time.Second))
	id := uuid.New()
	p := &party{status: store.Scheduled, start: t0, end: t0.Add(time.Hour)}
	w.parties[id], w.registered[id], w.backlog[id] = p, true, 4
	ctx := context.Background()
	var la, lb loop
	for range 3 {
		a.step(ctx, &la)
		b.step(ctx, &lb)
		w.clock.advance(time.Second)
	}
	if p.status != store.Ongoing || len(w.lines()) != 0 {
		t.Fatalf("after the start: status %s, journal %q; want ONGOING and nothing finished", p.status, w.lines())
	}
	a.lease.release(ctx)
	p.endRequested = true
	for range 3 {
		b.step(ctx, &lb)
		a.step(ctx, &la)
		w.clock.advance(time.Second)
	}
	want := []string{"close", "flush", "peak 10", "remove"}
	if diff := cmp.Diff(want, w.lines()); diff != "" || p.status != store.Finished || w.registered[id] {
		t.Errorf("finish (-want +got):\n%s status %s, still registered %v", diff, p.status, w.registered[id])
	}
	if w.backlog[id] != 0 {
		t.Errorf("backlog left after the final flush: %d", w.backlog[id])
	}
}
