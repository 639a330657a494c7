package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// LeaseKey holds the name of the flusher that runs the party scheduler.
const LeaseKey = rdb.SchedulerLeaseKey

// leaseKey is the lease key as the scheduler's lease uses it
// (rdb.Lease at LeaseKey): at most one owner token holds it, and a holder
// that stops renewing loses it after its TTL.
type leaseKey interface {
	Hold(ctx context.Context, owner string, ttl time.Duration) (bool, error)
	Renew(ctx context.Context, owner string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, owner string) error
}

// redisLease is the lease that makes exactly one flusher the scheduler.
type redisLease struct {
	key   leaseKey
	owner string // the holder token: unique to this process
	ttl   time.Duration
}

// newRedisLease returns the lease of the flusher called name at key.
// The token adds a random part to the name, so two processes given the
// same name by mistake never both believe they hold it.
func newRedisLease(key leaseKey, name string, ttl time.Duration) *redisLease {
	return &redisLease{key: key, owner: name + "/" + uuid.NewString(), ttl: ttl}
}

// hold takes or renews the lease and reports whether this process holds it.
func (l *redisLease) hold(ctx context.Context) (bool, error) {
	held, err := l.key.Hold(ctx, l.owner, l.ttl)
	if err != nil {
		return false, fmt.Errorf("hold scheduler lease: %w", err)
	}
	return held, nil
}

// renew extends the lease if this process still holds it, reporting
// whether it does.
func (l *redisLease) renew(ctx context.Context) (bool, error) {
	held, err := l.key.Renew(ctx, l.owner, l.ttl)
	if err != nil {
		return false, fmt.Errorf("renew scheduler lease: %w", err)
	}
	return held, nil
}

// release gives the lease up so another replica takes over at once.
func (l *redisLease) release(ctx context.Context) {
	_ = l.key.Release(ctx, l.owner)
}
