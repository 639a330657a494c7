package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// BenchmarkFanout measures one server process fanning one publisher's chats
// out to N viewers of one party, and 1,000 clients each publishing into
// their own party (ingest): first the gateway binary, then, when it is
// installed (make bench-peer), Centrifugo against the same Redis. Every
// figure of the gateway is printed beside Centrifugo's as a ratio.
//
// The publisher is open loop: chat k of a step is due at start + k/R, and
// its text carries its sequence number and that due time, so latency
// (due time → viewer read) includes any time the publisher spent blocked.
// Every viewer checks that it receives every chat of the step once and in
// order. ns/op is the whole run.
func BenchmarkFanout(b *testing.B) {
	b.StopTimer()
	raiseNoFile(b)
	ctx := context.Background()
	env := newEnv(b)
	say(b, "machine: %s", machine())
	peerPath := peerBinary()
	if peerPath == "" {
		if *fanoutPeer == "require" {
			b.Fatalf("centrifugo is not installed in %s: run make bench-peer", peerDir())
		}
		say(b, "peer: Centrifugo not installed in %s (make bench-peer installs it); measuring the gateway alone", peerDir())
	} else if *fanoutPeer == "off" {
		peerPath = ""
		say(b, "peer: off (-fanout.peer=off)")
	}

	b.StartTimer()
	var runs []*serverRun
	runs = append(runs, runFanout(ctx, b, env, startGatewayProc(ctx, b, env)))
	if peerPath != "" {
		runs = append(runs, runFanout(ctx, b, env, startCentrifugo(ctx, b, env, peerPath)))
	}
	b.StopTimer()

	table := fanoutTable(runs)
	fmt.Println(table)
	ours := runs[0]
	if top := ours.saturated(maxViewers()); top != nil {
		b.ReportMetric(top.deliveredPerSec, "delivered/s")
		b.ReportMetric(top.cpuPerDelivery, "cpu_us/delivery")
	}
	b.ReportMetric(ours.ingest.rate, "ingest_events/s")
	b.ReportMetric(ours.rssPerViewer[maxViewers()]/1024, "rss_KiB/viewer")
	if len(runs) > 1 {
		reportTargets(b, ours, runs[1])
	}
	if *fanoutOut != "" {
		writeFanoutDocs(b, runs, table)
	}
	for _, r := range runs {
		for _, s := range r.steps {
			if s.orderErrs > 0 || s.dups > 0 {
				b.Errorf("%s: %d viewers × %d/s: %d out-of-order and %d duplicate deliveries", r.name, s.viewers, s.rate, s.orderErrs, s.dups)
			}
		}
	}
}

var (
	fanoutViewers  = flag2ints("fanout.viewers", "1000,5000", "BenchmarkFanout: viewer counts of the fan-out steps")
	fanoutRates1k  = flag2ints("fanout.rates-small", "25,100,200,400", "BenchmarkFanout: chats/s of the steps with the smaller viewer count")
	fanoutRatesBig = flag2ints("fanout.rates-large", "5,10,20,40", "BenchmarkFanout: chats/s of the steps with the larger viewer count")
	fanoutStep     = flagDuration("fanout.step", 3*time.Second, "BenchmarkFanout: publishing time of each step")
	fanoutDrain    = flagDuration("fanout.drain", 5*time.Second, "BenchmarkFanout: how long after the last chat a viewer may still receive it")
	fanoutIngest   = flagDuration("fanout.ingest", 5*time.Second, "BenchmarkFanout: measured time of the ingest shape")
	fanoutClients  = flagInt("fanout.ingest-clients", 1000, "BenchmarkFanout: ingest clients, one party/channel each")
	fanoutPeer     = flagString("fanout.peer", "auto", "BenchmarkFanout: Centrifugo: auto (when installed), require, off")
	fanoutOut      = flagString("fanout.out", "", "BenchmarkFanout: folder for bench-fanout.md and bench-fanout.png (none when empty)")
	fanoutProfile  = flagString("fanout.profile", "", "BenchmarkFanout: folder for CPU profiles of each server during its largest step and its ingest shape")
)

func maxViewers() int { return (*fanoutViewers)[len(*fanoutViewers)-1] }

func ratesFor(i int) []int {
	if i == 0 {
		return *fanoutRates1k
	}
	return *fanoutRatesBig
}

// raiseNoFile lifts the soft limit on open files to the hard one; the
// servers started from here inherit it.
func raiseNoFile(b *testing.B) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("getrlimit: %v", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("setrlimit: %v", err)
	}
	if need := uint64(2*maxViewers() + *fanoutClients + 200); lim.Cur < need {
		b.Fatalf("RLIMIT_NOFILE is %d; the benchmark needs about %d", lim.Cur, need)
	}
}

// server is a server under test and its client protocol.
type server struct {
	name    string
	pid     int
	debug   string // base URL of its pprof handlers, if any
	proto   protocol
	channel func(i int) string // the party id / channel of ingest client i; i < 0: the fan-out party
}

// protocol is what differs between the servers' client protocols.
type protocol interface {
	// dial opens a connection that receives channel's messages.
	dial(ctx context.Context, channel, user string) (*websocket.Conn, error)
	// publish appends the frame publishing text with client id to buf.
	publish(buf []byte, channel string, id int, text string) []byte
	// messages splits one WebSocket message into protocol messages.
	messages(msg []byte, fn func(line []byte))
	// classify says what one protocol message is; id is set for replies.
	classify(line []byte) (k msgKind, id int)
}

type msgKind int

const (
	kindOther msgKind = iota
	kindDelivery
	kindAck
	kindError
	kindPing
)

// serverRun is everything measured of one server.
type serverRun struct {
	name         string
	steps        []*stepResult
	rssIdle      int64
	rssPerViewer map[int]float64 // bytes
	ingest       ingestShape
	otherCPU     float64 // cores used by other programs during the run (noise)
}

// noiseMeter measures what the rest of the machine used during a server's
// run: all busy time but the server's, Redis's and this process's.
type noiseMeter struct {
	env   *env
	pid   int
	start time.Time
	at    time.Duration
}

func (n *noiseMeter) known(ctx context.Context) time.Duration {
	return procCPU(n.pid) + redisCPU(ctx, n.env.rdb) + selfCPU() + treeCPU(n.env.pgPID(ctx))
}

func startNoise(ctx context.Context, env *env, pid int) *noiseMeter {
	n := &noiseMeter{env: env, pid: pid, start: time.Now()}
	busy, irq, _ := machineCPU()
	n.at = busy - irq - n.known(ctx)
	return n
}

// stop returns the other programs' CPU in cores.
func (n *noiseMeter) stop(ctx context.Context) float64 {
	busy, irq, _ := machineCPU()
	other := busy - irq - n.known(ctx) - n.at
	return max(0, other.Seconds()/time.Since(n.start).Seconds())
}

// saturated is the step with the most deliveries per second at n viewers.
func (r *serverRun) saturated(n int) *stepResult {
	var best *stepResult
	for _, s := range r.steps {
		if s.viewers == n && (best == nil || s.deliveredPerSec > best.deliveredPerSec) {
			best = s
		}
	}
	return best
}

func (r *serverRun) step(n, rate int) *stepResult {
	for _, s := range r.steps {
		if s.viewers == n && s.rate == rate {
			return s
		}
	}
	return nil
}

type stepResult struct {
	viewers, rate    int
	sent             int
	deliveredPerSec  float64
	p50, p99, maxLat time.Duration
	cpuPerDelivery   float64 // server µs
	redisPerDelivery float64 // µs
	loadPerDelivery  float64 // load tool µs
	perMessage       float64 // deliveries per WebSocket message
	syscallsPerDeliv float64 // server write syscalls per delivery
	missing          int     // deliveries not received by the drain deadline
	orderErrs, dups  int
	closed           int // viewers whose connection ended during the step
	pubErrs          int
}

// keptUp says the server delivered what the step offered (every viewer
// each chat, at the step's rate), within 5 %: the step is below its
// saturation.
func (s *stepResult) keptUp() bool {
	return s.missing == 0 && s.deliveredPerSec >= 0.95*float64(s.viewers*s.rate)
}

type ingestShape struct {
	rate                     float64
	p50, p99                 time.Duration
	cpuPerEvent, redisPerEvt float64
	errs                     int
	syscallsPerEvent         float64 // the server's write system calls per acked event
	// redisCommands is Redis's time per command over the measured
	// interval (INFO commandstats; a script's commands count inside it too).
	redisCommands string
}

// viewer is one fan-out connection of the load tool.
type viewer struct {
	conn   *websocket.Conn
	dead   atomic.Bool
	mu     sync.Mutex
	first  int // the step's first sequence number
	next   int // the sequence number expected next
	last   int // the step's last sequence number
	stale  int
	got    int
	dups   int
	order  int
	wsMsgs int
	deliv  int
}

// fanoutState is shared by the viewers of one server.
type fanoutState struct {
	delivered atomic.Int64
	hist      latencyHist
}

func runFanout(ctx context.Context, b *testing.B, env *env, srv *server) *serverRun {
	b.Helper()
	run := &serverRun{name: srv.name, rssPerViewer: map[int]float64{}}
	noise := startNoise(ctx, env, srv.pid)
	defer func() {
		run.otherCPU = noise.stop(ctx)
		say(b, "%s: other programs on the machine used %.0f%% of a core during its run", srv.name, 100*run.otherCPU)
	}()
	time.Sleep(time.Second) // let the server settle before its idle size is taken
	run.rssIdle = rss(srv.pid)
	st := &fanoutState{}
	party := srv.channel(-1)
	pub := dialPublisher(ctx, b, srv, party)
	var viewers []*viewer
	for i, n := range *fanoutViewers {
		start := time.Now()
		viewers = connectViewers(ctx, b, srv, party, viewers, n, st)
		time.Sleep(500 * time.Millisecond)
		grown := rss(srv.pid) - run.rssIdle
		run.rssPerViewer[n] = float64(grown) / float64(n)
		say(b, "%s: %d viewers connected in %.1fs; RSS %.1f MiB idle, +%.1f KiB per viewer",
			srv.name, n, time.Since(start).Seconds(), float64(run.rssIdle)/(1<<20), run.rssPerViewer[n]/1024)
		if *fanoutProfile != "" {
			heapProfile(b, srv, n)
		}
		rates := ratesFor(i)
		for j, rate := range rates {
			viewers = reviveViewers(ctx, b, srv, party, viewers, st)
			profile := *fanoutProfile != "" && i == len(*fanoutViewers)-1 && j == len(rates)-1
			s := runStep(ctx, b, env, srv, pub, viewers, st, rate, profile)
			run.steps = append(run.steps, s)
			say(b, "%s: %d viewers × %d chats/s: %.0f delivered/s; latency p50 %.1fms p99 %.1fms max %.1fms; server %.2fµs, redis %.2fµs, load tool %.2fµs per delivery; %.2f deliveries per WS message, %.3f write syscalls per delivery; %d missing after drain, %d out of order, %d duplicates, %d viewers closed, %d publish errors",
				srv.name, s.viewers, s.rate, s.deliveredPerSec, ms(s.p50), ms(s.p99), ms(s.maxLat),
				s.cpuPerDelivery, s.redisPerDelivery, s.loadPerDelivery, s.perMessage, s.syscallsPerDeliv,
				s.missing, s.orderErrs, s.dups, s.closed, s.pubErrs)
		}
	}
	for _, v := range viewers {
		_ = v.conn.Close()
	}
	pub.close()
	run.ingest = runIngestShape(ctx, b, env, srv)
	say(b, "%s: ingest, %d clients each into its own channel: %.0f acked events/s; ack p50 %.2fms p99 %.2fms; server %.2fµs, redis %.2fµs per event; %.2f write syscalls per event; %d errors",
		srv.name, *fanoutClients, run.ingest.rate, ms(run.ingest.p50), ms(run.ingest.p99),
		run.ingest.cpuPerEvent, run.ingest.redisPerEvt, run.ingest.syscallsPerEvent, run.ingest.errs)
	say(b, "%s: ingest, Redis commands:%s", srv.name, run.ingest.redisCommands)
	return run
}

func connectViewers(ctx context.Context, b *testing.B, srv *server, party string, have []*viewer, n int, st *fanoutState) []*viewer {
	b.Helper()
	out := make([]*viewer, n)
	copy(out, have)
	var g errgroup.Group
	g.SetLimit(16)
	for i := len(have); i < n; i++ {
		g.Go(func() error {
			v, err := dialViewer(ctx, srv, party, i, st)
			out[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("%s: connect viewers: %v", srv.name, err)
	}
	return out
}

// reviveViewers replaces viewers whose connection ended (a server may close
// a viewer that fell behind) with new ones.
func reviveViewers(ctx context.Context, b *testing.B, srv *server, party string, vs []*viewer, st *fanoutState) []*viewer {
	b.Helper()
	for i, v := range vs {
		if v.dead.Load() {
			nv, err := dialViewer(ctx, srv, party, i, st)
			if err != nil {
				b.Fatalf("%s: reconnect viewer: %v", srv.name, err)
			}
			vs[i] = nv
		}
	}
	return vs
}

func dialViewer(ctx context.Context, srv *server, party string, i int, st *fanoutState) (*viewer, error) {
	conn, err := srv.proto.dial(ctx, party, "v"+strconv.Itoa(i))
	if err != nil {
		return nil, err
	}
	v := &viewer{conn: conn, next: math.MaxInt}
	go pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) { v.read(srv.proto, st) })
	return v, nil
}

func (v *viewer) read(p protocol, st *fanoutState) {
	defer v.dead.Store(true)
	var pong sync.Mutex
	for {
		_, msg, err := v.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		n := 0
		p.messages(msg, func(line []byte) {
			switch k, _ := p.classify(line); k {
			case kindPing:
				pong.Lock()
				_ = v.conn.WriteMessage(websocket.TextMessage, []byte(`{}`))
				pong.Unlock()
			case kindDelivery:
				seq, due, ok := parseChatText(line)
				if !ok {
					return
				}
				n++
				st.hist.add(time.Duration(now - due))
				v.mu.Lock()
				switch {
				case seq == v.next:
					v.next++
					v.got++
				case seq < v.first:
					v.stale++ // an earlier step's, after its drain deadline
				case seq < v.next:
					v.dups++
				default:
					v.order++
					v.next = seq + 1
					v.got++
				}
				v.mu.Unlock()
			}
		})
		if n > 0 {
			v.mu.Lock()
			v.wsMsgs++
			v.deliv += n
			v.mu.Unlock()
			st.delivered.Add(int64(n))
		}
	}
}

// fanoutText renders chat seq's text: its sequence number, its due time and
// padding to about the length of most chats.
func fanoutText(seq int, due time.Time) string {
	return strconv.Itoa(seq) + " " + strconv.FormatInt(due.UnixNano(), 10) + " benchmark chat, about as long as most"
}

var textMarker = []byte(`"text":"`)

func parseChatText(line []byte) (seq int, due int64, ok bool) {
	i := bytes.Index(line, textMarker)
	if i < 0 {
		return 0, 0, false
	}
	rest := line[i+len(textMarker):]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return 0, 0, false
	}
	s, err := strconv.Atoi(string(rest[:sp]))
	if err != nil {
		return 0, 0, false
	}
	rest = rest[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return 0, 0, false
	}
	d, err := strconv.ParseInt(string(rest[:sp]), 10, 64)
	return s, d, err == nil
}

// publisher is the fan-out party's one publisher.
type publisher struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	seq  int
	errs atomic.Int64
	done chan struct{}
}

func dialPublisher(ctx context.Context, b *testing.B, srv *server, party string) *publisher {
	b.Helper()
	conn, err := srv.proto.dial(ctx, party, "publisher")
	if err != nil {
		b.Fatalf("%s: connect publisher: %v", srv.name, err)
	}
	p := &publisher{conn: conn, done: make(chan struct{})}
	go pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) {
		defer close(p.done)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			srv.proto.messages(msg, func(line []byte) {
				switch k, _ := srv.proto.classify(line); k {
				case kindPing:
					p.write([]byte(`{}`))
				case kindError:
					p.errs.Add(1)
				}
			})
		}
	})
	return p
}

func (p *publisher) write(frame []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.conn.WriteMessage(websocket.TextMessage, frame)
}

func (p *publisher) close() {
	_ = p.conn.Close()
	<-p.done
}

// procCPU is a process's user+system CPU time from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	_, cpu, _ := procStat(pid)
	return cpu
}

// procSyscw is the number of write system calls a process made.
func procSyscw(pid int) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "io"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// rss is a process's resident set in bytes.
func rss(pid int) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func runStep(ctx context.Context, b *testing.B, env *env, srv *server, pub *publisher, vs []*viewer, st *fanoutState,
	rate int, profile bool) *stepResult {
	b.Helper()
	total := int(float64(rate) * fanoutStep.Seconds())
	first := pub.seq + 1
	pub.seq += total
	for _, v := range vs {
		v.mu.Lock()
		v.first, v.next, v.last, v.got, v.dups, v.order, v.wsMsgs, v.deliv, v.stale = first, first, pub.seq, 0, 0, 0, 0, 0, 0
		v.mu.Unlock()
	}
	st.hist.reset()
	pub.errs.Store(0)
	var stopProfile func()
	if profile {
		stopProfile = profileServer(b, srv, ".cpu.pprof", *fanoutStep)
	}

	interval := time.Second / time.Duration(rate)
	start := time.Now().Add(50 * time.Millisecond)
	time.Sleep(time.Until(start))
	cpu0, sysw0, self0 := procCPU(srv.pid), procSyscw(srv.pid), selfCPU()
	redis0 := redisCPU(ctx, env.rdb)
	d0 := st.delivered.Load()
	var frame []byte
	pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) {
		for k := 0; k < total; k++ {
			due := start.Add(time.Duration(k) * interval)
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			frame = srv.proto.publish(frame[:0], srv.channel(-1), first+k, fanoutText(first+k, due))
			if err := pub.write(frame); err != nil {
				b.Fatalf("%s: publish: %v", srv.name, err)
			}
		}
	})
	end := start.Add(time.Duration(total) * interval)
	time.Sleep(time.Until(end))
	elapsed := time.Since(start)
	d1 := st.delivered.Load()
	if stopProfile != nil {
		stopProfile()
	}

	// The CPU and syscall counts run until the step's deliveries are done
	// (or the drain deadline), so that a server that fell behind is
	// charged for the backlog it still writes.
	want := total * len(vs)
	deadline := time.Now().Add(*fanoutDrain)
	for time.Now().Before(deadline) && received(vs) < want {
		time.Sleep(20 * time.Millisecond)
	}
	cpu1, sysw1, self1 := procCPU(srv.pid), procSyscw(srv.pid), selfCPU()
	redis1 := redisCPU(ctx, env.rdb)
	dAll := st.delivered.Load() - d0
	// What is still on its way arrives before the next step starts, so
	// that steps do not overlap (it stays counted as missing).
	settle(st, 60*time.Second)
	s := &stepResult{viewers: len(vs), rate: rate, sent: total, pubErrs: int(pub.errs.Load())}
	s.deliveredPerSec = float64(d1-d0) / elapsed.Seconds()
	s.p50, s.p99, s.maxLat = st.hist.quantile(0.50), st.hist.quantile(0.99), st.hist.max()
	if dAll > 0 {
		s.cpuPerDelivery = micros(cpu1-cpu0, int(dAll))
		s.redisPerDelivery = micros(redis1-redis0, int(dAll))
		s.loadPerDelivery = micros(self1-self0, int(dAll))
		s.syscallsPerDeliv = float64(sysw1-sysw0) / float64(dAll)
	}
	var msgs, deliv int
	for _, v := range vs {
		v.mu.Lock()
		s.missing += total - v.got
		s.orderErrs += v.order
		s.dups += v.dups
		msgs += v.wsMsgs
		deliv += v.deliv
		v.mu.Unlock()
		if v.dead.Load() {
			s.closed++
		}
	}
	if msgs > 0 {
		s.perMessage = float64(deliv) / float64(msgs)
	}
	return s
}

// settle waits until no delivery arrived for half a second, at most max.
func settle(st *fanoutState, max time.Duration) {
	deadline := time.Now().Add(max)
	last := st.delivered.Load()
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		now := st.delivered.Load()
		if now == last {
			return
		}
		last = now
	}
}

func received(vs []*viewer) int {
	n := 0
	for _, v := range vs {
		v.mu.Lock()
		n += v.got
		v.mu.Unlock()
	}
	return n
}

// latencyHist is a log-linear histogram of latencies in microseconds
// (1/64 relative precision), safe for concurrent use.
type latencyHist struct {
	counts [64 * 40]atomic.Int64
	top    atomic.Int64
}

func histIndex(us int64) int {
	if us < 64 {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) - 7 // us>>e has 7 bits: 64..127
	return min(e*64+int(us>>e), len(latencyHist{}.counts)-1)
}

// histValue is the lower bound of bucket i.
func histValue(i int) int64 {
	if i < 64 {
		return int64(i)
	}
	e := i/64 - 1
	return int64(i%64+64) << e
}

func (h *latencyHist) add(d time.Duration) {
	us := d.Microseconds()
	h.counts[histIndex(us)].Add(1)
	for {
		t := h.top.Load()
		if us <= t || h.top.CompareAndSwap(t, us) {
			return
		}
	}
}

func (h *latencyHist) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.top.Store(0)
}

func (h *latencyHist) quantile(q float64) time.Duration {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var n int64
	for i := range h.counts {
		n += h.counts[i].Load()
		if n >= rank {
			return time.Duration(histValue(i)) * time.Microsecond
		}
	}
	return h.max()
}

func (h *latencyHist) max() time.Duration { return time.Duration(h.top.Load()) * time.Microsecond }
