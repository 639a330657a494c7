package e2e

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/testenv"
)

// leaseHeld reports whether p's last lease log line says it holds the lease.
func leaseHeld(p *testenv.Proc) bool {
	lines := p.Lines("scheduler lease changed")
	return len(lines) > 0 && strings.Contains(lines[len(lines)-1], `"held":true`)
}

// transitions counts "party transition" log lines per party and target.
func transitions(procs ...*testenv.Proc) map[string]int {
	out := map[string]int{}
	for _, p := range procs {
		for _, l := range p.Lines(`"msg":"party transition"`) {
			var rec struct {
				PartyID string `json:"party_id"`
				To      string `json:"to"`
			}
			if json.Unmarshal([]byte(l), &rec) == nil {
				out[rec.PartyID+" "+rec.To]++
			}
		}
	}
	return out
}

// TestOneSchedulerAndTakeover runs two flushers: exactly one schedules, and
// when it is killed the other takes over within a few seconds, with no
// party transitioned twice.
func TestOneSchedulerAndTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a flusher; skipped with -short")
	}
	s := sharedSystem(t)
	settings := []string{"WATCH_PARTY_SCHEDULER_INTERVAL=200ms", "WATCH_PARTY_SCHEDULER_LEASE_TTL=1s",
		"WATCH_PARTY_FLUSH_INTERVAL=1h"}
	_, a := s.flusher(append(settings, "WATCH_PARTY_CONSUMER_NAME=flusher-a")...)
	_, b := s.flusher(append(settings, "WATCH_PARTY_CONSUMER_NAME=flusher-b")...)
	eventually(t, 10*time.Second, "a scheduler", func() bool { return leaseHeld(a) || leaseHeld(b) })

	due := func(n int) []string {
		var ids []string
		for range n {
			ids = append(ids, s.party("SCHEDULED", "host"))
		}
		return ids
	}
	waitOngoing := func(ids []string, within time.Duration) {
		t.Helper()
		eventually(t, within, "parties ONGOING", func() bool {
			n, err := s.tryCount(`SELECT count(*) FROM watch_parties WHERE id = ANY($1) AND status = 'ONGOING'`, toUUIDs(ids))
			return err == nil && n == len(ids)
		})
	}
	first := due(5)
	waitOngoing(first, 10*time.Second)
	leader, other := a, b
	if leaseHeld(b) {
		leader, other = b, a
	}
	if leaseHeld(other) {
		t.Fatal("both flushers hold the scheduler lease")
	}
	if len(transitions(other)) != 0 {
		t.Fatalf("the non-leader transitioned parties: %v", transitions(other))
	}

	leader.Signal(syscall.SIGKILL)
	killed := time.Now()
	second := due(5)
	waitOngoing(second, 10*time.Second)
	if took := time.Since(killed); took > 5*time.Second {
		t.Fatalf("takeover took %v", took)
	}
	if !leaseHeld(other) {
		t.Fatal("the surviving flusher does not report holding the lease")
	}
	// A process logs a transition just after committing it: wait for the
	// line, not only for the row.
	eventually(t, 10*time.Second, "10 transitions logged", func() bool { return len(transitions(a, b)) >= 10 })
	for key, n := range transitions(a, b) {
		if n != 1 {
			t.Fatalf("%s logged %d times", key, n)
		}
	}
	if got := len(transitions(a, b)); got != 10 {
		t.Fatalf("%d transitions logged, want 10", got)
	}
}

func toUUIDs(ids []string) []uuid.UUID {
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		out[i] = uuid.MustParse(id)
	}
	return out
}
