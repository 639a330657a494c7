// Command gateway serves watch-party viewers over WebSockets: it appends
// their events to Redis streams and fans the streams out to every viewer.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/pkg/envflag"
	"github.com/watchparty/watchparty/pkg/gateway"
	"github.com/watchparty/watchparty/pkg/logging"
	"github.com/watchparty/watchparty/pkg/rdb"
	"github.com/watchparty/watchparty/pkg/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var cfg gateway.Config
	var shutdownMS int
	cmd := &cobra.Command{
		Use:           "gateway",
		Short:         "Serve watch-party viewers over WebSockets",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	b := envflag.New(cmd.Flags())
	b.String(&cfg.RedisURL, "redis-url", "REDIS_URL", "redis://localhost:6379/0", "Redis URL, or comma-separated host:port seeds of a Redis Cluster")
	b.Bool(&cfg.RedisCluster, "redis-cluster", "REDIS_CLUSTER", false, "treat a single REDIS_URL address as a Redis Cluster seed")
	b.String(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "postgres://postgres@localhost:5432/watchparty?sslmode=disable", "PostgreSQL URL")
	b.String(&cfg.Addr, "addr", "GATEWAY_ADDR", ":8080", "HTTP listen address")
	b.String(&cfg.DebugAddr, "debug-addr", "GATEWAY_DEBUG_ADDR", "", "listen address for Go profiles at /debug/pprof/ (off when empty; keep it private)")
	b.Int(&shutdownMS, "shutdown-timeout-ms", "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", 5000, "longest wait for in-flight work on SIGTERM/SIGINT")
	b.String(&cfg.AuthSecret, "auth-secret", "WATCH_PARTY_AUTH_SECRET", "", "HS256 secret for viewer tokens")
	b.Bool(&cfg.DevAuth, "dev-auth", "WATCH_PARTY_DEV_AUTH", false, "accept ?user=<id> without a token (development only)")
	b.Float(&cfg.ChatRate, "chat-rate", "WATCH_PARTY_CHAT_RATE", 5, "chats per second per user per party (0: no limit)")
	b.Int(&cfg.ChatBurst, "chat-burst", "WATCH_PARTY_CHAT_BURST", 10, "chat burst per user per party")
	b.Float(&cfg.LikeRate, "like-rate", "WATCH_PARTY_LIKE_RATE", 10, "likes per second per user per party (0: no limit)")
	b.Int(&cfg.LikeBurst, "like-burst", "WATCH_PARTY_LIKE_BURST", 10, "like burst per user per party")
	b.String(&cfg.AllowedOrigins, "allowed-origins", "WATCH_PARTY_ALLOWED_ORIGINS", "", "comma-separated browser origins allowed; * for any (default: same origin)")
	var maxBuffered int
	b.Int(&maxBuffered, "max-buffered-events", "WATCH_PARTY_MAX_BUFFERED_EVENTS", 1_000_000, "unflushed events one party may hold before events are refused")
	b.Float(&cfg.PlaybackRate, "playback-rate", "WATCH_PARTY_PLAYBACK_RATE", gateway.DefaultPlaybackRate, "play/pause/seek per second per user per party, per pod (0: no limit)")
	b.Int(&cfg.PlaybackBurst, "playback-burst", "WATCH_PARTY_PLAYBACK_BURST", gateway.DefaultPlaybackBurst, "play/pause/seek burst per user per party")
	b.Float(&cfg.JoinRate, "join-rate", "WATCH_PARTY_JOIN_RATE", gateway.DefaultJoinRate, "WebSocket joins per second per user, per pod (0: no limit)")
	b.Int(&cfg.JoinBurst, "join-burst", "WATCH_PARTY_JOIN_BURST", gateway.DefaultJoinBurst, "WebSocket join burst per user")
	b.Float(&cfg.IPJoinRate, "ip-join-rate", "WATCH_PARTY_IP_JOIN_RATE", gateway.DefaultIPJoinRate, "WebSocket joins per second per client address, per pod (0: no limit)")
	b.Int(&cfg.IPJoinBurst, "ip-join-burst", "WATCH_PARTY_IP_JOIN_BURST", gateway.DefaultIPJoinBurst, "WebSocket join burst per client address")
	b.Int(&cfg.MaxConnsPerUser, "max-conns-per-user", "WATCH_PARTY_MAX_CONNS_PER_USER", gateway.DefaultMaxConnsPerUser, "open connections of one user on this pod (0: no cap)")
	b.Int(&cfg.MaxConnsPerIP, "max-conns-per-ip", "WATCH_PARTY_MAX_CONNS_PER_IP", gateway.DefaultMaxConnsPerIP, "open connections from one client address on this pod (0: no cap)")
	b.Int(&cfg.MaxConnsPerParty, "max-conns-per-party", "WATCH_PARTY_MAX_CONNS_PER_PARTY", gateway.DefaultMaxConnsPerParty, "open connections of one party across all pods (0: no cap)")
	b.Int(&cfg.MaxConns, "max-conns", "WATCH_PARTY_MAX_CONNS", gateway.DefaultMaxConns, "open connections on this pod (0: no cap)")
	b.String(&cfg.TrustedProxies, "trusted-proxies", "WATCH_PARTY_TRUSTED_PROXIES", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default: none, use the peer address)")
	b.Int(&cfg.MaxActivePartiesPerHost, "max-active-parties-per-host", "WATCH_PARTY_MAX_ACTIVE_PARTIES_PER_HOST", gateway.DefaultMaxActivePartiesPerHost, "SCHEDULED+ONGOING parties one host may have (0: no cap)")
	b.Duration(&cfg.MaxPartyDuration, "max-party-duration", "WATCH_PARTY_MAX_PARTY_DURATION", gateway.DefaultMaxPartyDuration, "longest end_time - start_time of a new party")
	b.Duration(&cfg.ReadHeaderTimeout, "http-read-header-timeout", "WATCH_PARTY_HTTP_READ_HEADER_TIMEOUT", gateway.DefaultReadHeaderTimeout, "longest wait for a request's headers")
	b.Duration(&cfg.ReadTimeout, "http-read-timeout", "WATCH_PARTY_HTTP_READ_TIMEOUT", gateway.DefaultReadTimeout, "longest time to read a REST request (not WebSockets)")
	b.Duration(&cfg.WriteTimeout, "http-write-timeout", "WATCH_PARTY_HTTP_WRITE_TIMEOUT", gateway.DefaultWriteTimeout, "longest time to handle and answer a REST request (not WebSockets)")
	b.Duration(&cfg.IdleTimeout, "http-idle-timeout", "WATCH_PARTY_HTTP_IDLE_TIMEOUT", gateway.DefaultIdleTimeout, "longest idle keep-alive between requests")
	b.Int(&cfg.MaxBodyBytes, "max-body-bytes", "WATCH_PARTY_MAX_BODY_BYTES", gateway.DefaultMaxBodyBytes, "largest REST request body")
	b.Int(&cfg.PartyCacheSize, "party-cache-size", "WATCH_PARTY_PARTY_CACHE_SIZE", gateway.DefaultPartyCacheSize, "parties kept in the join cache (and as many unknown ids)")
	b.String(&cfg.LogFormat, "log-format", "LOG_FORMAT", "json", "log format: json or text")
	b.String(&cfg.LogLevel, "log-level", "LOG_LEVEL", "info", "log level: debug, info, warn, error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := b.Err(); err != nil {
			return err
		}
		cfg.ShutdownTimeout = time.Duration(shutdownMS) * time.Millisecond
		cfg.MaxBufferedEvents = int64(maxBuffered)
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("bad configuration:\n%w", err)
		}
		return run(cmd.Context(), cfg)
	}
	return cmd
}

func run(ctx context.Context, cfg gateway.Config) error {
	log, err := logging.New(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if cfg.DevAuth {
		log.Warn("DEV AUTH IS ON: anyone can connect as any user with ?user=<id>; never use this in production")
	}
	rc, err := rdb.Open(cfg.RedisURL, cfg.RedisCluster)
	if err != nil {
		return err
	}
	defer rc.Close()
	// Redis may still be starting: nothing here waits for it. Each part
	// retries until it answers, and /readyz says when events can be stored.
	go rdb.WarnIfEvicting(ctx, rc, log)
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	g, err := gateway.New(cfg, rc, db, log)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
