package lifecycle

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/flusher"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newDB(t *testing.T) *pgxpool.Pool { return testenv.NewPool(t, store.Migrate) }

func leaseConfig() Config {
	return Config{Interval: 50 * time.Millisecond, LeaseTTL: time.Second, SampleInterval: time.Hour}
}

// newRedisScheduler returns a scheduler named name over real Redis and
// PostgreSQL, with a flusher of the same name.
func newRedisScheduler(t *testing.T, name string, cfg Config, rdb redis.UniversalClient, db *pgxpool.Pool) *Scheduler {
	t.Helper()
	cfg.Name = name
	f, err := flusher.New(flusher.Config{ConsumerName: name, FlushInterval: time.Hour, ShutdownTimeout: 5 * time.Second,
		BatchSize: 1000, MaxDeliveries: 2, ClaimMinIdle: time.Minute, Retention: time.Hour},
		rdb, db, flusher.NewMetrics(), testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: "leader"})
	return New(cfg, rdb, store.NewParties(db), f, leader, nil, testenv.Logger())
}

// start runs s until the test ends.
func start(t *testing.T, s *Scheduler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler %s: %v", s.cfg.Name, err)
		}
	})
}

// acting counts the schedulers inside a pass and remembers the most at once.
type acting struct {
	now, most atomic.Int32
}

func (a *acting) enter() {
	n := a.now.Add(1)
	for {
		m := a.most.Load()
		if n <= m || a.most.CompareAndSwap(m, n) {
			return
		}
	}
}

func (a *acting) leave() { a.now.Add(-1) }

// TestLeaseOutlivesALongPass: a pass that runs many lease TTLs long (held
// up on purpose inside the pass) keeps the lease, so a second scheduler
// that keeps trying never takes it and never acts at the same time.
func TestLeaseOutlivesALongPass(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a pass for many lease TTLs; skipped with -short")
	}
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	cfg := leaseConfig()
	a, b := newRedisScheduler(t, "sched-a", cfg, rdb, db), newRedisScheduler(t, "sched-b", cfg, rdb, db)
	var (
		act      acting
		once     sync.Once
		blocked  = make(chan struct{})
		release  = make(chan struct{})
		inLong   atomic.Bool
		aStopped atomic.Bool // a's long pass was cancelled
		bTries   atomic.Int32
		bHeld    atomic.Bool
	)
	a.hooks.passStarted = func(ctx context.Context) {
		act.enter()
		defer act.leave()
		first := false
		once.Do(func() { first = true })
		if !first {
			return
		}
		inLong.Store(true)
		defer inLong.Store(false)
		close(blocked)
		select {
		case <-release:
		case <-ctx.Done():
			aStopped.Store(true)
		}
	}
	b.hooks.passStarted = func(context.Context) {
		act.enter()
		act.leave()
	}
	b.hooks.leaseChecked = func(held bool) {
		if inLong.Load() {
			bTries.Add(1)
			if held {
				bHeld.Store(true)
			}
		}
	}
	start(t, a)
	<-blocked
	start(t, b)
	// 80 tries of b, one every 50 ms: about four lease TTLs of a's pass.
	testenv.Eventually(t, 30*time.Second, "80 lease attempts by the second scheduler",
		func() bool { return bTries.Load() >= 80 || bHeld.Load() })
	close(release)
	if bHeld.Load() {
		t.Error("the second scheduler took the lease while the first was in a pass")
	}
	if m := act.most.Load(); m != 1 {
		t.Errorf("%d schedulers acted at once", m)
	}
	if aStopped.Load() {
		t.Error("the long pass was stopped although its lease was never lost")
	}
}

// TestPassStopsWhenTheLeaseIsLost: when another holder takes the lease
// from under a pass (the pass outlived it, say, Redis being slow), the
// pass's context ends, so it stops acting.
func TestPassStopsWhenTheLeaseIsLost(t *testing.T) {
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	s := newRedisScheduler(t, "sched-a", leaseConfig(), rdb, db)
	var once sync.Once
	blocked, stopped := make(chan struct{}), make(chan struct{})
	s.hooks.passStarted = func(ctx context.Context) {
		once.Do(func() {
			close(blocked)
			select {
			case <-ctx.Done():
				close(stopped)
			case <-time.After(20 * time.Second):
			}
		})
	}
	start(t, s)
	<-blocked
	if err := rdb.Set(context.Background(), LeaseKey, "another-replica", 0).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the pass went on for 10 s after its lease was taken")
	}
}

// TestSchedulerLeaderGauge checks that exactly the replica holding the
// scheduler lease reports itself leader, and that leadership moves (and
// the gauge with it) when that replica stops.
func TestSchedulerLeaderGauge(t *testing.T) {
	rdb, db := testenv.StartRedisClient(t), newDB(t)
	a := newRedisScheduler(t, "a", leaseConfig(), rdb, db)
	b := newRedisScheduler(t, "b", leaseConfig(), rdb, db)
	leader := func(s *Scheduler) float64 { return testutil.ToFloat64(s.deps.Leader) }
	ctx, stopA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctx) }()
	testenv.Eventually(t, 5*time.Second, "a to take the lease", func() bool { return leader(a) == 1 })
	var bChecked atomic.Int32
	b.hooks.leaseChecked = func(bool) { bChecked.Add(1) }
	start(t, b)
	testenv.Eventually(t, 5*time.Second, "b to check the lease twice", func() bool { return bChecked.Load() >= 2 })
	if leader(b) != 0 {
		t.Fatalf("b reports itself leader while a holds the lease")
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if leader(a) != 0 {
		t.Errorf("a stopped and still reports itself leader")
	}
	testenv.Eventually(t, 5*time.Second, "b to take the lease", func() bool { return leader(b) == 1 })
}
