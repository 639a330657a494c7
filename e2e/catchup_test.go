package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/event"
)

// TestResumeAfterLongGap: a viewer that missed 50,000 events reconnects
// with since and receives every one of them, in order and once, then the
// live ones, without being called slow; the gateway's memory stays bounded
// and no Redis read asks for more than 1,000 entries.
func TestResumeAfterLongGap(t *testing.T) {
	s := sharedSystem(t)
	gw, proc := s.gateway()
	party := s.party("ONGOING", "host")
	talker := dial(t, gw, party, "talker")
	talker.nextOf("welcome", 5*time.Second)
	v := dial(t, gw, party, "v")
	v.nextOf("welcome", 5*time.Second)
	talker.send(map[string]any{"type": "chat", "text": "seen"})
	last := v.nextOf("chat", 5*time.Second).StreamID
	_ = v.conn.Close()

	const missed = 50000
	want := addChatEntries(t, s.rdb, party, missed)

	reads := watchStreamReads(t, s.redisURL, party)
	baseRSS := rssKiB(proc.Pid())
	peakRSS := atomic.Int64{}
	stopRSS := sampleRSS(t, proc.Pid(), &peakRSS)

	back, _, err := tryDial(t, wsURL(gw, party, url.Values{"user": {"v"}, "since": {last}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	back.user = "v"
	if w := back.nextOf("welcome", 10*time.Second); w.Resumed == nil || !*w.Resumed {
		t.Fatalf("welcome %s, want resumed=true", w.Raw)
	}
	// Live chats while the viewer catches up: each must come once, in order.
	const live = 200
	var sent sync.WaitGroup
	sent.Go(func() {
		for i := range live {
			talker.send(map[string]any{"type": "chat", "text": fmt.Sprintf("live %d", i)})
		}
	})
	got := make([]string, 0, missed+live)
	deadline := time.Now().Add(90 * time.Second)
	for len(got) < missed+live {
		f := back.next(time.Until(deadline))
		if f.Type == "chat" {
			got = append(got, f.StreamID)
		}
	}
	sent.Wait()
	stopRSS()
	for i, id := range want {
		if got[i] != id {
			t.Fatalf("missed event %d: got stream id %s, want %s", i, got[i], id)
		}
	}
	for i := missed + 1; i < len(got); i++ {
		if !idLess(got[i-1], got[i]) {
			t.Fatalf("live events out of order or repeated: %s then %s", got[i-1], got[i])
		}
	}
	// After the live burst, one more chat arrives exactly once.
	talker.send(map[string]any{"type": "chat", "text": "after"})
	if f := back.nextOf("chat", 5*time.Second); f.Text != "after" {
		t.Fatalf("after the catch-up got %s, want the chat 'after'", f.Raw)
	}
	if grew := peakRSS.Load() - baseRSS; grew > 64<<10 {
		t.Errorf("gateway RSS grew by %d MiB during the catch-up, want < 64 MiB", grew>>10)
	}
	t.Logf("gateway RSS %d MiB before, peak %d MiB during the catch-up", baseRSS>>10, peakRSS.Load()>>10)
	if n, biggest := reads(); n == 0 || biggest > 1000 {
		t.Errorf("%d stream reads seen, the biggest asked for %d entries; want reads of at most 1,000", n, biggest)
	}
	if n := scrapeMetric(t, gw, "watch_party_slow_consumers_total", nil); n != 0 {
		t.Errorf("slow consumers = %v, want 0: catching up is not being slow", n)
	}
}

// TestFailedCatchUpClosesInsteadOfSkipping: when the catch-up cannot read
// the stream the viewer is closed with 1013 before any live event, so it
// reconnects with the same since; once Redis reads work again it gets
// every missed event.
func TestFailedCatchUpClosesInsteadOfSkipping(t *testing.T) {
	if testing.Short() {
		t.Skip("breaks a gateway's Redis reads; skipped with -short")
	}
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	talker := dial(t, gw, party, "talker")
	talker.nextOf("welcome", 5*time.Second)
	talker.send(map[string]any{"type": "chat", "text": "seen"})
	last := talker.nextOf("ack", 5*time.Second).StreamID
	want := addChatEntries(t, s.rdb, party, 10)

	// XRANGE is refused to every client of this Redis from now on.
	ctx := context.Background()
	if err := s.rdb.Do(ctx, "ACL", "SETUSER", "default", "-xrange").Err(); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := s.rdb.Do(ctx, "ACL", "SETUSER", "default", "+xrange").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(restore)

	c, _, err := tryDial(t, wsURL(gw, party, url.Values{"user": {"v"}, "since": {last}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.user = "v"
	c.nextOf("welcome", 5*time.Second)
	talker.send(map[string]any{"type": "chat", "text": "live"})
	done := make(chan int, 1)
	go func() { done <- c.closeCodeNoChat() }()
	select {
	case code := <-done:
		if code != 1013 {
			t.Fatalf("close code %d, want 1013", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("viewer neither caught up nor was closed")
	}
	restore()

	back, _, err := tryDial(t, wsURL(gw, party, url.Values{"user": {"v"}, "since": {last}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	back.user = "v"
	back.nextOf("welcome", 5*time.Second)
	for _, id := range want {
		if f := back.nextOf("chat", 5*time.Second); f.StreamID != id {
			t.Fatalf("after the retry got %s, want stream id %s", f.Raw, id)
		}
	}
	if f := back.nextOf("chat", 5*time.Second); f.Text != "live" {
		t.Fatalf("got %s, want the live chat", f.Raw)
	}
}

// closeCodeNoChat waits for the close code, failing the test if a chat
// frame arrives first (it would be delivered after a gap).
func (c *client) closeCodeNoChat() int {
	for f := range c.frames {
		if f.Type == "chat" {
			c.t.Errorf("%s: got %s after a failed catch-up: a gap", c.user, f.Raw)
		}
	}
	var ce *websocket.CloseError
	if asCloseError(c.err(), &ce) {
		return ce.Code
	}
	c.t.Errorf("%s: closed without a close frame: %v", c.user, c.err())
	return 0
}

// addChatEntries appends n chats to the party's stream directly (as the
// gateway would store them, without announcing them) and returns their
// stream ids.
func addChatEntries(t *testing.T, rdb *redis.Client, party string, n int) []string {
	t.Helper()
	ctx := context.Background()
	pid := uuid.MustParse(party)
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 1000 {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, 0, 1000)
		for i := start; i < min(n, start+1000); i++ {
			payload, err := event.Encode(event.Event{Type: event.Chat, ID: uuid.New(), PartyID: pid,
				UserID: "filler", CreatedAt: time.Now(), Text: fmt.Sprintf("missed %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, pipe.XAdd(ctx, &redis.XAddArgs{Stream: streamKey(party), Values: []any{"e", payload}}))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			ids = append(ids, c.Val())
		}
	}
	return ids
}

// watchStreamReads runs MONITOR on the server of redisURL and returns a
// function reporting how many range reads of party's stream it saw and the
// largest COUNT one asked for (a read without COUNT counts as unbounded).
func watchStreamReads(t *testing.T, redisURL, party string) func() (int, int) {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", opt.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("MONITOR: %q %v", line, err)
	}
	var mu sync.Mutex
	reads, biggest := 0, 0
	go func() {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if !strings.Contains(line, streamKey(party)) {
				continue
			}
			upper := strings.ToUpper(line)
			if !strings.Contains(upper, `"XRANGE"`) && !strings.Contains(upper, `"XREVRANGE"`) {
				continue
			}
			n := 1 << 30
			if i := strings.Index(upper, `"COUNT" "`); i >= 0 {
				n, _ = strconv.Atoi(strings.Trim(strings.Fields(upper[i+len(`"COUNT" `):])[0], `"`))
			}
			mu.Lock()
			reads++
			biggest = max(biggest, n)
			mu.Unlock()
		}
	}()
	return func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return reads, biggest
	}
}

// rssKiB is the resident set size of process pid, or 0 when it cannot be read.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}

// sampleRSS records the peak RSS of pid every 20 ms until the returned
// function is called.
func sampleRSS(t *testing.T, pid int, peak *atomic.Int64) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			peak.Store(max(peak.Load(), rssKiB(pid)))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(stop); wg.Wait() }
}

// idLess reports whether stream id a comes before b.
func idLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if x != y {
		return x < y
	}
	p, _ := strconv.ParseUint(as, 10, 64)
	q, _ := strconv.ParseUint(bs, 10, 64)
	return p < q
}
