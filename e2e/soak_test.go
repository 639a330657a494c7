package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/watchparty/watchparty/pkg/event"
	"github.com/watchparty/watchparty/pkg/store"
	"github.com/watchparty/watchparty/pkg/stream"
	"github.com/watchparty/watchparty/pkg/testenv"
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
	stable, stableProc := s.gateway(limits...)
	chaos := newRestartableGateway(t, s, limits)
	addrs := []string{stable, chaos.addr}
	s.flusher("WATCH_PARTY_FLUSH_INTERVAL=200ms")

	heapBase := scrapeMetric(t, stable, "go_memstats_heap_inuse_bytes", nil)
	rssBase := rssKiB(stableProc.Pid())

	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var viewers []*soakViewer
	for i := range 16 {
		v := &soakViewer{user: fmt.Sprintf("watcher-%d", i), party: parties[i%2], addrs: addrs, next: i}
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
	abuse := startAbusers(ctx, addrs, parties, s.party("ONGOING", "host"))

	step := func(what string, d time.Duration) {
		t.Log(what)
		pause(ctx, d)
	}
	step("load running", 4*time.Second)
	chaos.proc.Signal(syscall.SIGTERM)
	if code, err := chaos.proc.Wait(15 * time.Second); err != nil || code != 0 {
		t.Fatalf("gateway after SIGTERM: exit %d, %v", code, err)
	}
	chaos.start(t)
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
	heapLimit := heapBase * 1.2
	eventually(t, 60*time.Second, "the stable gateway's heap back within 20% of its start", func() bool {
		return scrapeMetric(t, stable, "go_memstats_heap_inuse_bytes", nil) <= heapLimit
	})
	t.Logf("%d chats acknowledged and stored, %d watcher reconnects, abusers refused: %s; "+
		"stable gateway heap %.1f MiB at start, %.1f MiB at the end; RSS %d MiB at start, %d MiB at the end",
		acked, reconnects, abuse.summary(), heapBase/(1<<20),
		scrapeMetric(t, stable, "go_memstats_heap_inuse_bytes", nil)/(1<<20), rssBase>>10, rssKiB(stableProc.Pid())>>10)
}

// soakLimits are the gateways' abuse limits during the soak: the defaults,
// which the well-behaved clients stay within.
func soakLimits() []string {
	return []string{"WATCH_PARTY_CHAT_RATE=5", "WATCH_PARTY_CHAT_BURST=10",
		"WATCH_PARTY_LIKE_RATE=10", "WATCH_PARTY_LIKE_BURST=10"}
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

func (g *restartableGateway) start(t *testing.T) {
	env := g.s.env(append([]string{"GATEWAY_ADDR=" + g.addr, "WATCH_PARTY_DEV_AUTH=true"}, g.extra...)...)
	g.proc = testenv.StartProc(t, "gateway", env)
	g.proc.WaitHTTP(t, "http://"+g.addr+"/readyz", 30*time.Second)
}

// soakViewer only watches: it records the stream id of every chat it is
// sent, and reconnects with since to whichever gateway answers whenever its
// connection ends.
type soakViewer struct {
	user, party string
	addrs       []string
	next        int

	welcomed   atomic.Bool
	reconnects atomic.Int32
	mu         sync.Mutex
	got        []string
	conn       *websocket.Conn
	stopped    bool
}

func (v *soakViewer) chats() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.got)
}

func (v *soakViewer) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopped = true
	if v.conn != nil {
		_ = v.conn.Close()
	}
}

func (v *soakViewer) watch(t *testing.T) {
	for attempt := 0; ; attempt++ {
		v.mu.Lock()
		if v.stopped {
			v.mu.Unlock()
			return
		}
		q := url.Values{"user": {v.user}}
		if n := len(v.got); n > 0 {
			q.Set("since", v.got[n-1])
		}
		v.mu.Unlock()
		addr := v.addrs[v.next%len(v.addrs)]
		v.next++
		conn, _, err := websocket.DefaultDialer.Dial(wsURL(addr, v.party, q), nil)
		if err != nil {
			time.Sleep(time.Duration(min(attempt, 10)) * 50 * time.Millisecond) // backoff between dials
			continue
		}
		attempt = 0
		v.mu.Lock()
		v.conn = conn
		stopped := v.stopped
		v.mu.Unlock()
		if stopped {
			_ = conn.Close()
			return
		}
		v.read(t, conn, q.Get("since"))
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
	for _, want := range []string{"rate_limited:chat", "rate_limited:like", "forbidden", "invalid_message", "close:1009"} {
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
	}
	return a
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
	for _, k := range []string{"chat", "like", "play", "pause", "seek"} {
		if strings.Contains(raw, k) {
			return k
		}
	}
	return "other"
}
