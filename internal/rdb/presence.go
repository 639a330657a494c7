package rdb

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Presence is the viewer counts of parties (PartyKeys: Viewers, Peak) and
// the connection counts of users (UserConnsKey), each pod's share in an
// entry that expires unless refreshed. It is safe for concurrent use.
type Presence struct{ c Client }

// NewPresence returns the counts in c.
func NewPresence(c Client) Presence { return Presence{c: c} }

// SetViewers sets pod's count of party's viewers to n, valid until
// expires, and returns the party's total across live pods at now
// (SetViewerCount).
func (p Presence) SetViewers(ctx context.Context, party uuid.UUID, pod string, n int, expires, now time.Time) (int, error) {
	return SetViewerCount(ctx, p.c, KeysFor(party), pod, n, expires, now)
}

// Viewers returns party's viewer count across live pods at now.
func (p Presence) Viewers(ctx context.Context, party uuid.UUID, now time.Time) (int, error) {
	return ReadViewerCount(ctx, p.c, KeysFor(party), now)
}

// Peak returns the highest viewer count party has had (0: none recorded).
func (p Presence) Peak(ctx context.Context, party uuid.UUID) (int, error) {
	n, err := p.c.Get(ctx, KeysFor(party).Peak).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// AddUserConn is AddUserConn over p's client.
func (p Presence) AddUserConn(ctx context.Context, user, pod string, delta int, seq int64, limit int,
	expires, now time.Time) (bool, int, error) {
	return AddUserConn(ctx, p.c, user, pod, delta, seq, limit, expires, now)
}

// SetUserConns is SetUserConns over p's client.
func (p Presence) SetUserConns(ctx context.Context, pod string, counts map[string]int, seq int64,
	expires, now time.Time) error {
	return SetUserConns(ctx, p.c, pod, counts, seq, expires, now)
}
