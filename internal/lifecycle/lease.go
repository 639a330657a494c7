package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/rdb"
)

// LeaseKey holds the name of the flusher that runs the party scheduler.
const LeaseKey = rdb.SchedulerLeaseKey

// redisLease is a Redis lease that makes exactly one flusher the
// scheduler: a holder that stops renewing loses it after ttl.
type redisLease struct {
	rdb   redis.UniversalClient
	owner string // the holder token: unique to this process
	ttl   time.Duration
}

// newRedisLease returns the lease of the flusher called name. The token
// adds a random part to the name, so two processes given the same name by
// mistake never both believe they hold it.
func newRedisLease(rdb redis.UniversalClient, name string, ttl time.Duration) *redisLease {
	return &redisLease{rdb: rdb, owner: name + "/" + uuid.NewString(), ttl: ttl}
}

// hold takes or renews the lease and reports whether this process holds it.
func (l *redisLease) hold(ctx context.Context) (bool, error) {
	held, err := rdb.HoldLease(ctx, l.rdb, LeaseKey, l.owner, l.ttl)
	if err != nil {
		return false, fmt.Errorf("hold scheduler lease: %w", err)
	}
	return held, nil
}

// renew extends the lease if this process still holds it, reporting
// whether it does.
func (l *redisLease) renew(ctx context.Context) (bool, error) {
	held, err := rdb.RenewLease(ctx, l.rdb, LeaseKey, l.owner, l.ttl)
	if err != nil {
		return false, fmt.Errorf("renew scheduler lease: %w", err)
	}
	return held, nil
}

// release gives the lease up so another replica takes over at once.
func (l *redisLease) release(ctx context.Context) {
	_ = rdb.ReleaseLease(ctx, l.rdb, LeaseKey, l.owner)
}
