package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/olahol/melody"
	"golang.org/x/sync/errgroup"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/health"
	"github.com/watchparty/watchparty/internal/history"
	"github.com/watchparty/watchparty/internal/presence"
	"github.com/watchparty/watchparty/internal/protocol"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/room"
	"github.com/watchparty/watchparty/internal/shutdown"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/web"
)

// Frame limits of a viewer connection.
const (
	maxFrameBytes = 4096
	// melody's per-session buffer: 8 bytes a slot for every viewer, idle or
	// not. Frames are written as they come and back-to-back frames leave
	// in one write (coalescingConn), so a viewer that keeps up holds a few
	// (about 5 at 5,000 viewers × 40 chats/s). Frames beyond it wait in the
	// viewer's overflow, which only a viewer behind holds (room.Viewer).
	sendBuffer = 64
	// Queued frames at which a viewer counts as slow. The room is for
	// bursts a viewer did not cause, such as the entries the party's feed
	// catches up on after a Redis restart, which reach every viewer in one
	// round (a limit of 224 closed readers that kept up).
	sendLimit = 480
)

// Gateway is one gateway process: HTTP server, viewers and the parts that
// move their events. Create it with New and start it with Run or Serve.
type Gateway struct {
	cfg      Config
	rdb      rdb.Client
	log      *slog.Logger
	metrics  *Metrics
	verifier *auth.Verifier
	parties  *partyCache
	store    *store.Parties
	history  *history.Reader
	appender *stream.Appender
	feed     *stream.Feed
	presence *presence.Presence
	users    *presence.Users
	rooms    *room.Rooms
	melody   *melody.Melody
	site     *web.Site
	probes   *health.Probes
	limits   *limiters
	conns    *conns
	trusted  []netip.Prefix
	now      func() time.Time

	fullParties fullLog

	drainMu  sync.RWMutex
	draining bool
	inflight sync.WaitGroup // frames being handled
	sessions sync.WaitGroup // open connections, until their leave is recorded
	// lingering counts closed connections still draining (see lingerConn).
	lingering sync.WaitGroup
}

// New wires a gateway over rdb and db.
func New(cfg Config, rdb rdb.Client, db *pgxpool.Pool, log *slog.Logger) (*Gateway, error) {
	cfg = cfg.withDefaults()
	verifier, err := auth.NewVerifier(cfg.AuthSecret, cfg.DevAuth)
	if err != nil {
		return nil, err
	}
	trusted, err := ParseCIDRs(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("WATCH_PARTY_TRUSTED_PROXIES: %w", err)
	}
	parties := store.NewParties(db)
	metrics := NewMetrics()
	users := presence.NewUsers(rdb, cfg.MaxConnsPerUser, log.With("component", "users"))
	g := &Gateway{
		cfg:      cfg,
		rdb:      rdb,
		log:      log.With("component", "gateway"),
		metrics:  metrics,
		verifier: verifier,
		parties:  newPartyCache(parties, 2*time.Second, cfg.PartyCacheSize),
		store:    parties,
		history:  history.NewReader(rdb, store.NewChats(db)),
		appender: stream.NewAppender(rdb, stream.AppenderConfig{MaxBuffered: int64(cfg.MaxBufferedEvents),
			MinReplicas: cfg.MinReplicasAck, ReplicaTimeout: cfg.MinReplicasAckTimeout,
			OnReplicaShortfall: func(n int) { metrics.ReplicaShortfalls.Add(float64(n)) },
			Log:                log.With("component", "appender"),
			Rates:              sharedRates(cfg), MaxDeleted: int64(cfg.MaxDeletedPerParty)}),
		feed:     stream.NewFeed(rdb, log.With("component", "feed")),
		presence: presence.New(rdb),
		users:    users,
		limits:   newLimiters(cfg),
		conns:    newConns(cfg, users),
		trusted:  trusted,
		now:      time.Now,
	}
	g.rooms = room.NewRooms(rdb, g.feed, g.presence, g.log, func(t event.Type) {
		g.metrics.Broadcasts.WithLabelValues(string(t)).Inc()
	}, room.History{Reader: g.history, Size: cfg.WelcomeHistory})
	// Ready means events can be appended (the appender runs and its
	// script is loaded on Redis), not merely that Redis answers PING: the
	// event path needs nothing else, and a PostgreSQL outage must not take
	// every gateway out of rotation.
	g.probes = health.NewProbes(map[string]health.Check{
		"redis": g.appender.Ready,
	})
	g.melody = g.newMelody()
	if g.site, err = web.New(web.Options{MediaOrigins: cfg.MediaOrigins, PartyVideo: g.partyVideo}); err != nil {
		return nil, fmt.Errorf("load the web app: %w", err)
	}
	return g, nil
}

// Handler is the gateway's HTTP API.
// Metrics returns the gateway's Prometheus collectors (benchmarks read
// them to report what a run cost, such as replica-ack shortfalls).
func (g *Gateway) Metrics() *Metrics { return g.metrics }

func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws/parties/{id}", lingerOnClose(http.HandlerFunc(g.serveWS), &g.lingering))
	mux.Handle("GET /socket.io/", lingerOnClose(http.HandlerFunc(g.serveSocketIO), &g.lingering))
	g.registerAPI(mux)
	g.site.Register(mux) // the browser app: /, /p/{id}, /static/, /media/
	g.probes.Register(mux, g.metrics.Registry)
	return accessLog(g.log, restDeadlines(g.cfg.ReadTimeout, g.cfg.WriteTimeout, mux))
}

// Run listens on cfg.Addr and serves until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on GATEWAY_ADDR %q: %w", g.cfg.Addr, err)
	}
	return g.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down in this order:
// readiness turns false; the listener closes and no new frame is taken
// (frames get "unavailable"); in-flight appends finish and their acks are
// sent; viewers are closed with 1001 so they reconnect elsewhere; their
// leave events are appended; their sockets finish closing (lingerConn);
// then the background parts stop. The whole
// shutdown is bounded by cfg.ShutdownTimeout.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	debugLn, err := g.listenDebug()
	if err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var parts errgroup.Group
	parts.Go(func() error { return g.appender.Run(bg) })
	parts.Go(func() error { return g.feed.Run(bg) })
	parts.Go(func() error { return g.presence.Run(bg) })
	parts.Go(func() error { return g.users.Run(bg) })
	parts.Go(func() error { return g.rooms.Run(bg) })
	parts.Go(func() error { return g.serveDebug(bg, debugLn) })

	// No ReadTimeout or WriteTimeout here: they would be armed on the
	// connection of a WebSocket upgrade too. REST requests get them per
	// request (restDeadlines); upgraded connections have none.
	srv := &http.Server{Handler: g.Handler(), ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		IdleTimeout: g.cfg.IdleTimeout}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	g.log.Info("gateway listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		stopBG()
		_ = parts.Wait()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Quit: the steps below stop taking work one after the other; abort,
	// cfg.ShutdownTimeout later, bounds every wait for work in flight.
	st := shutdown.New(g.cfg.ShutdownTimeout, nil)
	defer st.Abort()
	st.Quit()
	deadline := st.Signals().Abort
	g.probes.Drain()
	_ = srv.Shutdown(deadline)
	g.drainMu.Lock()
	g.draining = true
	g.drainMu.Unlock()
	if !waitFor(deadline, &g.inflight) {
		g.log.Warn("shutdown timeout reached with frames still in flight")
	}
	g.rooms.CloseAll(protocol.CloseGoingAway, protocol.ReasonShuttingDown)
	g.closeUnjoined(protocol.CloseGoingAway, protocol.ReasonShuttingDown) // Socket.IO before its CONNECT
	if !waitFor(deadline, &g.sessions) {
		g.log.Warn("shutdown timeout reached with connections still open")
	}
	_ = g.melody.Close()
	if !waitFor(deadline, &g.lingering) {
		g.log.Warn("shutdown timeout reached with connections still closing")
	}
	stopBG()
	err = parts.Wait()
	g.log.Info("gateway stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// waitFor waits for wg until ctx ends and reports whether wg finished.
func waitFor(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
