package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// balancer is a TCP load balancer in front of gateways, as a deployment
// puts one in front of its pods: the browser sees one origin, and each new
// connection goes to the preferred gateway when it answers, else to the
// next one that does. A connection lives and dies with its gateway's.
type balancer struct {
	t        testing.TB
	ln       net.Listener
	backends []string

	mu      sync.Mutex
	prefer  int
	held    chan struct{} // non-nil while new connections wait
	open    map[net.Conn]struct{}
	wg      sync.WaitGroup
	stopped bool
}

func newBalancer(t testing.TB, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{t: t, ln: ln, backends: backends, open: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

// preferBackend sends new connections to backends[i] while it answers.
func (b *balancer) preferBackend(i int) {
	b.mu.Lock()
	b.prefer = i
	b.mu.Unlock()
}

// hold makes new connections wait (accepted, not forwarded) until resume,
// as a network partition between a client and every gateway would.
func (b *balancer) hold() {
	b.mu.Lock()
	if b.held == nil {
		b.held = make(chan struct{})
	}
	b.mu.Unlock()
}

func (b *balancer) resume() {
	b.mu.Lock()
	if b.held != nil {
		close(b.held)
		b.held = nil
	}
	b.mu.Unlock()
}

func (b *balancer) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		if !b.track(c) {
			return
		}
		b.wg.Add(1)
		go b.serve(c)
	}
}

func (b *balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		_ = c.Close()
		return false
	}
	b.open[c] = struct{}{}
	return true
}

func (b *balancer) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.open, c)
	b.mu.Unlock()
	_ = c.Close()
}

func (b *balancer) serve(client net.Conn) {
	defer b.wg.Done()
	defer b.untrack(client)
	b.mu.Lock()
	held, prefer := b.held, b.prefer
	b.mu.Unlock()
	if held != nil {
		<-held
	}
	var backend net.Conn
	for i := range b.backends {
		addr := b.backends[(prefer+i)%len(b.backends)]
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			backend = c
			break
		}
	}
	if backend == nil {
		return
	}
	if !b.track(backend) {
		return
	}
	defer b.untrack(backend)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(backend, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, backend); done <- struct{}{} }()
	<-done // either side closing ends the pair
}

func (b *balancer) close() {
	b.mu.Lock()
	b.stopped = true
	if b.held != nil {
		close(b.held)
		b.held = nil
	}
	for c := range b.open {
		_ = c.Close()
	}
	b.mu.Unlock()
	_ = b.ln.Close()
	b.wg.Wait()
}
