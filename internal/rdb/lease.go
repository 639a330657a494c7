package rdb

import (
	"context"
	"time"
)

// Lease is a lease in Redis held by one owner token at a time, that a
// holder who stops renewing loses after its TTL (lua/lease_hold.lua, lua/lease_renew.lua, lua/lease_release.lua): the
// scheduler's (SchedulerLeaseKey). It is safe for concurrent use.
type Lease struct {
	c   Client
	key string
}

// NewLease returns the lease at key in c.
func NewLease(c Client, key string) Lease { return Lease{c: c, key: key} }

// Hold takes the lease for owner when free, or renews it when owner holds
// it, for ttl, and reports whether owner holds it (HoldLease).
func (l Lease) Hold(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	return HoldLease(ctx, l.c, l.key, owner, ttl)
}

// Renew extends the lease by ttl only if owner still holds it, reporting
// whether it does (RenewLease).
func (l Lease) Renew(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	return RenewLease(ctx, l.c, l.key, owner, ttl)
}

// Release gives the lease up if owner holds it (ReleaseLease).
func (l Lease) Release(ctx context.Context, owner string) error {
	return ReleaseLease(ctx, l.c, l.key, owner)
}
