package rdb_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchparty/watchparty/pkg/rdb"
	"github.com/watchparty/watchparty/pkg/testenv"
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
