package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestStartedWhileRedisIsDown starts a gateway and a flusher while their
// Redis is not running yet. Both must stay up and keep trying: the gateway
// stays not ready (503) until it can really append, and once Redis starts,
// it turns ready, the first chat sent after that is acknowledged on the
// first try, and the running flusher writes it to PostgreSQL within
// seconds. A script cache emptied under the running gateway (SCRIPT FLUSH,
// as after a Redis restart) is reloaded without a viewer noticing.
func TestStartedWhileRedisIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis after the binaries; skipped with -short")
	}
	r := testenv.ReserveRedis(t)
	s := newSystem(t, r.URL(), testenv.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")

	addr, gw := s.gatewayUnready()
	flAddr, fl := s.flusher("WATCH_PARTY_CONSUMER_NAME=early", "WATCH_PARTY_FLUSH_INTERVAL=100ms")
	ready := watchReady(t, addr)

	// Redis stays down for a while: both processes keep running and are
	// not ready.
	eventually(t, 10*time.Second, "the gateway to have answered /readyz a few times while Redis is down", func() bool {
		return len(ready.codes()) >= 5
	})
	for _, c := range ready.codes() {
		if c != http.StatusServiceUnavailable {
			t.Fatalf("gateway /readyz answered %d while Redis was down, want 503", c)
		}
	}
	if c := probeStatus(flAddr, "/readyz"); c != http.StatusServiceUnavailable {
		t.Fatalf("flusher /readyz answered %d while Redis was down, want 503", c)
	}
	for _, p := range []*testenv.Proc{gw, fl} {
		if code, err := p.Wait(0); err == nil {
			t.Fatalf("%s exited (%d) while Redis was down:\n%s", p.Name, code, p.Output())
		}
	}

	started := time.Now()
	r.Start(t)
	readyAt := ready.firstOK(t, 15*time.Second)
	c := dial(t, addr, party, "alice")
	c.nextOf("welcome", 5*time.Second)
	ack := chatAcked(t, c, party, "first", "sent right after the gateway turned ready")
	ackedAt := time.Now()
	eventually(t, 10*time.Second, "the chat to reach PostgreSQL", func() bool {
		_, ok := storedChats(t, s, party)[ack.EventID]
		return ok
	})
	t.Logf("after Redis started: gateway ready in %v, chat acked in %v, flushed in %v",
		readyAt.Sub(started).Round(time.Millisecond), ackedAt.Sub(started).Round(time.Millisecond),
		time.Since(started).Round(time.Millisecond))
	ready.stop()
	for _, c := range ready.codes() {
		if c != http.StatusServiceUnavailable && c != http.StatusOK {
			t.Fatalf("gateway /readyz answered %d", c)
		}
	}
	fl.WaitHTTP(t, "http://"+flAddr+"/readyz", 10*time.Second)

	// The script cache is emptied under the running gateway: the next chat
	// is stored all the same, and flushed.
	if err := s.rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	again := chatAcked(t, c, party, "second", "sent after SCRIPT FLUSH")
	eventually(t, 10*time.Second, "the chat after SCRIPT FLUSH to reach PostgreSQL", func() bool {
		_, ok := storedChats(t, s, party)[again.EventID]
		return ok
	})
	gw.WaitHTTP(t, "http://"+addr+"/readyz", 5*time.Second)
}

// gatewayUnready starts a gateway like gateway does, but returns as soon as
// it serves /healthz, ready or not.
func (s *system) gatewayUnready(extra ...string) (string, *testenv.Proc) {
	s.t.Helper()
	return s.startGateway("/healthz", extra)
}

// readyWatch polls a process's /readyz until stopped and keeps every
// answer.
type readyWatch struct {
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	polls []int
	ok    chan struct{} // closed at the first 200
	okAt  time.Time
}

func watchReady(t testing.TB, addr string) *readyWatch {
	w := &readyWatch{done: make(chan struct{}), ok: make(chan struct{})}
	w.wg.Go(func() {
		for {
			code := probeStatus(addr, "/readyz")
			w.mu.Lock()
			w.polls = append(w.polls, code)
			if code == http.StatusOK && w.okAt.IsZero() {
				w.okAt = time.Now()
				close(w.ok)
			}
			w.mu.Unlock()
			select {
			case <-w.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	t.Cleanup(w.stop)
	return w
}

func (w *readyWatch) stop() {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	w.wg.Wait()
}

func (w *readyWatch) codes() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.polls...)
}

// firstOK waits for the first 200 and returns when it was seen.
func (w *readyWatch) firstOK(t testing.TB, timeout time.Duration) time.Time {
	t.Helper()
	select {
	case <-w.ok:
	case <-time.After(timeout):
		t.Fatalf("/readyz did not answer 200 within %v; answers: %v", timeout, w.codes())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.okAt
}
