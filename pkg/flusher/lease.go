package flusher

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// LeaseKey holds the name of the flusher that runs the party scheduler.
const LeaseKey = "wp:scheduler:lease"

// holdScript renews the lease when the caller holds it, or takes it when
// nobody does. KEYS: lease. ARGV: owner, ttl_ms. Returns 1 when held.
var holdScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// renewScript extends the lease only while the caller still holds it: a
// compare-and-set on the holder token. It never takes a free lease: a pass
// whose lease lapsed may have overlapped another replica's, and stops.
// KEYS: lease. ARGV: owner, ttl_ms. Returns 1 when renewed.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// releaseScript gives the lease up only when the caller holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// lease is a Redis lease that makes exactly one flusher the scheduler: a
// holder that stops renewing loses it after ttl.
type lease struct {
	rdb   redis.UniversalClient
	owner string // the holder token: unique to this process
	ttl   time.Duration
}

// newLease returns the lease of the flusher called name. The token adds a
// random part to the name, so two processes given the same name by mistake
// never both believe they hold it.
func newLease(rdb redis.UniversalClient, name string, ttl time.Duration) lease {
	return lease{rdb: rdb, owner: name + "/" + uuid.NewString(), ttl: ttl}
}

// hold takes or renews the lease and reports whether this process holds it.
func (l *lease) hold(ctx context.Context) (bool, error) {
	n, err := holdScript.Run(ctx, l.rdb, []string{LeaseKey}, l.owner, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("hold scheduler lease: %w", err)
	}
	return n == 1, nil
}

// renew extends the lease if this process still holds it, reporting
// whether it does.
func (l *lease) renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{LeaseKey}, l.owner, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew scheduler lease: %w", err)
	}
	return n == 1, nil
}

// release gives the lease up so another replica takes over at once.
func (l *lease) release(ctx context.Context) {
	_ = releaseScript.Run(ctx, l.rdb, []string{LeaseKey}, l.owner).Err()
}
