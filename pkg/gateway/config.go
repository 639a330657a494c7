package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/watchparty/watchparty/pkg/auth"
	"github.com/watchparty/watchparty/pkg/envflag"
	"github.com/watchparty/watchparty/pkg/logging"
	"github.com/watchparty/watchparty/pkg/rdb"
)

// Config is the gateway binary's configuration (SPEC §2).
type Config struct {
	RedisURL          string
	RedisCluster      bool
	DatabaseURL       string
	Addr              string
	DebugAddr         string // /debug/pprof listener; off when empty
	ShutdownTimeout   time.Duration
	AuthSecret        string
	DevAuth           bool
	ChatRate          float64
	ChatBurst         int
	LikeRate          float64
	LikeBurst         int
	AllowedOrigins    string
	MaxBufferedEvents int64
	LogFormat         string
	LogLevel          string

	// Limits against abuse (README "Limits"). A rate of 0 and a cap of 0
	// turn that limit off.
	PlaybackRate  float64 // play/pause/seek per second per user per party, per pod
	PlaybackBurst int
	JoinRate      float64 // WebSocket joins per second per user, per pod
	JoinBurst     int
	IPJoinRate    float64 // WebSocket joins per second per client address, per pod
	IPJoinBurst   int

	MaxConnsPerUser  int // open connections of one user on this pod
	MaxConnsPerIP    int // open connections from one client address on this pod
	MaxConnsPerParty int // open connections of one party across all pods
	MaxConns         int // open connections on this pod

	// TrustedProxies lists the CIDRs (comma-separated) of load balancers
	// whose X-Forwarded-For is believed; empty means RemoteAddr only.
	TrustedProxies string

	MaxActivePartiesPerHost int           // SCHEDULED+ONGOING parties one host may have
	MaxPartyDuration        time.Duration // longest end_time - start_time

	ReadHeaderTimeout time.Duration // http.Server: request line and headers
	ReadTimeout       time.Duration // REST: whole request body
	WriteTimeout      time.Duration // REST: handler and response
	IdleTimeout       time.Duration // keep-alive connection between requests
	MaxBodyBytes      int           // REST request body

	PartyCacheSize int // parties kept in the join cache, and as many unknown ids
}

// Defaults of the limits, also used by cmd/gateway for its flags.
const (
	DefaultPlaybackRate            = 10
	DefaultPlaybackBurst           = 50
	DefaultJoinRate                = 5
	DefaultJoinBurst               = 30
	DefaultIPJoinRate              = 100
	DefaultIPJoinBurst             = 2000
	DefaultMaxConnsPerUser         = 20
	DefaultMaxConnsPerIP           = 5000
	DefaultMaxConnsPerParty        = 100_000
	DefaultMaxConns                = 20_000
	DefaultMaxActivePartiesPerHost = 200
	DefaultMaxPartyDuration        = 7 * 24 * time.Hour
	DefaultReadHeaderTimeout       = 10 * time.Second
	DefaultReadTimeout             = 15 * time.Second
	DefaultWriteTimeout            = 30 * time.Second
	DefaultIdleTimeout             = 2 * time.Minute
	DefaultMaxBodyBytes            = 64 << 10
	DefaultPartyCacheSize          = 10_000
)

// Validate checks every setting and names the variable of a bad one.
func (c *Config) Validate() error {
	var errs []error
	if err := rdb.Validate(c.RedisURL, c.RedisCluster); err != nil {
		errs = append(errs, fmt.Errorf("REDIS_URL: %w", err))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, fmt.Errorf("DATABASE_URL %q: want postgres://user@host:port/db", c.DatabaseURL))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("GATEWAY_ADDR must not be empty"))
	}
	if c.AuthSecret == "" && !c.DevAuth {
		errs = append(errs, errors.New("WATCH_PARTY_AUTH_SECRET is required unless WATCH_PARTY_DEV_AUTH=true"))
	}
	if c.AuthSecret != "" && len(c.AuthSecret) < auth.MinSecretBytes {
		errs = append(errs, fmt.Errorf("WATCH_PARTY_AUTH_SECRET must be at least %d bytes, got %d (generate one with: openssl rand -base64 48)",
			auth.MinSecretBytes, len(c.AuthSecret)))
	}
	if _, err := ParseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("WATCH_PARTY_TRUSTED_PROXIES: %w", err))
	}
	for _, o := range c.Origins() {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("WATCH_PARTY_ALLOWED_ORIGINS: %q is not an origin like https://example.com", o))
		}
	}
	errs = append(errs,
		envflag.Positive("WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", c.ShutdownTimeout),
		envflag.NonNegative("WATCH_PARTY_CHAT_RATE", c.ChatRate),
		envflag.NonNegative("WATCH_PARTY_CHAT_BURST", c.ChatBurst),
		envflag.NonNegative("WATCH_PARTY_LIKE_RATE", c.LikeRate),
		envflag.NonNegative("WATCH_PARTY_LIKE_BURST", c.LikeBurst),
		envflag.Positive("WATCH_PARTY_MAX_BUFFERED_EVENTS", c.MaxBufferedEvents),
		envflag.NonNegative("WATCH_PARTY_PLAYBACK_RATE", c.PlaybackRate),
		envflag.NonNegative("WATCH_PARTY_PLAYBACK_BURST", c.PlaybackBurst),
		envflag.NonNegative("WATCH_PARTY_JOIN_RATE", c.JoinRate),
		envflag.NonNegative("WATCH_PARTY_JOIN_BURST", c.JoinBurst),
		envflag.NonNegative("WATCH_PARTY_IP_JOIN_RATE", c.IPJoinRate),
		envflag.NonNegative("WATCH_PARTY_IP_JOIN_BURST", c.IPJoinBurst),
		envflag.NonNegative("WATCH_PARTY_MAX_CONNS_PER_USER", c.MaxConnsPerUser),
		envflag.NonNegative("WATCH_PARTY_MAX_CONNS_PER_IP", c.MaxConnsPerIP),
		envflag.NonNegative("WATCH_PARTY_MAX_CONNS_PER_PARTY", c.MaxConnsPerParty),
		envflag.NonNegative("WATCH_PARTY_MAX_CONNS", c.MaxConns),
		envflag.NonNegative("WATCH_PARTY_MAX_ACTIVE_PARTIES_PER_HOST", c.MaxActivePartiesPerHost),
		envflag.Positive("WATCH_PARTY_MAX_PARTY_DURATION", c.MaxPartyDuration),
		envflag.Positive("WATCH_PARTY_HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout),
		envflag.Positive("WATCH_PARTY_HTTP_READ_TIMEOUT", c.ReadTimeout),
		envflag.Positive("WATCH_PARTY_HTTP_WRITE_TIMEOUT", c.WriteTimeout),
		envflag.Positive("WATCH_PARTY_HTTP_IDLE_TIMEOUT", c.IdleTimeout),
		envflag.Positive("WATCH_PARTY_MAX_BODY_BYTES", c.MaxBodyBytes),
		envflag.Positive("WATCH_PARTY_PARTY_CACHE_SIZE", c.PartyCacheSize),
		logging.Validate(c.LogFormat, c.LogLevel),
	)
	for _, r := range []struct {
		rate  float64
		burst int
		name  string
	}{
		{c.ChatRate, c.ChatBurst, "WATCH_PARTY_CHAT"},
		{c.LikeRate, c.LikeBurst, "WATCH_PARTY_LIKE"},
		{c.PlaybackRate, c.PlaybackBurst, "WATCH_PARTY_PLAYBACK"},
		{c.JoinRate, c.JoinBurst, "WATCH_PARTY_JOIN"},
		{c.IPJoinRate, c.IPJoinBurst, "WATCH_PARTY_IP_JOIN"},
	} {
		if r.rate > 0 && r.burst == 0 {
			errs = append(errs, fmt.Errorf("%s_BURST must be positive when %s_RATE is set", r.name, r.name))
		}
	}
	return errors.Join(errs...)
}

// Origins lists the allowed browser origins; empty means same origin only.
func (c Config) Origins() []string {
	var out []string
	for _, o := range strings.Split(c.AllowedOrigins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// withDefaults fills the settings whose zero value means nothing sensible
// (sizes, durations, timeouts) for configurations built in code rather than
// by cmd/gateway. Zero rates and caps stay zero: those limits are off.
func (c Config) withDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	def(&c.MaxPartyDuration, DefaultMaxPartyDuration)
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.PartyCacheSize <= 0 {
		c.PartyCacheSize = DefaultPartyCacheSize
	}
	return c
}
