package presence_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/presence"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newClient(t *testing.T) redis.UniversalClient { return testenv.SharedRedisClient(t) }

// TestCountsAcrossPodsAndPeak: each pod's count adds up, the peak is the
// highest total, and a pod that withdraws drops out.
func TestCountsAcrossPodsAndPeak(t *testing.T) {
	rdb := newClient(t)
	ctx := context.Background()
	party := uuid.New()
	a, b := presence.New(rdb), presence.New(rdb)
	if n, err := a.Add(ctx, party, 2); err != nil || n != 2 {
		t.Fatalf("pod a +2: %d, %v", n, err)
	}
	if n, err := b.Add(ctx, party, 3); err != nil || n != 5 {
		t.Fatalf("pod b +3: %d, %v; want 5", n, err)
	}
	if n, err := a.Add(ctx, party, -2); err != nil || n != 3 {
		t.Fatalf("pod a -2: %d, %v; want 3", n, err)
	}
	if n, err := presence.Reader(rdb).Total(ctx, party); err != nil || n != 3 {
		t.Fatalf("total %d, %v; want 3", n, err)
	}
	if p, err := a.Peak(ctx, party); err != nil || p != 5 {
		t.Fatalf("peak %d, %v; want 5", p, err)
	}
}

// TestLateLeaveAfterCleanupRecreatesNothing: once a party was closed and
// its keys removed, a viewer leaving late writes no key of the party.
func TestLateLeaveAfterCleanupRecreatesNothing(t *testing.T) {
	rdb := newClient(t)
	ctx := context.Background()
	party := uuid.New()
	p := presence.New(rdb)
	if _, err := p.Add(ctx, party, 1); err != nil {
		t.Fatal(err)
	}
	if err := stream.Close(ctx, rdb, party); err != nil {
		t.Fatal(err)
	}
	if err := stream.Remove(ctx, rdb, party); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(ctx, party, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := presence.New(rdb).Add(ctx, party, 1); err != nil {
		t.Fatal(err)
	}
	k := stream.KeysFor(party)
	if n, err := rdb.Exists(ctx, k.Viewers, k.Peak).Result(); err != nil || n != 0 {
		t.Fatalf("%d of the party's viewer keys exist after cleanup (%v), want none", n, err)
	}
}
