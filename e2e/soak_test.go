package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// TestSoakRecoveryUnderAbuse: viewers of two parties keep reconnecting with
// since while one gateway is stopped with SIGTERM, then SIGKILL, and Redis
// is restarted, and while abusers push every limit at once. At the end
// every well-behaved viewer has every chat of its party exactly once, in
// order; PostgreSQL holds exactly the acknowledged chats; and the gateway
// that stayed up is back within 20 % of its starting memory.
func TestSoakRecoveryUnderAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	r := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	s := newSystem(t, r.URL(), testenv.NewDatabase(t, store.Migrate))
	parties := []string{s.party("ONGOING", "host"), s.party("ONGOING", "host")}
	limits := soakLimits()
	debugPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	debug := "127.0.0.1:" + strconv.Itoa(debugPort)
	stable, stableProc := s.gateway(append(limits, "GATEWAY_DEBUG_ADDR="+debug)...)
	// liveHeap is the stable gateway's live heap: what is allocated right after a collection.
	liveHeap := func() float64 {
		resp, err := http.Get("http://" + debug + "/debug/pprof/heap?gc=1")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return scrapeMetric(t, stable, "go_memstats_heap_alloc_bytes", nil)
	}
	chaos := newRestartableGateway(t, s, limits)
	addrs := []string{stable, chaos.addr}
	s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms")

	// The memory baseline is taken once the gateway is warm: the same
	// population of clients (in a party of their own) has connected, sent,
	// resumed on it from the other gateway and left, so the Redis and
	// PostgreSQL connection pools, which grow with concurrency up to their
	// bounds, and the served files are in place; what grows after that is
	// kept per viewer or per event.
	abuseParty := s.party("ONGOING", "host")
	warm, warmed := context.WithTimeout(context.Background(), 4*time.Second)
	warmAbuse := startAbusers(warm, addrs, parties, abuseParty)
	var warming sync.WaitGroup
	for i := range 16 {
		v := &soakViewer{resumer: resumer{user: fmt.Sprintf("warm-watcher-%d", i), party: abuseParty, next: i}, addrs: addrs}
		warming.Go(func() { v.watch(t) })
		warming.Go(func() { <-warm.Done(); v.stop() })
	}
	for i := range 8 {
		ch := newChatter(addrs[i%2], abuseParty, fmt.Sprintf("warm-talker-%d", i))
		warming.Go(func() {
			if err := soakTalk(warm, t, ch, addrs, i); err != nil {
				t.Error(err)
			}
		})
	}
	// Viewers of a gateway that stops resume on the other one: catch-ups.
	pause(warm, 2*time.Second)
	chaos.restart(t)
	warming.Wait()
	warmAbuse.wg.Wait()
	warmed()
	heapBase := liveHeap()
	redisBase := redisMemory(t, s)
	rssBase := rssKiB(stableProc.Pid())
	grBase := scrapeMetric(t, stable, "go_goroutines", nil)

	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var viewers []*soakViewer
	for i := range 16 {
		v := &soakViewer{resumer: resumer{user: fmt.Sprintf("watcher-%d", i), party: parties[i%2], next: i}, addrs: addrs}
		viewers = append(viewers, v)
	}
	var watching sync.WaitGroup
	for _, v := range viewers {
		watching.Go(func() { v.watch(t) })
	}
	eventually(t, 20*time.Second, "every watcher welcomed", func() bool {
		for _, v := range viewers {
			if !v.welcomed.Load() {
				return false
			}
		}
		return true
	})

	var talkers []*chatter
	var talking sync.WaitGroup
	talkErrs := make(chan error, 8)
	for i := range 8 {
		ch := newChatter(addrs[i%2], parties[i%2], fmt.Sprintf("talker-%d", i))
		talkers = append(talkers, ch)
		talking.Go(func() { talkErrs <- soakTalk(ctx, t, ch, addrs, i) })
	}
	abuse := startAbusers(ctx, addrs, parties, abuseParty)

	step := func(what string, d time.Duration) {
		t.Log(what)
		pause(ctx, d)
	}
	step("load running", 4*time.Second)
	chaos.restart(t)
	step("gateway stopped with SIGTERM and started again", 4*time.Second)
	chaos.proc.Kill()
	chaos.start(t)
	step("gateway killed with SIGKILL and started again", 4*time.Second)
	r.Kill()
	pause(ctx, time.Second)
	r.Restart(t)
	step("Redis killed and started again", 6*time.Second)
	stopLoad()
	talking.Wait()
	close(talkErrs)
	for err := range talkErrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	abuse.wait(t)

	// Every watcher converges on its party's whole chat sequence.
	want := map[string][]string{}
	for _, p := range parties {
		want[p] = streamChats(t, s, p)
	}
	for _, v := range viewers {
		eventually(t, 60*time.Second, v.user+" to receive every chat of its party", func() bool {
			return len(v.chats()) >= len(want[v.party])
		})
	}
	for _, v := range viewers {
		v.stop()
	}
	watching.Wait()
	reconnects := 0
	for _, v := range viewers {
		if got := v.chats(); !slices.Equal(got, want[v.party]) {
			t.Fatalf("%s received %d chats, the party has %d; first difference at %d", v.user, len(got),
				len(want[v.party]), firstDiff(got, want[v.party]))
		}
		reconnects += int(v.reconnects.Load())
	}

	// PostgreSQL holds exactly what was acknowledged.
	acked := 0
	for _, p := range parties {
		eventually(t, 60*time.Second, "the flusher to flush party "+p, func() bool {
			n, err := stream.NewConsumer(s.rdb, "probe").Backlog(context.Background(), uuid.MustParse(p))
			return err == nil && n == 0 && pendingCount(t, s, p) == 0
		})
		var mine []*chatter
		for _, ch := range talkers {
			if ch.party.String() == p {
				mine = append(mine, ch)
			}
		}
		a, stored := checkChatters(t, s, p, mine)
		if stored != a {
			t.Fatalf("party %s: %d chats stored, %d acknowledged", p, stored, a)
		}
		acked += a
	}

	// The gateway that stayed up gives its memory back once viewers left.
	// What the gateway gives back it gives back over a few collections:
	// sync.Pool keeps one collection's worth in its victim cache, closed
	// sockets linger a moment, and limiter entries and timers expire.
	// So the end is the smallest live heap seen within a deadline.
	// The bound is 20 % of the warm heap, or 2 MiB on a heap that small:
	// since the abusers also flood REST moderation and history reads,
	// the end has measured 1.2 to 1.4 MiB above a warm heap of 5.7 to
	// 6.2 MiB.
	bound := max(heapBase*1.2, heapBase+2<<20)
	heapEnd := liveHeap()
	for deadline := time.Now().Add(15 * time.Second); heapEnd > bound && time.Now().Before(deadline); {
		pause(context.Background(), 500*time.Millisecond) // between collections, not a synchronisation
		heapEnd = min(heapEnd, liveHeap())
	}
	t.Logf("%d chats acknowledged and stored, %d watcher reconnects, abusers refused: %s", acked, reconnects, abuse.summary())
	t.Logf("stable gateway after a collection: live heap %.1f MiB at start, %.1f MiB at the end; "+
		"goroutines %v, then %v; RSS %d MiB, then %d MiB", heapBase/(1<<20), heapEnd/(1<<20),
		grBase, scrapeMetric(t, stable, "go_goroutines", nil), rssBase>>10, rssKiB(stableProc.Pid())>>10)
	if heapEnd > bound {
		t.Errorf("the stable gateway's heap grew from %.1f to %.1f MiB: more than 20%% or 2 MiB", heapBase/(1<<20), heapEnd/(1<<20))
	}

	// Redis keeps what the parties need, not what the abusers sent: the
	// streams are flushed and trimmed, rate buckets expire, and deletes
	// hide at most the cap.
	deleted, err := s.rdb.SCard(context.Background(), rdb.KeysFor(uuid.MustParse(abuseParty)).Deleted).Result()
	if err != nil {
		t.Fatal(err)
	}
	if deleted > soakMaxDeleted {
		t.Errorf("the abuse party's deletes hide %d chats; the cap is %d", deleted, soakMaxDeleted)
	}
	redisEnd := redisMemory(t, s)
	t.Logf("Redis used_memory %.1f MiB after warm-up, %.1f MiB at the end", float64(redisBase)/(1<<20), float64(redisEnd)/(1<<20))
	if redisEnd > redisBase+16<<20 {
		t.Errorf("Redis memory grew from %.1f to %.1f MiB: more than 16 MiB", float64(redisBase)/(1<<20), float64(redisEnd)/(1<<20))
	}
}

// soakLimits are the gateways' abuse limits during the soak: the default
// message rates, and join and connection limits tighter than the defaults
// so that a handful of abusers reach them; the well-behaved clients stay
// within all of them.
func soakLimits() []string {
	return []string{"WATCH_PARTY_CHAT_RATE=5", "WATCH_PARTY_CHAT_BURST=10",
		"WATCH_PARTY_LIKE_RATE=10", "WATCH_PARTY_LIKE_BURST=10",
		"WATCH_PARTY_PLAYBACK_RATE=10", "WATCH_PARTY_PLAYBACK_BURST=20",
		"WATCH_PARTY_JOIN_RATE=2", "WATCH_PARTY_JOIN_BURST=8", "WATCH_PARTY_MAX_CONNS_PER_USER=4",
		"WATCH_PARTY_MODERATION_RATE=2", "WATCH_PARTY_MODERATION_BURST=20", "WATCH_PARTY_HISTORY_RATE=2",
		"WATCH_PARTY_HISTORY_BURST=10", "WATCH_PARTY_MAX_DELETED_PER_PARTY=" + strconv.Itoa(soakMaxDeleted)}
}

// soakMaxDeleted is the soak's cap on the chats one party's deletes hide,
// low enough for the abusers to reach it.
const soakMaxDeleted = 40

// redisMemory is Redis's used_memory in bytes.
func redisMemory(t *testing.T, s *system) int64 {
	t.Helper()
	info, err := s.rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no used_memory in INFO memory")
	return 0
}

// restartableGateway is a gateway process that can be stopped and started
// again on the same address.
type restartableGateway struct {
	s     *system
	addr  string
	extra []string
	proc  *testenv.Proc
}

func newRestartableGateway(t *testing.T, s *system, extra []string) *restartableGateway {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	g := &restartableGateway{s: s, addr: "127.0.0.1:" + strconv.Itoa(port), extra: extra}
	g.start(t)
	return g
}

// restart stops the gateway with SIGTERM, checks it exited cleanly, and
// starts it again.
func (g *restartableGateway) restart(t *testing.T) {
	g.proc.Signal(syscall.SIGTERM)
	if code, err := g.proc.Wait(15 * time.Second); err != nil || code != 0 {
		t.Fatalf("gateway after SIGTERM: exit %d, %v", code, err)
	}
	g.start(t)
}

func (g *restartableGateway) start(t *testing.T) {
	env := g.s.env(append([]string{"GATEWAY_ADDR=" + g.addr, "WATCH_PARTY_DEV_AUTH=true"}, g.extra...)...)
	g.proc = g.s.start("gateway", env)
	g.proc.WaitHTTP(t, "http://"+g.addr+"/readyz", 30*time.Second)
}

// resumer is what a watching viewer keeps across its connections: the
// stream ids of the chats it received, its connection, whether it was
// stopped.
type resumer struct {
	user, party string
	next        int // the gateway of the next dial, counting round

	mu      sync.Mutex
	got     []string
	conn    *websocket.Conn
	stopped bool
}

func (r *resumer) chats() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *resumer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.conn != nil {
		_ = r.conn.Close()
	}
}

// dial connects to addr, resuming with since after the last chat
// received. A failed dial returns no connection after a backoff that
// grows with attempt; done says the viewer was stopped.
func (r *resumer) dial(ctx context.Context, addr string, attempt int) (conn *websocket.Conn, since string, done bool) {
	r.mu.Lock()
	q := url.Values{"user": {r.user}}
	if n := len(r.got); n > 0 {
		q.Set("since", r.got[n-1])
	}
	done = r.stopped
	r.mu.Unlock()
	if done {
		return nil, "", true
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL(addr, r.party, q), nil)
	if err != nil {
		pause(ctx, time.Duration(min(attempt, 10))*50*time.Millisecond) // backoff between dials
		return nil, "", ctx.Err() != nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conn = conn
	if r.stopped {
		_ = conn.Close()
		return nil, "", true
	}
	return conn, q.Get("since"), false
}

// soakViewer only watches: it records the stream id of every chat it is
// sent, and reconnects with since to whichever gateway answers whenever its
// connection ends.
type soakViewer struct {
	resumer
	addrs []string

	welcomed   atomic.Bool
	reconnects atomic.Int32
}

func (v *soakViewer) watch(t *testing.T) {
	for attempt := 0; ; attempt++ {
		conn, since, done := v.dial(context.Background(), v.addrs[v.next%len(v.addrs)], attempt)
		v.next++
		if done {
			return
		}
		if conn == nil {
			continue
		}
		attempt = 0
		v.read(t, conn, since)
		v.reconnects.Add(1)
	}
}

// read records chats until the connection ends. A resume must not report
// lost events: nothing is trimmed during the soak.
func (v *soakViewer) read(t *testing.T, conn *websocket.Conn, since string) {
	defer conn.Close()
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return
		}
		f := decodeFrame(b)
		switch f.Type {
		case "welcome":
			if since != "" && (f.Resumed == nil || !*f.Resumed) {
				t.Errorf("%s resumed after %s: %s", v.user, since, f.Raw)
			}
			v.welcomed.Store(true)
		case "chat":
			v.mu.Lock()
			v.got = append(v.got, f.StreamID)
			v.mu.Unlock()
		}
	}
}

// soakTalk chats at about 4 a second (under the chat limit) until ctx ends,
// moving to the other gateway when its connection drops; a chat answered
// unavailable or cut off is resent under the same id until it is
// acknowledged, including the one in flight when ctx ends.
func soakTalk(ctx context.Context, t *testing.T, ch *chatter, addrs []string, i int) error {
	c, err := ch.reconnect(context.Background(), t)
	if err != nil {
		return err
	}
	defer func() { _ = c.conn.Close() }()
	for n := 0; ctx.Err() == nil; n++ {
		cid := fmt.Sprintf("m%d", n)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %s never acknowledged", ch.user, cid)
			}
			code, err := ch.chat(c, cid)
			switch {
			case errors.Is(err, errConnClosed):
				i++
				ch.addr = addrs[i%len(addrs)]
				if c, err = ch.reconnect(context.Background(), t); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			case code == "unavailable":
				time.Sleep(100 * time.Millisecond) // pacing while Redis is away
				continue
			case code != "":
				return fmt.Errorf("%s: %s answered %s", ch.user, cid, code)
			}
			break
		}
		pause(ctx, 250*time.Millisecond)
	}
	return nil
}

// streamChats returns the stream ids of every chat in party's stream, in
// order, reading it in pages.
func streamChats(t *testing.T, s *system, party string) []string {
	t.Helper()
	var ids []string
	cursor := "0-0"
	for {
		page, err := stream.ReadAfter(context.Background(), s.rdb, stream.KeysFor(uuid.MustParse(party)), cursor, stream.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range page.Entries {
			if en.Err == nil && en.Event.Type == event.Chat {
				ids = append(ids, en.ID)
			}
		}
		if len(page.Entries) < stream.MaxPage {
			return ids
		}
		cursor = page.Last()
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func decodeFrame(b []byte) frame {
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		f = frame{Type: "undecodable"}
	}
	f.Raw = string(b)
	return f
}

// abusers push the gateways' limits while the soak runs, and count the
// refusals they get.
type abusers struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	refused map[string]int // answer -> count
	errs    []error
}

func (a *abusers) note(answer string) {
	a.mu.Lock()
	a.refused[answer]++
	a.mu.Unlock()
}

func (a *abusers) fail(err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.mu.Unlock()
}

func (a *abusers) summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprint(a.refused)
}

// wait waits for the abusers and fails the test unless each kind of abuse
// was refused.
func (a *abusers) wait(t *testing.T) {
	t.Helper()
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, err := range a.errs {
		t.Error(err)
	}
	for _, want := range []string{"rate_limited:chat", "rate_limited:like", "rate_limited:seek", "forbidden",
		"invalid_message", "close:1009", "http:429", "rate_limited:moderation", "rate_limited:deletes",
		"rest-moderation:403", "rest-moderation:429", "history:429", "history-banned:403"} {
		if a.refused[want] == 0 {
			t.Errorf("abusers were never refused with %s: %v", want, a.refused)
		}
	}
}

// startAbusers floods chats and likes past their limits in a party of
// their own (what fits in the limits is stored there, unchecked), and sends the watched parties what must be refused: playback
// from a viewer who is not the host, malformed frames and oversized ones.
// None of it may disturb the well-behaved viewers.
func startAbusers(ctx context.Context, addrs, watched []string, own string) *abusers {
	a := &abusers{refused: map[string]int{}}
	flood := func(user, addr, party string, frames func(n int) []byte) {
		a.wg.Go(func() {
			for ctx.Err() == nil {
				conn, _, err := websocket.DefaultDialer.Dial(wsURL(addr, party, url.Values{"user": {user}}), nil)
				if err != nil {
					pause(ctx, 100*time.Millisecond)
					continue
				}
				a.abuse(ctx, conn, frames)
			}
		})
	}
	for i, addr := range addrs {
		party := watched[i%len(watched)]
		flood(fmt.Sprintf("flooder-%d", i), addr, own, func(n int) []byte {
			if n%2 == 0 {
				return []byte(`{"type":"like"}`)
			}
			return fmt.Appendf(nil, `{"type":"chat","text":"flood %d"}`, n)
		})
		// The party's host may seek, but not a hundred times a second.
		flood("host", addr, own, func(n int) []byte {
			return fmt.Appendf(nil, `{"type":"seek","position_ms":%d}`, n)
		})
		// Connections past the per-user cap and joins past the join rate.
		a.wg.Go(func() { a.hoard(ctx, addr, party, fmt.Sprintf("hoarder-%d", i)) })
		flood(fmt.Sprintf("usurper-%d", i), addr, party, func(n int) []byte {
			switch n % 4 {
			case 0:
				return []byte(`{"type":"seek","position_ms":1000}`)
			case 1:
				return []byte(`{"type":"chat","text":`)
			case 2:
				return []byte(`{"type":"pause","position_ms":-5}`)
			default:
				return []byte(`{"type":"chat","text":"` + string(make([]byte, 5000)) + `"}`)
			}
		})
		// Moderation: a viewer's refused kicks, the host's deletes past
		// the cap, both past the moderation rate.
		flood(fmt.Sprintf("vigilante-%d", i), addr, party, func(n int) []byte {
			return fmt.Appendf(nil, `{"type":"kick","target_user_id":"watcher-%d"}`, n%16)
		})
		flood("host", addr, own, func(int) []byte {
			return fmt.Appendf(nil, `{"type":"delete","target_event_id":%q}`, uuid.NewString())
		})
		// Over REST: a stranger's moderation, and history reads.
		a.wg.Go(func() {
			a.rest(ctx, "rest-moderation", "POST", "http://"+addr+"/api/parties/"+party+"/moderation?user=stranger-"+strconv.Itoa(i),
				`{"type":"ban","target_user_id":"watcher-0"}`)
		})
		a.wg.Go(func() {
			a.rest(ctx, "history", "GET", "http://"+addr+"/api/parties/"+party+"/chats?limit=100&user=reader-"+strconv.Itoa(i), "")
		})
	}
	// A banned user's history reads are refused.
	a.wg.Go(func() {
		ban := "http://" + addrs[0] + "/api/parties/" + own + "/moderation?user=host"
		for ctx.Err() == nil {
			resp, err := http.Post(ban, "application/json", strings.NewReader(`{"type":"ban","target_user_id":"banned-reader"}`))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			pause(ctx, 100*time.Millisecond) // the host's moderation bucket refills
		}
		a.rest(ctx, "history-banned", "GET", "http://"+addrs[0]+"/api/parties/"+own+"/chats?user=banned-reader", "")
	})
	return a
}

// rest sends the request again and again until ctx ends, noting each
// answer's status as "<what>:<status>"; it pauses briefly every 50.
func (a *abusers) rest(ctx context.Context, what, method, url, body string) {
	for n := 0; ctx.Err() == nil; n++ {
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			a.fail(err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pause(ctx, 50*time.Millisecond) // the gateway is restarting
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		a.note(what + ":" + strconv.Itoa(resp.StatusCode))
		if n%50 == 49 {
			pause(ctx, 20*time.Millisecond) // bursts, not a busy loop
		}
	}
}

// hoard opens connections as one user until they are refused, holds them
// a moment, and starts again, until ctx ends.
func (a *abusers) hoard(ctx context.Context, addr, party, user string) {
	for ctx.Err() == nil {
		var held []*websocket.Conn
		for range 20 {
			conn, resp, err := websocket.DefaultDialer.Dial(wsURL(addr, party, url.Values{"user": {user}}), nil)
			if err != nil {
				if resp != nil {
					a.note("http:" + strconv.Itoa(resp.StatusCode))
				}
				continue
			}
			held = append(held, conn)
		}
		pause(ctx, 300*time.Millisecond)
		for _, c := range held {
			_ = c.Close()
		}
	}
}

// abuse sends frames on conn as fast as it can and notes the answers,
// until the connection closes or ctx ends.
func (a *abusers) abuse(ctx context.Context, conn *websocket.Conn, frames func(n int) []byte) {
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					a.note("close:" + strconv.Itoa(ce.Code))
				}
				return
			}
			f := decodeFrame(b)
			if f.Type == "error" {
				kind := f.Code
				if f.Code == "rate_limited" {
					kind += ":" + rateKind(f.Raw)
				}
				a.note(kind)
			}
		}
	}()
	for n := 0; ctx.Err() == nil; n++ {
		if err := conn.WriteMessage(websocket.TextMessage, frames(n)); err != nil {
			break
		}
		select {
		case <-done:
			return
		default:
		}
		if n%50 == 49 {
			pause(ctx, 20*time.Millisecond) // bursts, not a busy loop
		}
	}
	_ = conn.Close()
	<-done
}

// rateKind tells which limit a rate_limited error frame is about.
func rateKind(raw string) string {
	for _, k := range []string{"moderation", "deletes", "chat", "like", "play", "pause", "seek"} {
		if strings.Contains(raw, k) {
			return k
		}
	}
	return "other"
}
