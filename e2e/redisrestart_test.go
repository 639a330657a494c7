package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestRedisRestartWithAOFKeepsAcknowledgedEvents kills Redis (appendonly,
// fsync always) with SIGKILL while viewers chat and starts it again: the
// gateway carries on by itself, viewers resend what was answered
// `unavailable` (or cut off) under the same client id, and every chat
// acknowledged before or after the restart reaches PostgreSQL exactly once,
// through a flusher that runs throughout.
func TestRedisRestartWithAOFKeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts Redis; skipped with -short")
	}
	r := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	s := newSystem(t, r.URL(), testenv.NewDatabase(t, store.Migrate))
	party := s.party("ONGOING", "host")
	addr, gw := s.gateway()
	flAddr, fl := s.flusher("WATCH_PARTY_CONSUMER_NAME=survivor", "WATCH_PARTY_FLUSH_INTERVAL=100ms")

	// The watcher only listens, on one connection kept across the restart.
	watcher := dial(t, addr, party, "watcher")
	watcher.nextOf("welcome", 5*time.Second)
	cr := startCrowd(t, addr, party, 8)

	cr.waitAcks(t, 300, 30*time.Second, "300 chats acknowledged before the crash")
	r.Kill()
	beforeKill := cr.acks.Load()
	eventually(t, 20*time.Second, "the gateway to answer unavailable or drop viewers a few times", func() bool {
		return cr.refusals.Load()+cr.cutoffs.Load() >= 24
	})
	r.Restart(t)
	restarted := cr.acks.Load()
	cr.waitAcks(t, restarted+300, 30*time.Second, "300 chats acknowledged after the restart")
	cr.finish(t)
	redials := 0
	for _, ch := range cr.chatters {
		redials += ch.redials
	}
	t.Logf("%d acks before the kill, %d by the restart, %d in all; %d unavailable answers, %d dropped connections, %d redials",
		beforeKill, restarted, cr.acks.Load(), cr.refusals.Load(), cr.cutoffs.Load(), redials)

	// The gateway never went down and its live feed resumed: a chat sent
	// after the restart reaches the watcher, connected throughout. (That it
	// also gets every chat accepted around the restart is
	// TestLiveViewersMissNothingWhenTheFeedReconnects.)
	cr.reachesWatcher(t, gw, addr, watcher)

	// The flusher rode out the restart too: it flushes everything, and an
	// outage sends nothing to the dead-letter list.
	fl.WaitHTTP(t, "http://"+flAddr+"/readyz", 10*time.Second)
	eventually(t, 30*time.Second, "the running flusher to flush everything", func() bool {
		n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(party))
		return err == nil && n == 0 && pendingCount(t, s, party) == 0
	})
	if n := s.rdb.LLen(context.Background(), "wp:dlq").Val(); n != 0 {
		t.Fatalf("wp:dlq holds %d batches after a Redis restart", n)
	}
	s.flushOnce()
	acked, stored := checkChatters(t, s, party, cr.chatters)
	t.Logf("%d chats acked, %d stored", acked, stored)
}

// crowd is a few chatters, each resending its chats on its own connection
// (chatResending) until finish, counted together.
type crowd struct {
	chatters                []*chatter
	acks, refusals, cutoffs atomic.Int64
	errs                    chan error
	stop                    context.CancelFunc
	wg                      sync.WaitGroup
}

// startCrowd connects n chatters (users viewer-0 …) to the party at addr
// and starts them chatting.
func startCrowd(t *testing.T, addr, party string, n int) *crowd {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	cr := &crowd{errs: make(chan error, n), stop: stop}
	for i := range n {
		cr.chatters = append(cr.chatters, newChatter(addr, party, fmt.Sprintf("viewer-%d", i)))
	}
	for _, ch := range cr.chatters {
		c, err := ch.connect(t)
		if err != nil {
			t.Fatal(err)
		}
		cr.wg.Go(func() { cr.errs <- ch.chatResending(ctx, t, c, &cr.acks, &cr.refusals, &cr.cutoffs) })
	}
	return cr
}

// check fails the test if a chatter gave up.
func (cr *crowd) check(t *testing.T) {
	t.Helper()
	select {
	case err := <-cr.errs:
		t.Fatal(err)
	default:
	}
}

// waitAcks waits until the crowd has n acknowledged chats in all.
func (cr *crowd) waitAcks(t *testing.T, n int64, timeout time.Duration, what string) {
	t.Helper()
	eventually(t, timeout, what, func() bool { cr.check(t); return cr.acks.Load() >= n })
}

// finish stops the chatters and fails the test if one of them failed.
func (cr *crowd) finish(t *testing.T) {
	t.Helper()
	cr.stop()
	cr.wg.Wait()
	close(cr.errs)
	for err := range cr.errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// reachesWatcher checks that the gateway gw (at addr) is ready and that a
// chat sent through it now reaches watcher, connected since before.
func (cr *crowd) reachesWatcher(t *testing.T, gw *testenv.Proc, addr string, watcher *client) {
	t.Helper()
	gw.WaitHTTP(t, "http://"+addr+"/readyz", 10*time.Second)
	ch := cr.chatters[0]
	c, err := ch.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := ch.chat(c, "after"); code != "" || err != nil {
		t.Fatalf("chat after the outage: %q %v", code, err)
	}
	for text := chatText(ch.user, "after"); watcher.nextOf("chat", 10*time.Second).Text != text; {
	}
}

// chatResending chats on c until ctx ends, one message at a time: a chat
// answered `unavailable`, or whose connection dropped before the answer,
// is resent under the same client id (on a new connection if need be)
// until it is acknowledged, as SPEC §5 tells clients to.
func (ch *chatter) chatResending(ctx context.Context, t testing.TB, c *client, acks, refusals, cutoffs *atomic.Int64) error {
	defer func() { _ = c.conn.Close() }()
	for n := 0; ctx.Err() == nil; n++ {
		cid := fmt.Sprintf("m%d", n)
		for ctx.Err() == nil {
			code, err := ch.chat(c, cid)
			switch {
			case errors.Is(err, errConnClosed):
				cutoffs.Add(1)
				if c, err = ch.reconnect(ctx, t); err != nil {
					if ctx.Err() != nil {
						return nil // stopped while reconnecting
					}
					return err
				}
				continue
			case err != nil:
				return err
			case code == "unavailable":
				refusals.Add(1)
				pause(ctx, 50*time.Millisecond) // pacing while Redis is away
				continue
			case code != "":
				return fmt.Errorf("%s: %s answered %s", ch.user, cid, code)
			}
			acks.Add(1)
			break
		}
	}
	return nil
}

// reconnect dials until a connection is welcomed or ctx ends.
func (ch *chatter) reconnect(ctx context.Context, t testing.TB) (*client, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := ch.connect(t)
		if err == nil {
			ch.mu.Lock()
			ch.redials++
			ch.mu.Unlock()
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: cannot reconnect: %v", ch.user, err)
		}
		pause(ctx, 100*time.Millisecond)
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// TestLiveViewersMissNothingWhenTheFeedReconnects cuts one gateway's Redis
// connections while events keep being accepted elsewhere (as by another
// gateway pod), then lets it reconnect with its first catch-up reads
// failing, as they may on a flaky network or against a Redis client still
// backing off from the outage. A viewer connected throughout must still
// receive every event of the party, in stream order (SPEC §5).
func TestLiveViewersMissNothingWhenTheFeedReconnects(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts a gateway's Redis connections; skipped with -short")
	}
	r := testenv.StartRedis(t)
	s := newSystem(t, r.URL(), testenv.NewDatabase(t, store.Migrate))
	proxy := startRedisProxy(t, r.Addr())
	party := s.party("ONGOING", "host")
	addr, gw := s.gateway("REDIS_URL=redis://" + proxy.addr() + "/0")

	watcher := dial(t, addr, party, "watcher")
	watcher.nextOf("welcome", 5*time.Second)
	alice := newChatter(addr, party, "alice")
	c, err := alice.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := alice.chat(c, "before"); code != "" || err != nil {
		t.Fatalf("chat before the cut: %q %v", code, err)
	}
	first := watcher.nextOf("chat", 5*time.Second)
	if first.Text != chatText("alice", "before") {
		t.Fatalf("watcher got %s, want alice's first chat", first.Raw)
	}

	// While the gateway is cut off, 20 chats are accepted by the write path
	// every gateway uses.
	proxy.setDown(true)
	app := stream.NewAppender(s.rdb, stream.AppenderConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { _ = app.Run(ctx) })
	var gap []string
	for n := range 20 {
		e := event.Event{Type: event.Chat, ID: event.NewID(uuid.MustParse(party), "bob", ""), PartyID: uuid.MustParse(party),
			UserID: "bob", CreatedAt: event.Millis(time.Now()), Text: fmt.Sprintf("bob's chat %d during the cut", n)}
		if res, err := app.Append(ctx, e, false); err != nil || res.Status != stream.Stored {
			t.Fatalf("append: %v %v", res, err)
		}
		gap = append(gap, e.Text)
	}
	cancel()
	run.Wait()

	// The gateway reconnects; its XRANGE reads fail for two seconds.
	proxy.failXRange(2 * time.Second)
	proxy.setDown(false)
	eventually(t, 10*time.Second, "the fault window to pass", func() bool { return proxy.faultOver() })
	gw.WaitHTTP(t, "http://"+addr+"/readyz", 10*time.Second)
	t.Logf("%d XRANGE reads failed during the fault window", proxy.failed.Load())
	for deadline := time.Now().Add(15 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatal("alice's chat after the cut was never acknowledged")
		}
		code, err := alice.chat(c, "after")
		if errors.Is(err, errConnClosed) {
			if c, err = alice.connect(t); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil || (code != "" && code != "unavailable") {
			t.Fatalf("chat after the cut: %q %v", code, err)
		}
		if code == "" {
			break
		}
		pause(context.Background(), 50*time.Millisecond) // pacing the resends
	}

	got := chatsUntil(t, watcher, addr, party, first.StreamID, chatText("alice", "after"))
	if diff := cmp.Diff(gap, got); diff != "" {
		t.Fatalf("chats the watcher got between alice's two (-accepted +received):\n%s\n%d XRANGE reads failed; gateway log:\n%s",
			diff, proxy.failed.Load(), strings.Join(gw.Lines(`"component":"feed"`), "\n"))
	}
}

// redisProxy forwards TCP connections to a Redis server and can cut them,
// refuse new ones, and fail XRANGE commands for a while by closing the
// connection that sends one.
type redisProxy struct {
	ln     net.Listener
	target string
	failed atomic.Int32 // XRANGE commands failed

	mu         sync.Mutex
	down       bool
	conns      map[net.Conn]bool
	xrangeTill time.Time
}

func startRedisProxy(t testing.TB, target string) *redisProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &redisProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
		wg.Wait()
	})
	return p
}

func (p *redisProxy) addr() string { return p.ln.Addr().String() }

// setDown cuts every connection and refuses new ones, or lets them in again.
func (p *redisProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

// failXRange fails every XRANGE command sent within d from now.
func (p *redisProxy) failXRange(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.xrangeTill = time.Now().Add(d)
}

func (p *redisProxy) faultOver() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().After(p.xrangeTill)
}

// track registers c, or closes it and reports false while the proxy is down.
func (p *redisProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *redisProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *redisProxy) failing(chunk []byte) bool {
	if !bytes.Contains(bytes.ToLower(chunk), []byte("\r\nxrange\r\n")) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Before(p.xrangeTill)
}

func (p *redisProxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		p.untrack(client)
		if server != nil {
			_ = server.Close()
		}
		return
	}
	defer p.untrack(client, server)
	go func() {
		_, _ = io.Copy(client, server)
		p.untrack(client, server)
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && p.failing(buf[:n]) {
			p.failed.Add(1)
			return
		}
		if n > 0 {
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// chatsUntil returns the texts of the chats w receives before one with text
// last. w last saw stream id since; should the gateway close its
// connection, it reconnects with since (SPEC §5) and must be told it resumed.
func chatsUntil(t testing.TB, w *client, addr, party, since, last string) []string {
	t.Helper()
	var got []string
	user := w.user
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case f, ok := <-w.frames:
			switch {
			case !ok:
				var err error
				w, _, err = tryDial(t, wsURL(addr, party, url.Values{"user": {user}, "since": {since}}), nil)
				if err != nil {
					t.Fatalf("watcher could not reconnect: %v", err)
				}
				w.user = user
				if f := w.nextOf("welcome", 5*time.Second); f.Resumed == nil || !*f.Resumed {
					t.Fatalf("watcher reconnected with since=%s: %s, want resumed", since, f.Raw)
				}
			case f.Type != "chat":
			case f.Text == last:
				return got
			default:
				got, since = append(got, f.Text), f.StreamID
			}
		case <-time.After(time.Until(deadline)):
			t.Fatalf("watcher got no chat %q; it got %q", last, got)
		}
	}
}
