package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/pkg/store"
)

// partyCache keeps parties read from PostgreSQL for a short while, so that a
// burst of joins reads each party once and viewers can still join while
// PostgreSQL blips. It is safe for concurrent use.
type partyCache struct {
	parties *store.Parties
	ttl     time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[uuid.UUID]cached
}

type cached struct {
	party store.Party
	err   error
	at    time.Time
}

func newPartyCache(parties *store.Parties, ttl time.Duration) *partyCache {
	return &partyCache{parties: parties, ttl: ttl, now: time.Now, entries: make(map[uuid.UUID]cached)}
}

// get returns the party, or store.ErrPartyNotFound. A failed read falls back
// to an older cached copy when there is one.
func (c *partyCache) get(ctx context.Context, id uuid.UUID) (store.Party, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.party, e.err
	}
	p, err := c.parties.Get(ctx, id)
	if err != nil && !errors.Is(err, store.ErrPartyNotFound) {
		if ok && e.err == nil {
			return e.party, nil
		}
		return store.Party{}, err
	}
	c.mu.Lock()
	c.entries[id] = cached{party: p, err: err, at: c.now()}
	if len(c.entries) > 10000 {
		c.evictLocked()
	}
	c.mu.Unlock()
	return p, err
}

func (c *partyCache) evictLocked() {
	for id, e := range c.entries {
		if c.now().Sub(e.at) >= c.ttl {
			delete(c.entries, id)
		}
	}
}
