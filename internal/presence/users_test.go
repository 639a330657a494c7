package presence

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/testenv"
)

func newUsers(t *testing.T, c redis.UniversalClient, perUser int) *Users {
	t.Helper()
	return NewUsers(c, perUser, slog.New(slog.DiscardHandler))
}

// unreachable is a client of a port nobody listens on.
func unreachable(t *testing.T) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustAcquire(t *testing.T, u *Users, user string, want bool) {
	t.Helper()
	if ok, err := u.Acquire(context.Background(), user); ok != want || err != nil {
		t.Fatalf("acquire on pod %s: %v, %v; want %v", u.pod, ok, err, want)
	}
}

// TestUserConnsCapAcrossPods: the cap counts a user's connections on every
// pod, and a release on one pod frees a slot for another.
func TestUserConnsCapAcrossPods(t *testing.T) {
	c := testenv.SharedRedisClient(t)
	user := "user-" + uuid.NewString()
	a, b := newUsers(t, c, 2), newUsers(t, c, 2)
	mustAcquire(t, a, user, true)
	mustAcquire(t, a, user, true)
	mustAcquire(t, b, user, false)
	mustAcquire(t, b, "other-"+user, true)
	a.Release(user)
	mustAcquire(t, b, user, true)
	mustAcquire(t, a, user, false)
}

// TestUserConnsNoCapCallsNoRedis: with a cap of 0 every connection is
// taken without Redis, which would fail here.
func TestUserConnsNoCapCallsNoRedis(t *testing.T) {
	c := unreachable(t)
	if _, err := newUsers(t, c, 1).Acquire(context.Background(), "u"); err == nil {
		t.Fatal("acquire with a cap through an unreachable Redis succeeded; the test proves nothing")
	}
	u := newUsers(t, c, 0)
	mustAcquire(t, u, "u", true)
	u.Release("u")
	if err := u.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(u.local) != 0 {
		t.Errorf("counted %v without a cap", u.local)
	}
}

// TestUserConnsRefreshPutsRightAFailedRelease: a release Redis never heard
// of keeps the slot taken until the pod's refresh writes its true count.
func TestUserConnsRefreshPutsRightAFailedRelease(t *testing.T) {
	c := testenv.SharedRedisClient(t)
	user := "user-" + uuid.NewString()
	a, b := newUsers(t, c, 1), newUsers(t, c, 1)
	mustAcquire(t, a, user, true)
	a.counts = rdb.NewPresence(unreachable(t))
	a.Release(user)
	a.counts = rdb.NewPresence(c)
	mustAcquire(t, b, user, false)
	a.refresh(context.Background())
	mustAcquire(t, b, user, true)
	if len(a.local) != 0 {
		t.Errorf("pod a still keeps %v after writing its zero", a.local)
	}
}

// TestUserConnsRefreshKeepsThePodCounted: the pod's entries outlive TTL
// while it refreshes them, and lapse when it stops.
func TestUserConnsRefreshKeepsThePodCounted(t *testing.T) {
	c := testenv.SharedRedisClient(t)
	user := "user-" + uuid.NewString()
	now := time.Now()
	clock := func() time.Time { return now }
	a, b := newUsers(t, c, 1), newUsers(t, c, 1)
	a.now, b.now = clock, clock
	mustAcquire(t, a, user, true)
	now = now.Add(TTL - time.Second)
	a.refresh(context.Background())
	now = now.Add(TTL - time.Second) // past the first expiry, not the refreshed one
	mustAcquire(t, b, user, false)
	now = now.Add(time.Second) // a stopped refreshing: its entry lapsed
	mustAcquire(t, b, user, true)
}

// TestUserConnsShutdownWithdraws: a pod that stops cleanly frees its users'
// slots at once instead of after TTL.
func TestUserConnsShutdownWithdraws(t *testing.T) {
	c := testenv.SharedRedisClient(t)
	user := "user-" + uuid.NewString()
	a, b := newUsers(t, c, 1), newUsers(t, c, 1)
	mustAcquire(t, a, user, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, b, user, true)
}
