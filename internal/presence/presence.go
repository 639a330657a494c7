// Package presence counts open connections across all gateway pods in
// Redis, each party's viewers and each user's connections, so that a pod
// that dies drops out on its own. It is this project's code, not a public
// API.
package presence

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/rdb"
)

// Timing of a pod's presence entries: refreshed every Refresh, gone TTL
// after the pod's last refresh (SPEC §5: within 30 s of its death).
const (
	TTL     = 25 * time.Second
	Refresh = 8 * time.Second
)

// viewerCounts is where pods share their viewer counts (rdb.Presence).
type viewerCounts interface {
	// SetViewers sets pod's count of party's viewers, valid until
	// expires, and returns the party's total across live pods at now.
	SetViewers(ctx context.Context, party uuid.UUID, pod string, n int, expires, now time.Time) (int, error)
	Viewers(ctx context.Context, party uuid.UUID, now time.Time) (int, error)
	Peak(ctx context.Context, party uuid.UUID) (int, error)
}

// Presence is one pod's view of viewer counts. It is safe for concurrent use.
type Presence struct {
	counts viewerCounts
	pod    string
	now    func() time.Time

	mu    sync.Mutex
	local map[uuid.UUID]int
}

// New returns the presence of this process, named uniquely among pods.
func New(c rdb.Client) *Presence {
	return &Presence{counts: rdb.NewPresence(c), pod: podName(), now: time.Now, local: make(map[uuid.UUID]int)}
}

// podName names this process uniquely among the pods that count in Redis.
func podName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
}

// Reader returns a Presence that only reads totals (for the flusher).
func Reader(c rdb.Client) *Presence {
	return &Presence{counts: rdb.NewPresence(c), now: time.Now, local: make(map[uuid.UUID]int)}
}

// Add changes this pod's count of party's viewers by delta and returns the
// party's total across pods.
func (p *Presence) Add(ctx context.Context, party uuid.UUID, delta int) (int, error) {
	p.mu.Lock()
	n := p.local[party] + delta
	if n <= 0 {
		delete(p.local, party)
		n = 0
	} else {
		p.local[party] = n
	}
	p.mu.Unlock()
	return p.set(ctx, party, n)
}

func (p *Presence) set(ctx context.Context, party uuid.UUID, n int) (int, error) {
	now := p.now()
	total, err := p.counts.SetViewers(ctx, party, p.pod, n, now.Add(TTL), now)
	if err != nil {
		return 0, fmt.Errorf("count viewers of party %s: %w", party, err)
	}
	return total, nil
}

// Total returns party's viewer count across live pods.
func (p *Presence) Total(ctx context.Context, party uuid.UUID) (int, error) {
	total, err := p.counts.Viewers(ctx, party, p.now())
	if err != nil {
		return 0, fmt.Errorf("count viewers of party %s: %w", party, err)
	}
	return total, nil
}

// Peak returns the highest viewer count party has had.
func (p *Presence) Peak(ctx context.Context, party uuid.UUID) (int, error) {
	n, err := p.counts.Peak(ctx, party)
	if err != nil {
		return 0, fmt.Errorf("read peak viewers of party %s: %w", party, err)
	}
	return n, nil
}

// Run refreshes this pod's entries until ctx ends, then withdraws them so
// that a clean shutdown drops out at once.
func (p *Presence) Run(ctx context.Context) error {
	t := time.NewTicker(Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.withdraw()
			return nil
		case <-t.C:
			for party, n := range p.snapshot() {
				_, _ = p.set(ctx, party, n)
			}
		}
	}
}

func (p *Presence) snapshot() map[uuid.UUID]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[uuid.UUID]int, len(p.local))
	for k, v := range p.local {
		out[k] = v
	}
	return out
}

func (p *Presence) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for party := range p.snapshot() {
		_, _ = p.set(ctx, party, 0)
	}
}
