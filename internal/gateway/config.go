package gateway

import (
	"strings"
	"time"

	"github.com/watchparty/watchparty/internal/history"
)

// Config is the gateway binary's configuration (SPEC §2). Settings
// declares, converts and checks its settings (settings.go).
type Config struct {
	RedisURL          string
	RedisCluster      bool
	DatabaseURL       string
	Addr              string
	DebugAddr         string // /debug/pprof listener; off when empty
	ShutdownTimeout   time.Duration
	AuthSecret        string
	DevAuth           bool
	AllowedOrigins    string
	MediaOrigins      string // origins the web app may play videos from besides its own (web.ParseMediaOrigins)
	MaxBufferedEvents int
	LogFormat         string
	LogLevel          string

	// Limits against abuse (README "Limits"). A rate of 0 and a cap of 0
	// turn that limit off.
	// EventRates is the limit of each rate class event kinds declare
	// (event.RateClass), by name: inbound frames per second per user per
	// party, per pod and again across pods in the append. A class without
	// a limit here, or with a rate of 0, is not limited.
	EventRates  map[string]*RateLimit
	JoinRate    float64 // WebSocket joins per second per user, per pod
	JoinBurst   int
	IPJoinRate  float64 // WebSocket joins per second per client address, per pod
	IPJoinBurst int

	// APIReadRate is REST reads of party data per second per user;
	// APIWriteRate REST writes (create, end, cancel); HistoryRate reads of
	// a party's chat history.
	APIReadRate   float64
	APIReadBurst  int
	APIWriteRate  float64
	APIWriteBurst int
	HistoryRate   float64
	HistoryBurst  int
	// IPv6Prefix is the prefix length by which IPv6 client addresses are
	// counted as one for the per-address limits (one host, one /64).
	IPv6Prefix int
	// MaxDeletedPerParty caps the chats of one party that deletes hide.
	MaxDeletedPerParty int

	MaxConnsPerUser  int // open connections of one user across all pods
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

	// MinReplicasAck > 0 acks an event only once that many Redis replicas
	// confirmed it (WAIT), waiting at most MinReplicasAckTimeout.
	MinReplicasAck        int
	MinReplicasAckTimeout time.Duration
	WelcomeHistory        int // last chats a new viewer's welcome carries; 0: none

	// SocketIOPingInterval and SocketIOPingTimeout are the Engine.IO
	// heartbeat of /socket.io/ connections (socketio.go).
	SocketIOPingInterval time.Duration
	SocketIOPingTimeout  time.Duration
}

// RateLimit is a token bucket's refill rate (tokens per second) and size.
type RateLimit struct {
	Rate  float64
	Burst int
}

// MaxWelcomeHistory is the most chats a welcome carries.
const MaxWelcomeHistory = history.MaxLimit

// Defaults of the settings whose zero value means nothing sensible, for a
// Config built in code (withDefaults); Settings declares them as the flags'
// defaults too. The other defaults are in Settings only.
const (
	DefaultIPv6Prefix            = 64
	DefaultMaxPartyDuration      = 7 * 24 * time.Hour
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultReadTimeout           = 15 * time.Second
	DefaultWriteTimeout          = 30 * time.Second
	DefaultIdleTimeout           = 2 * time.Minute
	DefaultMaxBodyBytes          = 64 << 10
	DefaultPartyCacheSize        = 10_000
	DefaultMinReplicasAckTimeout = 500 * time.Millisecond
	DefaultSocketIOPingInterval  = 25 * time.Second // Socket.IO's own defaults
	DefaultSocketIOPingTimeout   = 20 * time.Second
	// MaxMinReplicasAckTimeout keeps WAIT, the last command of an append
	// pipeline, inside the Redis client's 3 s read timeout for the whole
	// pipeline.
	MaxMinReplicasAckTimeout = 2 * time.Second
)

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
// by Settings. Zero rates and caps stay zero: those limits are off.
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
	def(&c.MinReplicasAckTimeout, DefaultMinReplicasAckTimeout)
	def(&c.SocketIOPingInterval, DefaultSocketIOPingInterval)
	def(&c.SocketIOPingTimeout, DefaultSocketIOPingTimeout)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.IPv6Prefix <= 0 {
		c.IPv6Prefix = DefaultIPv6Prefix
	}
	if c.PartyCacheSize <= 0 {
		c.PartyCacheSize = DefaultPartyCacheSize
	}
	return c
}
