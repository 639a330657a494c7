package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// Shape of TestScaleOut: 2,000 viewers over 20 parties, one of them with
// 1,000, on 4 gateways and 2 flushers.
const (
	scaleGateways   = 4
	scaleParties    = 20
	scaleBigParty   = 1000 // viewers of the first party
	scaleViewers    = 2000 // viewers in all
	scaleTalkPeriod = 400 * time.Millisecond
)

// TestScaleOut runs 4 gateway processes and 2 flushers on one Redis and on
// a 3-master Redis Cluster, with 2,000 viewers over 20 parties (one party
// of 1,000). Each party's host chats and seeks, each viewer likes its
// party once. Midway one gateway is stopped with SIGTERM, so its viewers
// resume on the others with since, and one flusher is killed with
// SIGKILL. In the end every viewer's chats, joined across its
// connections, are its party's whole chat sequence, with no gap and no
// repeat, and PostgreSQL holds exactly the acknowledged chats, seeks and
// likes. It logs events/s, deliveries/s and the p99 delivery latency.
//
// The servers are built without the race detector (this test's own code
// keeps it): 2,000 race-checked sockets are more than two cores carry.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	t.Run("single_redis", func(t *testing.T) {
		r := testenv.StartRedis(t)
		s := newSystem(t, r.URL(), testenv.NewDatabase(t, store.Migrate))
		runScaleOut(t, s)
	})
	t.Run("redis_cluster", func(t *testing.T) {
		seeds := startCluster(t)
		s := newSystem(t, "redis://"+strings.Split(seeds, ",")[0], testenv.NewDatabase(t, store.Migrate))
		s.redisURL = seeds // the binaries take the seed list
		runScaleOut(t, s)
	})
}

func runScaleOut(t *testing.T, s *system) {
	s.fast = true
	limits := []string{"WATCH_PARTY_JOIN_RATE=0", "WATCH_PARTY_IP_JOIN_RATE=0", "WATCH_PARTY_MAX_CONNS_PER_IP=0",
		"WATCH_PARTY_MAX_CONNS=0", "LOG_LEVEL=warn"}
	gws := &liveGateways{}
	var procs []*testenv.Proc
	for range scaleGateways {
		addr, p := s.gateway(limits...)
		gws.addrs = append(gws.addrs, addr)
		procs = append(procs, p)
	}
	var flushers []*testenv.Proc
	for i := range 2 {
		_, p := s.flusher("WATCH_PARTY_CONSUMER_NAME=scale-"+strconv.Itoa(i), "WATCH_PARTY_FLUSH_INTERVAL=200ms",
			"WATCH_PARTY_CLAIM_MIN_IDLE=2s", "LOG_LEVEL=warn")
		flushers = append(flushers, p)
	}
	var parties []string
	for range scaleParties {
		parties = append(parties, s.party("ONGOING", "host"))
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	viewers := make([]*scaleViewer, scaleViewers)
	var watching sync.WaitGroup
	for i := range viewers {
		party := parties[0]
		if i >= scaleBigParty {
			party = parties[1+i%(scaleParties-1)]
		}
		v := &scaleViewer{resumer: resumer{user: "viewer-" + strconv.Itoa(i), party: party, next: i}}
		viewers[i] = v
		watching.Go(func() { v.watch(ctx, gws) })
	}
	eventually(t, 90*time.Second, "every viewer welcomed", func() bool {
		for _, v := range viewers {
			if v.err() != nil {
				t.Fatal(v.err())
			}
			if !v.welcomed.Load() {
				return false
			}
		}
		return true
	})

	talk, stopTalking := context.WithCancel(ctx)
	defer stopTalking()
	talkers := make([]*scaleTalker, len(parties))
	talkErrs := make(chan error, len(parties))
	var talking sync.WaitGroup
	started := time.Now()
	for i, party := range parties {
		tk := &scaleTalker{chats: newChatter(gws.addrs[i%scaleGateways], party, "host"),
			seeks: newChatter(gws.addrs[i%scaleGateways], party, "host")}
		talkers[i] = tk
		talking.Go(func() { talkErrs <- tk.talk(talk, t, gws, i) })
	}
	phase := func(what string, d time.Duration) {
		pause(ctx, d)
		t.Logf("%v: %s", time.Since(started).Round(100*time.Millisecond), what)
	}
	phase("talking on 4 gateways", 6*time.Second)
	stopped := scaleGateways - 1
	gws.stop(stopped)
	procs[stopped].Signal(syscall.SIGTERM)
	if code, err := procs[stopped].Wait(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("gateway after SIGTERM: exit %d, %v\n%s", code, err, procs[stopped].Output())
	}
	phase("a gateway stopped with SIGTERM; its viewers resume on the others", 5*time.Second)
	flushers[1].Kill()
	phase("a flusher killed with SIGKILL", 5*time.Second)
	stopTalking()
	talking.Wait()
	published := time.Since(started)
	close(talkErrs)
	for err := range talkErrs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// PostgreSQL holds exactly what was acknowledged: chats and seeks of the
	// hosts, one like of each viewer whose like was acknowledged.
	acked := 0
	for i, party := range parties {
		tk := talkers[i]
		_, chats := tk.chats.snapshot()
		_, seeks := tk.seeks.snapshot()
		likers := likersOf(viewers, party)
		eventually(t, 90*time.Second, "the remaining flusher to store party "+party, func() bool {
			return s.count(`SELECT count(*) FROM watch_party_chats WHERE party_id = $1`, party) >= len(chats) &&
				s.count(`SELECT count(*) FROM watch_party_logs WHERE party_id = $1 AND action = 'seek'`, party) >= len(seeks) &&
				s.count(`SELECT count(*) FROM watch_party_likes WHERE party_id = $1`, party) >= len(likers)
		})
		a, _ := checkChatters(t, s, party, []*chatter{tk.chats})
		checkStored(t, s, "seeks", `SELECT event_id FROM watch_party_logs WHERE party_id = $1 AND action = 'seek'`,
			party, slices.Collect(maps.Values(seeks)))
		checkStored(t, s, "likes", `SELECT user_id FROM watch_party_likes WHERE party_id = $1`, party, likers)
		acked += a + len(seeks) + len(likers)
	}

	// Every viewer converges on its party's whole chat sequence.
	want := map[string][]string{}
	for _, party := range parties {
		for _, r := range s.rows(`SELECT stream_ms || '-' || stream_seq FROM watch_party_chats
			WHERE party_id = $1 ORDER BY stream_ms, stream_seq`, party) {
			want[party] = append(want[party], r[0])
		}
	}
	eventually(t, 90*time.Second, "every viewer to receive every chat of its party", func() bool {
		for _, v := range viewers {
			if v.err() != nil {
				t.Fatal(v.err())
			}
			if len(v.chats()) < len(want[v.party]) {
				return false
			}
		}
		return true
	})
	stop()
	for _, v := range viewers {
		v.stop()
	}
	watching.Wait()
	delivered, resumes := 0, 0
	var lat []time.Duration
	for _, v := range viewers {
		got := v.chats()
		if !slices.Equal(got, want[v.party]) {
			t.Fatalf("%s received %d chats, its party has %d; first difference at %d", v.user, len(got),
				len(want[v.party]), firstDiff(got, want[v.party]))
		}
		delivered += len(got)
		resumes += int(v.resumes.Load())
		lat = append(lat, v.latencies()...)
	}
	if resumes < scaleViewers/scaleGateways/2 {
		t.Fatalf("only %d viewers resumed after a gateway stopped", resumes)
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	t.Logf("%d events acknowledged and stored in %v: %.0f events/s; %d chats delivered: %.0f deliveries/s; "+
		"delivery latency p50 %v, p99 %v; %d resumes with since",
		acked, published.Round(100*time.Millisecond), float64(acked)/published.Seconds(), delivered,
		float64(delivered)/published.Seconds(), lat[len(lat)/2].Round(time.Millisecond), p99.Round(time.Millisecond), resumes)
}

// checkStored fails the test unless query, over party, returns the values
// want, each once.
func checkStored(t *testing.T, s *system, what, query, party string, want []string) {
	t.Helper()
	var got []string
	for _, r := range s.rows(query, party) {
		got = append(got, r[0])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("party %s: %d %s stored, %d acknowledged; first difference at %d", party, len(got), what, len(want),
			firstDiff(got, want))
	}
}

// likersOf returns the users of party whose like was acknowledged.
func likersOf(viewers []*scaleViewer, party string) []string {
	var out []string
	for _, v := range viewers {
		if v.party == party && v.liked.Load() {
			out = append(out, v.user)
		}
	}
	return out
}

// liveGateways are the gateways' addresses, without those stopped.
type liveGateways struct {
	mu      sync.Mutex
	addrs   []string
	stopped []bool
}

// pick returns the i-th running gateway, counting round.
func (g *liveGateways) pick(i int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var live []string
	for j, a := range g.addrs {
		if j >= len(g.stopped) || !g.stopped[j] {
			live = append(live, a)
		}
	}
	return live[i%len(live)]
}

func (g *liveGateways) stop(i int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.stopped) < len(g.addrs) {
		g.stopped = append(g.stopped, false)
	}
	g.stopped[i] = true
}

// scaleTalker is a party's host: it chats, and seeks every fourth turn,
// resending each frame under its client id until it is acknowledged (a
// gateway that is shutting down answers "unavailable" until it closes).
type scaleTalker struct {
	chats, seeks *chatter // the same user: one records chats, the other seeks
}

func (tk *scaleTalker) talk(ctx context.Context, t *testing.T, gws *liveGateways, i int) error {
	c, err := tk.chats.reconnect(ctx, t)
	if err != nil {
		return err
	}
	defer func() { _ = c.conn.Close() }()
	for n := 0; ctx.Err() == nil; n++ {
		send := func() (string, error) { return tk.chats.chat(c, "c"+strconv.Itoa(n)) }
		if n%4 == 3 {
			send = func() (string, error) {
				cid := "s" + strconv.Itoa(n)
				return tk.seeks.sendAcked(c, cid, fmt.Appendf(nil, `{"type":"seek","id":%q,"position_ms":%d}`, cid, n*1000))
			}
		}
		for {
			code, err := send()
			switch {
			case errors.Is(err, errConnClosed):
				i++
				tk.chats.addr = gws.pick(i)
				if c, err = tk.chats.reconnect(context.Background(), t); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			case code == "unavailable": // a draining gateway: resend until it closes, then elsewhere
				pause(ctx, 50*time.Millisecond)
				continue
			case code != "":
				return fmt.Errorf("party %s: turn %d answered %s", tk.chats.party, n, code)
			}
			break
		}
		pause(ctx, scaleTalkPeriod)
	}
	return nil
}

// scaleViewer watches its party: it records the stream id and delivery
// latency of every chat, likes the party once (resending its like until
// it is acknowledged), and whenever its connection ends it resumes with
// since on another running gateway.
type scaleViewer struct {
	resumer

	welcomed atomic.Bool
	liked    atomic.Bool
	resumes  atomic.Int32
	lat      []time.Duration // under mu
	failure  error           // under mu
}

func (v *scaleViewer) latencies() []time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.lat)
}

func (v *scaleViewer) err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.failure
}

func (v *scaleViewer) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failure == nil {
		v.failure = fmt.Errorf("%s: %w", v.user, err)
	}
}

func (v *scaleViewer) watch(ctx context.Context, gws *liveGateways) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		conn, since, done := v.dial(ctx, gws.pick(v.next), attempt)
		v.next++
		if done {
			return
		}
		if conn == nil {
			continue
		}
		attempt = 0
		err := v.read(conn, since)
		_ = conn.Close()
		var ce *websocket.CloseError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &ce) && !slices.Contains([]int{websocket.CloseGoingAway, websocket.CloseServiceRestart,
			websocket.CloseTryAgainLater, websocket.CloseAbnormalClosure}, ce.Code):
			v.fail(fmt.Errorf("closed with %d %q", ce.Code, ce.Text))
			return
		case err != nil && !errors.As(err, &ce) && !isConnReset(err):
			v.fail(err)
			return
		}
		v.resumes.Add(1)
	}
}

// isConnReset says err is a connection that ended without a close frame.
func isConnReset(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || strings.Contains(err.Error(), "reset by peer") ||
		strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "broken pipe")
}

// scaleFrame is the part of a server frame a scale viewer reads.
type scaleFrame struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	StreamID string `json:"stream_id"`
	TS       string `json:"ts"`
	Code     string `json:"code"`
	Resumed  *bool  `json:"resumed"`
}

// read records chats until the connection ends, and returns why it ended.
func (v *scaleViewer) read(conn *websocket.Conn, since string) error {
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		var f scaleFrame
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("undecodable frame %q: %w", b, err)
		}
		switch f.Type {
		case "welcome":
			if since != "" && (f.Resumed == nil || !*f.Resumed) {
				return fmt.Errorf("resumed after %s without resumed=true: %s", since, b)
			}
			v.welcomed.Store(true)
			if !v.liked.Load() {
				if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"like","id":"like"}`)); err != nil {
					return err
				}
			}
		case "ack":
			if f.ID == "like" {
				v.liked.Store(true)
			}
		case "error":
			v.fail(fmt.Errorf("error frame %s", b))
		case "chat":
			ts, err := time.Parse(time.RFC3339Nano, f.TS)
			if err != nil {
				return fmt.Errorf("chat with a bad ts: %s", b)
			}
			v.mu.Lock()
			v.got = append(v.got, f.StreamID)
			v.lat = append(v.lat, time.Since(ts))
			v.mu.Unlock()
		}
	}
}
