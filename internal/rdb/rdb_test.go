package rdb_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/testenv"
)

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) has(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Contains(b.buf.String(), s)
}

// TestWarnIfEvictingWaitsForRedis starts the check while Redis is down: it
// must keep trying and warn about an evicting server once Redis is up.
func TestWarnIfEvictingWaitsForRedis(t *testing.T) {
	r := testenv.ReserveRedis(t, "--maxmemory-policy", "allkeys-lru")
	c, err := rdb.Open(r.URL(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { rdb.WarnIfEvicting(ctx, c, log); close(done) }()

	finished := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	testenv.Eventually(t, 10*time.Second, "the first failure to be logged", func() bool {
		return logs.has("redis unavailable") || finished()
	})
	select {
	case <-done:
		t.Fatalf("the check gave up while Redis was down:\n%s", logs.String())
	default:
	}
	r.Start(t)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the check did not finish after Redis started:\n%s", logs.String())
	}
	if !logs.has("redis may evict keys") || !logs.has("allkeys-lru") {
		t.Fatalf("no eviction warning:\n%s", logs.String())
	}
}

// TestBackoff checks the pauses double up to the cap and keep jitter
// within the upper half of each step.
func TestBackoff(t *testing.T) {
	b := rdb.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	steps := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, s := range steps {
		step := s * time.Millisecond
		if d := b.Next(); d < step/2 || d > step {
			t.Fatalf("pause %d is %v, want within [%v, %v]", i, d, step/2, step)
		}
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("pause after Reset is %v, want at most 100ms", d)
	}
}

// TestOpenFollowsSentinelFailover opens a Sentinel REDIS_URL, writes, kills
// the master and expects the same client to write to the promoted replica,
// which holds what was written before.
func TestOpenFollowsSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Sentinel failover; skipped with -short")
	}
	g := testenv.StartSentinelGroup(t, testenv.SentinelConfig{DownAfter: 500 * time.Millisecond, FailoverTimeout: 3 * time.Second})
	if !rdb.IsSentinelURL(g.URL()) || rdb.IsCluster(g.URL(), false) {
		t.Fatalf("%s not taken for a Sentinel URL", g.URL())
	}
	c, err := rdb.Open(g.URL(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	replica := redis.NewClient(&redis.Options{Addr: g.Replicas[0].Addr()})
	defer replica.Close()
	testenv.Eventually(t, 10*time.Second, "the replica to hold the write", func() bool {
		return replica.Get(ctx, "before").Val() == "1"
	})
	old := g.Master.Addr()
	g.Master.Kill()
	promoted := g.WaitForFailover(t, old, 60*time.Second)
	testenv.Eventually(t, 30*time.Second, "a write through the same client to succeed", func() bool {
		return c.Set(ctx, "after", "1", 0).Err() == nil
	})
	if v, err := c.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("the promoted master %s lacks what was written before: %q, %v", promoted, v, err)
	}
}
