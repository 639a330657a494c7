// Package gateway serves viewers: the WebSocket endpoint that appends their
// events to party streams and fans the streams out to them, plus probes and
// metrics. It is this project's code, not a public API.
package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

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
}

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
		logging.Validate(c.LogFormat, c.LogLevel),
	)
	if c.ChatRate > 0 && c.ChatBurst == 0 {
		errs = append(errs, errors.New("WATCH_PARTY_CHAT_BURST must be positive when WATCH_PARTY_CHAT_RATE is set"))
	}
	if c.LikeRate > 0 && c.LikeBurst == 0 {
		errs = append(errs, errors.New("WATCH_PARTY_LIKE_BURST must be positive when WATCH_PARTY_LIKE_RATE is set"))
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
