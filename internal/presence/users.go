package presence

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/watchparty/watchparty/internal/rdb"
)

// Users counts each user's open connections across all gateway pods in
// Redis, to cap them (WATCH_PARTY_MAX_CONNS_PER_USER). Each pod keeps one
// entry per user, which it refreshes every Refresh and which is gone TTL
// after its last refresh, so a pod that dies drops out on its own.
//
// The counts this pod keeps in memory are the truth: every change is sent
// to Redis as it happens, and the refresh writes the counts again, which
// puts right a change that failed in Redis. Changes are numbered, so that a
// refresh never undoes a change made after it read the counts
// (lua/user_conns.lua). It is safe for concurrent use.
type Users struct {
	counts userCounts
	pod    string
	max    int // connections of one user across pods; 0: no cap
	now    func() time.Time
	log    *slog.Logger

	mu    sync.Mutex
	seq   int64 // the number of the latest change
	local map[string]*userConns
}

// userCounts is where pods share their counts of each user's connections
// (rdb.Presence; lua/user_conns.lua).
type userCounts interface {
	AddUserConn(ctx context.Context, user, pod string, delta int, seq int64, limit int, expires, now time.Time) (bool, int, error)
	SetUserConns(ctx context.Context, pod string, counts map[string]int, seq int64, expires, now time.Time) error
}

// userConns is this pod's count of one user's connections. It stays in
// Users.local until a refresh has written it after its latest change, even
// at zero, so that a failed release is put right.
type userConns struct {
	n    int   // connections held
	busy int   // changes on their way to Redis
	seq  int64 // the number of the user's latest change
}

// releaseTimeout bounds telling Redis of a release, which has no request
// to take a deadline from; withdrawing on shutdown has as long.
const releaseTimeout = 2 * time.Second

// NewUsers returns the per-user connection counts of this process, named
// uniquely among pods, capped at perUser connections of a user across pods.
// A cap of 0 is no cap: nothing is counted and Redis is never called.
func NewUsers(c rdb.Client, perUser int, log *slog.Logger) *Users {
	return &Users{counts: rdb.NewPresence(c), pod: podName(),
		max: perUser, now: time.Now, log: log, local: make(map[string]*userConns)}
}

// Acquire takes a connection slot for user and reports whether there was
// one: false when the user holds max connections across live pods. The
// check and the take are one step in Redis, so pods racing for the last
// slot cannot both have it. An error (Redis unreachable, ctx ended) takes
// no slot (should Redis have counted it all the same, the next refresh
// takes it back). Call Release exactly once for each true.
func (u *Users) Acquire(ctx context.Context, user string) (bool, error) {
	if u.max <= 0 {
		return true, nil
	}
	c, seq := u.begin(user, 0)
	now := u.now()
	ok, _, err := u.counts.AddUserConn(ctx, user, u.pod, 1, seq, u.max, now.Add(TTL), now)
	u.mu.Lock()
	defer u.mu.Unlock()
	c.busy--
	if err != nil {
		return false, fmt.Errorf("count connections of user %q: %w", user, err)
	}
	if ok {
		c.n++
	}
	return ok, nil
}

// Release gives back a slot Acquire took. Redis is told at once; when
// that fails, the next refresh writes this pod's true count.
func (u *Users) Release(user string) {
	if u.max <= 0 {
		return
	}
	c, seq := u.begin(user, -1)
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	now := u.now()
	_, _, _ = u.counts.AddUserConn(ctx, user, u.pod, -1, seq, 0, now.Add(TTL), now)
	u.mu.Lock()
	c.busy--
	u.mu.Unlock()
}

// begin numbers a change of user's count, applies delta to the count in
// memory (an acquire applies its +1 only once Redis agreed) and marks the
// change as on its way to Redis.
func (u *Users) begin(user string, delta int) (*userConns, int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.local[user]
	if c == nil {
		c = &userConns{}
		u.local[user] = c
	}
	u.seq++
	c.n += delta
	c.busy++
	c.seq = u.seq
	return c, u.seq
}

// Run refreshes this pod's entries every Refresh until ctx ends, then
// withdraws them, so that a clean shutdown frees the users' slots at once.
// Without a cap there is nothing to refresh and it returns at once.
func (u *Users) Run(ctx context.Context) error {
	if u.max <= 0 {
		return nil
	}
	t := time.NewTicker(Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			u.withdraw()
			return nil
		case <-t.C:
			u.refresh(ctx)
		}
	}
}

// refresh writes the count of each user with no change on its way to
// Redis (such a change extends the pod's entry itself, and its user is
// written next time), then forgets the users it wrote zero for that did
// not change since.
func (u *Users) refresh(ctx context.Context) {
	counts, seq := u.settled()
	if len(counts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, Refresh)
	defer cancel()
	now := u.now()
	if err := u.counts.SetUserConns(ctx, u.pod, counts, seq, now.Add(TTL), now); err != nil {
		u.log.Warn("refresh connection counts of users", "users", len(counts), "err", err)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for user := range counts {
		if c := u.local[user]; c != nil && c.n == 0 && c.busy == 0 && c.seq <= seq {
			delete(u.local, user)
		}
	}
}

// settled returns the counts of the users with no change on its way to
// Redis, and the number of the latest change.
func (u *Users) settled() (map[string]int, int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int, len(u.local))
	for user, c := range u.local {
		if c.busy == 0 {
			out[user] = c.n
		}
	}
	return out, u.seq
}

// withdraw removes this pod's entries.
func (u *Users) withdraw() {
	u.mu.Lock()
	zero := make(map[string]int, len(u.local))
	for user := range u.local {
		zero[user] = 0
	}
	seq := u.seq
	u.mu.Unlock()
	if len(zero) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	now := u.now()
	if err := u.counts.SetUserConns(ctx, u.pod, zero, seq, now.Add(TTL), now); err != nil {
		u.log.Warn("withdraw connection counts of users; they expire on their own", "users", len(zero), "err", err)
	}
}
