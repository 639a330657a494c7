package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/watchparty/watchparty/internal/auth"
	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/event"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/web"
)

// Settings declares every setting of the gateway command, bound to c, in
// the order the docs list them: variable, flag, default, unit, meaning and
// checks. Redis, the database and logging are declared by the packages
// that own them; the event rate limits by the event kinds (eventRates).
// The defaults of c are the declared ones, not Config's zero values.
func Settings(c *Config) []envflag.Setting {
	const nn, pos = envflag.NonNegative, envflag.Positive
	return slices.Concat([]envflag.Setting{
		envflag.String{P: &c.Addr, Env: "GATEWAY_ADDR", Flag: "addr", Default: ":8080", NonEmpty: true,
			Help: "HTTP listen address",
			Doc:  "HTTP listen address for everything the gateway serves"},
		envflag.String{P: &c.DebugAddr, Env: "GATEWAY_DEBUG_ADDR", Flag: "debug-addr",
			Help: "listen address for Go profiles at /debug/pprof/ (off when empty; keep it private)",
			Doc: "off when unset; otherwise a separate listener serving Go's profiles at `/debug/pprof/` (CPU, heap, goroutines); " +
				"keep it on a private address, never behind the public load balancer"},
	}, rdb.Settings(&c.RedisURL, &c.RedisCluster), store.Settings(&c.DatabaseURL), []envflag.Setting{
		envflag.String{P: &c.AuthSecret, Env: "WATCH_PARTY_AUTH_SECRET", Flag: "auth-secret", Check: checkSecret,
			Help: "HS256 secret for viewer tokens",
			Doc: fmt.Sprintf("HS256 secret for viewer tokens, at least %d bytes (`openssl rand -base64 48`); "+
				"required unless dev auth is on", auth.MinSecretBytes)},
		envflag.Bool{P: &c.DevAuth, Env: "WATCH_PARTY_DEV_AUTH", Flag: "dev-auth",
			Help: "accept ?user=<id> without a token (development only)",
			Doc:  "accept `?user=<id>` without a token; local development and tests only (logged loudly)"},
		envflag.String{P: &c.AllowedOrigins, Env: "WATCH_PARTY_ALLOWED_ORIGINS", Flag: "allowed-origins", Check: checkOrigins,
			Help: "comma-separated browser origins allowed; * for any (default: same origin)",
			Doc: "comma-separated browser origins allowed to open WebSockets and call the REST API (CORS); `*` allows any; " +
				"unset means the gateway's own origin only. Requests without `Origin` (not browsers) are allowed"},
		envflag.String{P: &c.MediaOrigins, Env: "WATCH_PARTY_MEDIA_ORIGINS", Flag: "media-origins", Check: checkMediaOrigins,
			Help: "comma-separated origins the web app may play videos from, besides the gateway's own",
			Doc: "comma-separated origins (`https://cdn.example.com`) the web app may play party videos from, besides the " +
				"gateway's own: added to the pages' `media-src` (and, for an HLS party, to `connect-src`, as hls.js fetches the " +
				"playlist and segments; the CDN must then answer CORS). A party whose video is elsewhere shows a note instead " +
				"of a player. Unset: the gateway's own videos only"},
		envflag.Duration{P: &c.ShutdownTimeout, Env: "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", Flag: "shutdown-timeout-ms",
			Unit: envflag.Millis, Default: 5 * time.Second, Bound: pos,
			Help: "longest wait for in-flight work on SIGTERM/SIGINT",
			Doc:  "longest shutdown on SIGTERM/SIGINT: finish in-flight appends, close viewers with 1001, record their leaves"},
		envflag.Int{P: &c.MaxBufferedEvents, Env: "WATCH_PARTY_MAX_BUFFERED_EVENTS", Flag: "max-buffered-events",
			Default: 1_000_000, Bound: pos,
			Help: "unflushed events one party may hold before events are refused",
			Doc: "unflushed events one party's stream may hold; beyond it events are answered `unavailable` " +
				"instead of letting Redis run out of memory"},
	}, eventRates(c), []envflag.Setting{
		envflag.Float{P: &c.JoinRate, Env: "WATCH_PARTY_JOIN_RATE", Flag: "join-rate",
			Default: 5, Bound: nn,
			Help: "WebSocket joins per second per user, per pod (0: no limit)",
			Doc:  "WebSocket joins per second per user, per gateway (`429` beyond)"},
		envflag.Int{P: &c.JoinBurst, Env: "WATCH_PARTY_JOIN_BURST", Flag: "join-burst",
			Default: 30, Bound: nn,
			Help: "WebSocket join burst per user",
			Doc:  "join burst per user"},
		envflag.Float{P: &c.IPJoinRate, Env: "WATCH_PARTY_IP_JOIN_RATE", Flag: "ip-join-rate",
			Default: 100, Bound: nn,
			Help: "WebSocket joins per second per client address, per pod (0: no limit)",
			Doc:  "WebSocket joins per second per client address, per gateway (checked before the token)"},
		envflag.Int{P: &c.IPJoinBurst, Env: "WATCH_PARTY_IP_JOIN_BURST", Flag: "ip-join-burst",
			Default: 2000, Bound: nn,
			Help: "WebSocket join burst per client address",
			Doc:  "join burst per client address"},
		envflag.Float{P: &c.APIReadRate, Env: "WATCH_PARTY_API_READ_RATE", Flag: "api-read-rate",
			Default: 10, Bound: nn,
			Help: "REST reads of parties per second per user, per pod (0: no limit)",
			Doc:  "REST reads of parties (`GET /api/parties`, `GET …/{id}`, `GET …/moderation`) per second per user, per gateway (`429`)"},
		envflag.Int{P: &c.APIReadBurst, Env: "WATCH_PARTY_API_READ_BURST", Flag: "api-read-burst",
			Default: 50, Bound: nn,
			Help: "REST read burst per user"},
		envflag.Float{P: &c.APIWriteRate, Env: "WATCH_PARTY_API_WRITE_RATE", Flag: "api-write-rate",
			Default: 1, Bound: nn,
			Help: "REST writes (create, end, cancel) per second per user, per pod (0: no limit)",
			Doc:  "REST writes (`POST /api/parties`, `…/end`, `…/cancel`) per second per user, per gateway (`429`)"},
		envflag.Int{P: &c.APIWriteBurst, Env: "WATCH_PARTY_API_WRITE_BURST", Flag: "api-write-burst",
			Default: 10, Bound: nn,
			Help: "REST write burst per user"},
		envflag.Float{P: &c.HistoryRate, Env: "WATCH_PARTY_HISTORY_RATE", Flag: "history-rate",
			Default: 2, Bound: nn,
			Help: "chat history reads per second per user, per pod (0: no limit)",
			Doc:  "`GET /api/parties/{id}/chats` per second per user, per gateway (`429`)"},
		envflag.Int{P: &c.HistoryBurst, Env: "WATCH_PARTY_HISTORY_BURST", Flag: "history-burst",
			Default: 20, Bound: nn,
			Help: "chat history read burst per user"},
		envflag.Int{P: &c.IPv6Prefix, Env: "WATCH_PARTY_IPV6_PREFIX", Flag: "ipv6-prefix",
			Default: DefaultIPv6Prefix, Bound: pos,
			Help: "IPv6 prefix length counted as one client address by the per-address limits (1 to 128)",
			Doc: "prefix length by which IPv6 clients are grouped for the per-address limits (`WATCH_PARTY_IP_JOIN_RATE`, " +
				"`WATCH_PARTY_MAX_CONNS_PER_IP`): one host usually holds a whole /64, so counting its addresses one by one " +
				"would let it bypass them; 1 to 128"},
		envflag.Int{P: &c.MaxDeletedPerParty, Env: "WATCH_PARTY_MAX_DELETED_PER_PARTY", Flag: "max-deleted-per-party",
			Default: 10_000, Bound: pos,
			Help: "chats of one party that deletes may hide",
			Doc:  "chats of one party that deletes may hide; a delete beyond it is answered `rate_limited`"},
		envflag.Int{P: &c.MaxConnsPerUser, Env: "WATCH_PARTY_MAX_CONNS_PER_USER", Flag: "max-conns-per-user",
			Default: 20, Bound: nn,
			Help: "open connections of one user across all pods (0: no cap)",
			Doc:  "open connections of one user across all gateways, counted in Redis (`429`)"},
		envflag.Int{P: &c.MaxConnsPerIP, Env: "WATCH_PARTY_MAX_CONNS_PER_IP", Flag: "max-conns-per-ip",
			Default: 5000, Bound: nn,
			Help: "open connections from one client address on this pod (0: no cap)",
			Doc:  "open connections from one client address on this gateway (`429`)"},
		envflag.Int{P: &c.MaxConnsPerParty, Env: "WATCH_PARTY_MAX_CONNS_PER_PARTY", Flag: "max-conns-per-party",
			Default: 100_000, Bound: nn,
			Help: "open connections of one party across all pods (0: no cap)",
			Doc:  "open connections of one party across all gateways (the live viewer count; `429`)"},
		envflag.Int{P: &c.MaxConns, Env: "WATCH_PARTY_MAX_CONNS", Flag: "max-conns",
			Default: 20_000, Bound: nn,
			Help: "open connections on this pod (0: no cap)",
			Doc:  "open connections on this gateway (`503`)"},
		envflag.String{P: &c.TrustedProxies, Env: "WATCH_PARTY_TRUSTED_PROXIES", Flag: "trusted-proxies",
			Check: func(v string) error { _, err := ParseCIDRs(v); return err },
			Help:  "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default: none, use the peer address)",
			Doc: "comma-separated CIDRs or addresses of load balancers whose `X-Forwarded-For` is believed; " +
				"unset: the TCP peer is the client. List your balancers, or all viewers share the balancer's per-address limits"},
		envflag.Int{P: &c.MaxActivePartiesPerHost, Env: "WATCH_PARTY_MAX_ACTIVE_PARTIES_PER_HOST", Flag: "max-active-parties-per-host",
			Default: 200, Bound: nn,
			Help: "SCHEDULED+ONGOING parties one host may have (0: no cap)",
			Doc:  "`SCHEDULED` + `ONGOING` parties one host may have (`409` on create)"},
		envflag.Duration{P: &c.MaxPartyDuration, Env: "WATCH_PARTY_MAX_PARTY_DURATION", Flag: "max-party-duration",
			Default: DefaultMaxPartyDuration, Bound: pos,
			Help: "longest end_time - start_time of a new party",
			Doc:  "longest `end_time − start_time` of a new party"},
		envflag.Int{P: &c.MaxBodyBytes, Env: "WATCH_PARTY_MAX_BODY_BYTES", Flag: "max-body-bytes",
			Default: DefaultMaxBodyBytes, Bound: pos,
			Help: "largest REST request body"},
		envflag.Duration{P: &c.ReadHeaderTimeout, Env: "WATCH_PARTY_HTTP_READ_HEADER_TIMEOUT", Flag: "http-read-header-timeout",
			Default: DefaultReadHeaderTimeout, Bound: pos,
			Help: "longest wait for a request's headers"},
		envflag.Duration{P: &c.ReadTimeout, Env: "WATCH_PARTY_HTTP_READ_TIMEOUT", Flag: "http-read-timeout",
			Default: DefaultReadTimeout, Bound: pos,
			Help: "longest time to read a REST request (not WebSockets)",
			Doc:  "longest time to read a REST request body (not WebSockets)"},
		envflag.Duration{P: &c.WriteTimeout, Env: "WATCH_PARTY_HTTP_WRITE_TIMEOUT", Flag: "http-write-timeout",
			Default: DefaultWriteTimeout, Bound: pos,
			Help: "longest time to handle and answer a REST request (not WebSockets)"},
		envflag.Duration{P: &c.IdleTimeout, Env: "WATCH_PARTY_HTTP_IDLE_TIMEOUT", Flag: "http-idle-timeout",
			Default: DefaultIdleTimeout, Bound: pos,
			Help: "longest idle keep-alive between requests"},
		envflag.Int{P: &c.PartyCacheSize, Env: "WATCH_PARTY_PARTY_CACHE_SIZE", Flag: "party-cache-size",
			Default: DefaultPartyCacheSize, Bound: pos,
			Help: "parties kept in the join cache (and as many unknown ids)"},
		envflag.Int{P: &c.MinReplicasAck, Env: "WATCH_PARTY_MIN_REPLICAS_ACK", Flag: "min-replicas-ack", Bound: nn,
			Help: "Redis replicas that must confirm an event (WAIT) before it is acked (0: the master's reply is enough)",
			Doc: "Redis replicas that must hold an event before the client gets its ack: each append pipeline ends with " +
				"`WAIT <n> <timeout>`; when fewer confirm, its events are answered `unavailable` (the client resends, " +
				"deduplicated by its id) and counted in `watch_party_replica_ack_shortfalls_total`. " +
				"0 acks on the master's reply. Not with Redis Cluster"},
		envflag.Duration{P: &c.MinReplicasAckTimeout, Env: "WATCH_PARTY_MIN_REPLICAS_ACK_TIMEOUT_MS", Flag: "min-replicas-ack-timeout-ms",
			Unit: envflag.Millis, Default: DefaultMinReplicasAckTimeout, Bound: pos,
			Help: "longest WAIT for WATCH_PARTY_MIN_REPLICAS_ACK replicas",
			Doc: fmt.Sprintf("longest `WAIT` for `WATCH_PARTY_MIN_REPLICAS_ACK` replicas, at most %d ms (the pipeline's read timeout)",
				MaxMinReplicasAckTimeout.Milliseconds())},
		envflag.Int{P: &c.WelcomeHistory, Env: "WATCH_PARTY_WELCOME_HISTORY", Flag: "welcome-history",
			Default: 50, Bound: nn,
			Help: fmt.Sprintf("last chats a new viewer's welcome carries, 0 to %d (0: none)", MaxWelcomeHistory),
			Doc: fmt.Sprintf("how many of the party's last chats the `welcome` of a new viewer (not one resuming with `since`) "+
				"carries in `history`, flushed or not; 0 to %d, 0 sends none", MaxWelcomeHistory)},
		envflag.Duration{P: &c.SocketIOPingInterval, Env: "WATCH_PARTY_SOCKETIO_PING_INTERVAL", Flag: "socketio-ping-interval",
			Default: DefaultSocketIOPingInterval, Bound: pos,
			Help: "Socket.IO (Engine.IO) pingInterval: how often the gateway pings a /socket.io/ client"},
		envflag.Duration{P: &c.SocketIOPingTimeout, Env: "WATCH_PARTY_SOCKETIO_PING_TIMEOUT", Flag: "socketio-ping-timeout",
			Default: DefaultSocketIOPingTimeout, Bound: pos,
			Help: "Socket.IO (Engine.IO) pingTimeout: how long a ping waits for its pong before the connection is closed"},
	}, logging.Settings(&c.LogFormat, &c.LogLevel))
}

// Rules declares the checks that relate several settings of c; they run
// once each setting Settings declared is converted and checked.
func Rules(c *Config) []func() error {
	return append(eventRateRules(c), []func() error{
		func() error {
			if c.WelcomeHistory > MaxWelcomeHistory {
				return fmt.Errorf("WATCH_PARTY_WELCOME_HISTORY %d is over %d", c.WelcomeHistory, MaxWelcomeHistory)
			}
			return nil
		},
		func() error {
			if c.AuthSecret == "" && !c.DevAuth {
				return errors.New("WATCH_PARTY_AUTH_SECRET is required unless WATCH_PARTY_DEV_AUTH=true")
			}
			return nil
		},
		func() error {
			if c.MinReplicasAck > 0 && rdb.IsCluster(c.RedisURL, c.RedisCluster) {
				return errors.New("WATCH_PARTY_MIN_REPLICAS_ACK cannot be used with Redis Cluster: " +
					"WAIT counts one shard's replicas, and an append pipeline spans shards")
			}
			if c.MinReplicasAckTimeout > MaxMinReplicasAckTimeout {
				return fmt.Errorf("WATCH_PARTY_MIN_REPLICAS_ACK_TIMEOUT_MS must be at most %d, got %d",
					MaxMinReplicasAckTimeout.Milliseconds(), c.MinReplicasAckTimeout.Milliseconds())
			}
			return nil
		},
		burstRule(&c.JoinRate, &c.JoinBurst, "WATCH_PARTY_JOIN"),
		burstRule(&c.IPJoinRate, &c.IPJoinBurst, "WATCH_PARTY_IP_JOIN"),
		burstRule(&c.APIReadRate, &c.APIReadBurst, "WATCH_PARTY_API_READ"),
		burstRule(&c.APIWriteRate, &c.APIWriteBurst, "WATCH_PARTY_API_WRITE"),
		burstRule(&c.HistoryRate, &c.HistoryBurst, "WATCH_PARTY_HISTORY"),
		func() error {
			if c.IPv6Prefix > 128 {
				return fmt.Errorf("WATCH_PARTY_IPV6_PREFIX must be from 1 to 128, got %d", c.IPv6Prefix)
			}
			return nil
		},
	}...)
}

func checkSecret(s string) error {
	if s != "" && len(s) < auth.MinSecretBytes {
		return fmt.Errorf("must be at least %d bytes, got %d (generate one with: openssl rand -base64 48)",
			auth.MinSecretBytes, len(s))
	}
	return nil
}

func checkMediaOrigins(list string) error {
	_, err := web.ParseMediaOrigins(list)
	return err
}

func checkOrigins(list string) error {
	var errs []error
	for _, o := range (Config{AllowedOrigins: list}).Origins() {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("%q is not an origin like https://example.com", o))
		}
	}
	return errors.Join(errs...)
}

// burstRule refuses a rate limit with no burst: no event would ever pass.
func burstRule(rate *float64, burst *int, prefix string) func() error {
	return func() error {
		if *rate > 0 && *burst == 0 {
			return fmt.Errorf("%s_BURST must be positive when %s_RATE is set", prefix, prefix)
		}
		return nil
	}
}

// eventRates declares the settings of every rate class the event kinds
// declare (event.RateClass): WATCH_PARTY_<CLASS>_RATE and _BURST, bound to
// a RateLimit it puts in c.EventRates, with the class's defaults.
func eventRates(c *Config) []envflag.Setting {
	const nn = envflag.NonNegative
	if c.EventRates == nil {
		c.EventRates = make(map[string]*RateLimit)
	}
	var out []envflag.Setting
	for _, class := range event.RateClasses() {
		l := &RateLimit{}
		c.EventRates[class.Name] = l
		env := rateEnv(class.Name)
		out = append(out,
			envflag.Float{P: &l.Rate, Env: env + "_RATE", Flag: class.Name + "-rate", Default: class.Rate, Bound: nn,
				Help: class.RateHelp, Doc: class.RateDoc},
			envflag.Int{P: &l.Burst, Env: env + "_BURST", Flag: class.Name + "-burst", Default: class.Burst, Bound: nn,
				Help: class.BurstHelp, Doc: class.BurstDoc})
	}
	return out
}

// eventRateRules refuses each rate class's rate without a burst. A rule
// reads the limit eventRates put in c.EventRates when it runs, after
// parsing.
func eventRateRules(c *Config) []func() error {
	var rules []func() error
	for _, class := range event.RateClasses() {
		rules = append(rules, func() error {
			l := c.EventRates[class.Name]
			if l == nil {
				return nil
			}
			return burstRule(&l.Rate, &l.Burst, rateEnv(class.Name))()
		})
	}
	return rules
}

func rateEnv(class string) string { return "WATCH_PARTY_" + strings.ToUpper(class) }
