package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/stream"
)

// BenchmarkIngest times chats acknowledged by one in-process gateway: one
// WebSocket client per party, each keeping a bounded window of un-acked
// chats in flight, against one XADD per round trip from Go to the same
// Redis, measured in the same run. ns/op is the saturating phase (warm-up
// and drain included). A second, paced phase measures ack latency at a
// moderate rate, without the queueing of the saturating phase.
//
// The load tool, the gateway, Redis and PostgreSQL share the machine. To see
// where the CPU goes: go test -run '^$' -bench Ingest -benchtime 1x
// -cpuprofile cpu.out ./bench/ && go tool pprof -tagfocus side=gateway cpu.out
// (side=client is the load tool, phase=... the baselines).
func BenchmarkIngest(b *testing.B) {
	b.StopTimer()
	ctx := context.Background()
	env := newEnv(b)
	say(b, "machine: %s", machine())
	parties := insertParties(ctx, b, env.pool, *ingestClients)
	addr, _ := startGateway(ctx, b, env, 0)

	start := time.Now()
	clients := connectClients(ctx, b, addr, parties)
	say(b, "%d clients connected and welcomed in %.1fs; window %d un-acked chats each",
		len(clients), time.Since(start).Seconds(), *ingestWindow)

	resetStats(ctx, b, env.rdb)
	var redisStats []cmdStat
	res, paced := saturateThenPace(ctx, b, env, clients, parties, func() { redisStats = commandStats(ctx, env.rdb) })
	stored := storedChats(ctx, b, env, parties)

	payload := sampleChatPayload(b)
	seq := xaddLoop(ctx, b, env, "xadd1", 1, payload)
	conc := xaddLoop(ctx, b, env, "xadd64", 64, payload)
	app := appenderLoop(ctx, b, env, 1000)
	pipeX := pipelineLoop(ctx, b, env, "pipeline_xadd", payload, false)
	pipeAll := pipelineLoop(ctx, b, env, "pipeline_script_cmds", payload, true)

	rate := res.rate()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(ms(res.p50), "p50_ms")
	b.ReportMetric(ms(res.p99), "p99_ms")
	b.ReportMetric(ms(paced.p50), "paced_p50_ms")
	b.ReportMetric(ms(paced.p99), "paced_p99_ms")
	b.ReportMetric(seq.rate(), "xadd1_events/s")
	b.ReportMetric(conc.rate(), "xadd64_events/s")
	b.ReportMetric(rate/conc.rate(), "ratio_vs_xadd64")
	b.ReportMetric(rate/seq.rate(), "ratio_vs_xadd1")

	say(b, "gateway, as fast as acks come back: %d chats acked in %.1fs = %.0f events/s; ack latency p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms (mostly queueing: %d chats in flight); %d error frames",
		res.acked, res.interval.Seconds(), rate, ms(res.p50), ms(res.p90), ms(res.p99), ms(res.max),
		len(clients)**ingestWindow, res.errs)
	say(b, "gateway: per acked chat: go %.1fµs and %.1f heap allocations (gateway + load tool), redis %.1fµs, kernel irq %.1fµs; %s",
		micros(res.use.Self, res.acked), float64(res.use.Allocs)/float64(max(res.acked, 1)),
		micros(res.use.Redis, res.acked), micros(res.use.IRQ, res.acked), res.use)
	warnNoise(b, "the gateway run", res.use)
	say(b, "gateway: redis server time (wall) per acked chat:%s", formatCommandStats(redisStats, res.acked))
	say(b, "gateway, paced at %.0f chats/s: %.0f events/s acked; ack latency p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms; %d error frames",
		*ingestPaced, paced.rate(), ms(paced.p50), ms(paced.p90), ms(paced.p99), ms(paced.max), paced.errs)
	warnNoise(b, "the paced gateway run", paced.use)
	say(b, "gateway: %d chats acked in all (warm-up and drain included), %d stored", res.total+paced.total, stored)
	for _, r := range []loopResult{seq, conc, app, pipeX, pipeAll} {
		say(b, "%-62s %8.0f events/s; redis %.1fµs/event, go %.1fµs and %.1f heap allocations/event", r.name, r.rate(),
			micros(r.use.Redis, r.n), micros(r.use.Self, r.n), float64(r.use.Allocs)/float64(max(r.n, 1)))
		warnNoise(b, r.name, r.use)
	}
	verdict := "OK"
	if rate < 2*conc.rate() {
		verdict = "BELOW TARGET"
	}
	result(b, "RESULT gateway %.0f acked events/s (p50 %.2fms, p99 %.2fms; paced at %.0f/s: p50 %.2fms, p99 %.2fms) vs one XADD per round trip: %.0f/s with 64 goroutines (ratio %.2f), %.0f/s sequential (ratio %.2f); target >= 2x the 64-goroutine figure: %s",
		rate, ms(res.p50), ms(res.p99), *ingestPaced, ms(paced.p50), ms(paced.p99),
		conc.rate(), rate/conc.rate(), seq.rate(), rate/seq.rate(), verdict)
}

// saturateThenPace runs the clients' saturating phase (the timed part of
// the benchmark), then between (unless nil), then the paced phase, closes
// the clients, and fails unless every acked chat is stored.
func saturateThenPace(ctx context.Context, b *testing.B, env *env, clients []*wsClient, parties []uuid.UUID,
	between func()) (res, paced ingestResult) {
	b.Helper()
	b.StartTimer()
	res = runPhase(ctx, b, clients, newMeter(ctx, env.rdb, env.pool), 0, *ingestFor)
	b.StopTimer()
	if between != nil {
		between()
	}
	every := time.Duration(float64(len(clients)) / *ingestPaced * float64(time.Second))
	paced = runPhase(ctx, b, clients, newMeter(ctx, env.rdb, env.pool), every, *ingestFor/2)
	closeClients(clients)
	if acked, stored := res.total+paced.total, storedChats(ctx, b, env, parties); acked > stored {
		b.Fatalf("%d chats acked but %d stored", acked, stored)
	}
	return res, paced
}

// startGateway runs a gateway in this process on env's servers, with dev
// auth and no backlog limit, acknowledging after minReplicas replicas
// (WATCH_PARTY_MIN_REPLICAS_ACK); it returns its address and metrics.
func startGateway(ctx context.Context, b *testing.B, env *env, minReplicas int) (string, *gateway.Metrics) {
	b.Helper()
	// Limits as in production, but too generous to refuse: their cost is measured.
	cfg := gateway.Config{Addr: "127.0.0.1:0", DevAuth: true, MaxBufferedEvents: 1 << 40, EventRates: map[string]*gateway.RateLimit{"chat": {Rate: 1e6, Burst: 1e6}},
		ShutdownTimeout: 5 * time.Second, LogFormat: "text", LogLevel: "error", MinReplicasAck: minReplicas}
	g, err := gateway.New(cfg, openRedis(b, env.redisURL), env.pool, quietLogger())
	if err != nil {
		b.Fatalf("new gateway: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "gateway"), func(ctx context.Context) { done <- g.Serve(ctx, ln) })
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("gateway: %v", err)
		}
	})
	return ln.Addr().String(), g.Metrics()
}

// wsClient is one viewer of the load tool. Its writer keeps at most window
// chats un-acked; its reader, running for the whole connection, matches
// acks to sends by client id and ignores the broadcasts of its own chats.
type wsClient struct {
	conn   *websocket.Conn
	window chan struct{}
	seq    int // last client id used; ids stay unique across phases

	mu       sync.Mutex
	sent     map[string]time.Time
	from, to time.Time       // the measured interval of the current phase
	lat      []time.Duration // acks inside it
	acked    int             // acks inside it
	total    int             // every ack of the phase
	errs     int
}

func connectClients(ctx context.Context, b *testing.B, addr string, parties []uuid.UUID) []*wsClient {
	b.Helper()
	clients := make([]*wsClient, len(parties))
	var g errgroup.Group
	g.SetLimit(32)
	for i, p := range parties {
		g.Go(func() error {
			url := fmt.Sprintf("ws://%s/ws/parties/%s?user=u%d", addr, p, i)
			conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
			if err != nil {
				return fmt.Errorf("dial %s: %w", url, err)
			}
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					conn.Close()
					return fmt.Errorf("read welcome: %w", err)
				}
				if bytes.HasPrefix(msg, []byte(`{"type":"welcome"`)) {
					break
				}
			}
			c := &wsClient{conn: conn, window: make(chan struct{}, *ingestWindow), sent: map[string]time.Time{}}
			clients[i] = c
			go pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) { c.read() })
			return nil
		})
	}
	err := g.Wait()
	b.Cleanup(func() { closeClients(clients) })
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	return clients
}

func closeClients(clients []*wsClient) {
	for _, c := range clients {
		if c != nil {
			_ = c.conn.Close()
		}
	}
}

type ingestResult struct {
	use                usage
	interval           time.Duration // acks inside it count
	acked, total, errs int
	p50, p90, p99, max time.Duration
}

func (r ingestResult) rate() float64 { return float64(r.acked) / r.interval.Seconds() }

// runPhase lets every client send, one chat every `every` (0: as fast as
// the window allows), for a second of warm-up and then for the measured
// interval d; then it waits for the acks still outstanding.
func runPhase(ctx context.Context, b *testing.B, clients []*wsClient, m *meter, every, d time.Duration) ingestResult {
	b.Helper()
	from := time.Now().Add(time.Second)
	to := from.Add(d)
	for _, c := range clients {
		c.mu.Lock()
		c.from, c.to, c.lat, c.acked, c.total, c.errs = from, to, nil, 0, 0, 0
		c.mu.Unlock()
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) {
		for _, c := range clients {
			writers.Go(func() { c.write(stop, every) })
		}
	})
	time.Sleep(time.Until(from))
	m.Start(ctx)
	time.Sleep(time.Until(to))
	use := m.Stop(ctx)
	close(stop)
	writers.Wait()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if outstanding(clients) == 0 {
			break
		}
	}
	if n := outstanding(clients); n > 0 {
		b.Errorf("%d chats still un-acked 10s after the clients stopped", n)
	}
	res := ingestResult{use: use, interval: to.Sub(from)}
	var lat []time.Duration
	for _, c := range clients {
		c.mu.Lock()
		res.acked += c.acked
		res.total += c.total
		res.errs += c.errs
		lat = append(lat, c.lat...)
		c.mu.Unlock()
	}
	slices.Sort(lat)
	res.p50, res.p90, res.p99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	if len(lat) > 0 {
		res.max = lat[len(lat)-1]
	}
	return res
}

// outstanding counts the chats or publishes of clients still waiting for
// their ack.
func outstanding[C interface{ unacked() int }](clients []C) int {
	n := 0
	for _, c := range clients {
		n += c.unacked()
	}
	return n
}

func (c *wsClient) unacked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

const chatText48 = "benchmark chat message, about as long as most..."

func (c *wsClient) write(stop <-chan struct{}, every time.Duration) {
	var tick <-chan time.Time
	if every > 0 {
		select { // spread the clients over the period
		case <-time.After(rand.N(every)):
		case <-stop:
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	frame := make([]byte, 0, 128)
	for {
		if tick != nil {
			select {
			case <-tick:
			case <-stop:
				return
			}
		}
		select {
		case c.window <- struct{}{}:
		case <-stop:
			return
		}
		c.seq++
		id := "c" + strconv.Itoa(c.seq)
		frame = append(frame[:0], `{"type":"chat","id":"`...)
		frame = append(frame, id...)
		frame = append(frame, `","text":"`+chatText48+`"}`...)
		c.mu.Lock()
		c.sent[id] = time.Now()
		c.mu.Unlock()
		if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			return
		}
	}
}

var (
	ackPrefix   = []byte(`{"type":"ack","id":"`)
	errorPrefix = []byte(`{"type":"error","id":"`)
)

func (c *wsClient) read() {
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		isAck := bytes.HasPrefix(msg, ackPrefix)
		if !isAck && !bytes.HasPrefix(msg, errorPrefix) {
			continue // a broadcast (our own chat) or a viewers frame
		}
		rest := msg[len(ackPrefix):]
		if !isAck {
			rest = msg[len(errorPrefix):]
		}
		id := string(rest[:max(bytes.IndexByte(rest, '"'), 0)])
		now := time.Now()
		c.mu.Lock()
		sentAt, ok := c.sent[id]
		delete(c.sent, id)
		if isAck {
			c.total++
			if ok && !now.Before(c.from) && now.Before(c.to) {
				c.acked++
				c.lat = append(c.lat, now.Sub(sentAt))
			}
		} else {
			c.errs++
		}
		c.mu.Unlock()
		if ok {
			<-c.window
		}
	}
}

// storedChats counts the chats in the parties' streams: every entry but
// each client's join.
func storedChats(ctx context.Context, b *testing.B, env *env, parties []uuid.UUID) int {
	b.Helper()
	pipe := env.rdb.Pipeline()
	for _, p := range parties {
		pipe.XLen(ctx, stream.KeysFor(p).Stream)
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		b.Fatalf("xlen: %v", err)
	}
	n := 0
	for _, c := range cmds {
		n += int(c.(interface{ Val() int64 }).Val()) - 1
	}
	return n
}
