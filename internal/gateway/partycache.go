package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/watchparty/watchparty/internal/store"
)

// staleFor is how long a party read from PostgreSQL may still be served
// when PostgreSQL cannot be read.
const staleFor = time.Minute

// partyCache keeps parties read from PostgreSQL for a short while, so that a
// burst of joins reads each party once and viewers can still join while
// PostgreSQL blips. Known parties and unknown ids are kept in two LRU
// caches of at most size entries each, so a flood of random ids costs
// constant memory and cannot push the real parties out. It is safe for
// concurrent use.
type partyCache struct {
	parties partyGetter
	ttl     time.Duration
	now     func() time.Time

	known   *expirable.LRU[uuid.UUID, cached]   // kept staleFor, fresh for ttl
	unknown *expirable.LRU[uuid.UUID, struct{}] // kept ttl
}

// partyGetter reads one party; *store.Parties is the real one.
type partyGetter interface {
	Get(ctx context.Context, id uuid.UUID) (store.Party, error)
}

type cached struct {
	party store.Party
	at    time.Time
}

func newPartyCache(parties partyGetter, ttl time.Duration, size int) *partyCache {
	if size <= 0 {
		size = DefaultPartyCacheSize
	}
	return &partyCache{parties: parties, ttl: ttl, now: time.Now,
		known:   expirable.NewLRU[uuid.UUID, cached](size, nil, max(staleFor, ttl)),
		unknown: expirable.NewLRU[uuid.UUID, struct{}](size, nil, ttl)}
}

// get returns the party, or store.ErrPartyNotFound. A failed read falls back
// to an older cached copy when there is one.
func (c *partyCache) get(ctx context.Context, id uuid.UUID) (store.Party, error) {
	e, ok := c.known.Get(id)
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.party, nil
	}
	if !ok && c.unknown.Contains(id) {
		return store.Party{}, store.ErrPartyNotFound
	}
	p, err := c.parties.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrPartyNotFound):
		c.known.Remove(id)
		c.unknown.Add(id, struct{}{})
		return store.Party{}, err
	case err != nil:
		if ok {
			return e.party, nil
		}
		return store.Party{}, err
	}
	c.unknown.Remove(id)
	c.known.Add(id, cached{party: p, at: c.now()})
	return p, nil
}

// len is how many ids the cache holds, known and unknown.
func (c *partyCache) len() int { return c.known.Len() + c.unknown.Len() }
