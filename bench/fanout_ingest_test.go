package bench

import (
	"context"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// ingestClient publishes into its own party/channel with at most
// ingestWindow publishes un-acked, and matches acks to sends by id.
type ingestClient struct {
	conn    *websocket.Conn
	channel string
	window  chan struct{}
	wmu     sync.Mutex

	mu       sync.Mutex
	seq      int
	sent     map[int]time.Time
	from, to time.Time
	acked    int
	errs     int
	lat      []time.Duration
}

func (c *ingestClient) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

func (c *ingestClient) read(p protocol) {
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		p.messages(msg, func(line []byte) {
			k, id := p.classify(line)
			switch k {
			case kindPing:
				_ = c.write([]byte(`{}`))
				return
			case kindAck, kindError:
			default:
				return
			}
			c.mu.Lock()
			at, ok := c.sent[id]
			delete(c.sent, id)
			if k == kindError {
				c.errs++
			} else if ok && !now.Before(c.from) && now.Before(c.to) {
				c.acked++
				c.lat = append(c.lat, now.Sub(at))
			}
			c.mu.Unlock()
			if ok {
				<-c.window
			}
		})
	}
}

func (c *ingestClient) run(p protocol, stop <-chan struct{}) {
	var frame []byte
	for {
		select {
		case c.window <- struct{}{}:
		case <-stop:
			return
		}
		c.mu.Lock()
		c.seq++
		id := c.seq
		c.sent[id] = time.Now()
		c.mu.Unlock()
		frame = p.publish(frame[:0], c.channel, id, fanoutText(id, time.Now()))
		if err := c.write(frame); err != nil {
			return
		}
	}
}

// runIngestShape connects -fanout.ingest-clients clients, each into its own
// channel, lets them publish for a second of warm-up and then for
// -fanout.ingest, and counts the acks (the gateway's ack frames,
// Centrifugo's publish replies) inside the measured interval.
func runIngestShape(ctx context.Context, b *testing.B, env *env, srv *server) ingestShape {
	b.Helper()
	clients := make([]*ingestClient, *fanoutClients)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range clients {
		g.Go(func() error {
			ch := srv.channel(i)
			conn, err := srv.proto.dial(ctx, ch, "i"+itoa(i))
			if err != nil {
				return err
			}
			c := &ingestClient{conn: conn, channel: ch, window: make(chan struct{}, *ingestWindow), sent: map[int]time.Time{}}
			clients[i] = c
			go pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) { c.read(srv.proto) })
			return nil
		})
	}
	err := g.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.conn.Close()
			}
		}
	}()
	if err != nil {
		b.Fatalf("%s: connect ingest clients: %v", srv.name, err)
	}
	from := time.Now().Add(time.Second)
	to := from.Add(*fanoutIngest)
	for _, c := range clients {
		c.mu.Lock()
		c.from, c.to = from, to
		c.mu.Unlock()
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("side", "client"), func(context.Context) {
		for _, c := range clients {
			writers.Go(func() { c.run(srv.proto, stop) })
		}
	})
	time.Sleep(time.Until(from))
	resetStats(ctx, b, env.rdb)
	cpu0, redis0, sysw0 := procCPU(srv.pid), redisCPU(ctx, env.rdb), procSyscw(srv.pid)
	waitProfile := func() {}
	if *fanoutProfile != "" {
		waitCPU := profileServer(b, srv, ".ingest.cpu.pprof", to.Sub(from))
		waitAllocs := fetchProfile(b, srv, "allocs", ".ingest.allocs.pprof", to.Sub(from))
		waitProfile = func() { waitCPU(); waitAllocs() }
	}
	time.Sleep(time.Until(to))
	cpu1, redis1, sysw1 := procCPU(srv.pid), redisCPU(ctx, env.rdb), procSyscw(srv.pid)
	stats := commandStats(ctx, env.rdb)
	close(stop)
	writers.Wait()
	waitProfile()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if outstanding(clients) == 0 {
			break
		}
	}
	var res ingestShape
	var lat []time.Duration
	acked := 0
	for _, c := range clients {
		c.mu.Lock()
		acked += c.acked
		res.errs += c.errs
		lat = append(lat, c.lat...)
		c.mu.Unlock()
	}
	if n := outstanding(clients); n > 0 {
		b.Errorf("%s: %d publishes still un-acked 10s after the clients stopped", srv.name, n)
	}
	sortDurations(lat)
	res.rate = float64(acked) / to.Sub(from).Seconds()
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	if acked > 0 {
		res.cpuPerEvent = micros(cpu1-cpu0, acked)
		res.redisPerEvt = micros(redis1-redis0, acked)
		res.redisCommands = formatCommandStats(stats, acked)
		res.syscallsPerEvent = float64(sysw1-sysw0) / float64(acked)
	}
	return res
}

func (c *ingestClient) unacked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}
