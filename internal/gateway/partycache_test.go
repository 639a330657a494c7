package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/store"
)

// fakeParties knows one party; every other id is unknown.
type fakeParties struct {
	known uuid.UUID
	reads atomic.Int64
}

func (f *fakeParties) Get(_ context.Context, id uuid.UUID) (store.Party, error) {
	f.reads.Add(1)
	if id == f.known {
		return store.Party{ID: id, Status: store.Ongoing}, nil
	}
	return store.Party{}, store.ErrPartyNotFound
}

// TestPartyCacheBounded floods the cache with random ids inside one TTL:
// its size must stay bounded, and the known party keeps being served.
func TestPartyCacheBounded(t *testing.T) {
	f := &fakeParties{known: uuid.New()}
	c := newPartyCache(f, time.Minute, DefaultPartyCacheSize)
	ctx := context.Background()
	if _, err := c.get(ctx, f.known); err != nil {
		t.Fatal(err)
	}
	const flood = 30_000
	for range flood {
		if _, err := c.get(ctx, uuid.New()); err != store.ErrPartyNotFound {
			t.Fatalf("unknown id: %v, want ErrPartyNotFound", err)
		}
	}
	if n := c.len(); n > 2*DefaultPartyCacheSize {
		t.Fatalf("cache holds %d ids after %d random lookups; want at most %d", n, flood, 2*DefaultPartyCacheSize)
	}
	before := f.reads.Load()
	p, err := c.get(ctx, f.known)
	if err != nil || p.ID != f.known {
		t.Fatalf("known party after the flood: %+v, %v", p, err)
	}
	if f.reads.Load() != before {
		t.Errorf("the known party was evicted by unknown ids: it was read again")
	}
}
