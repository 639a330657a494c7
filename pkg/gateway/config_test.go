package gateway

import (
	"strings"
	"testing"
	"time"
)

// validConfig is a configuration that passes Validate, with the defaults
// of cmd/gateway.
func validConfig() Config {
	return Config{
		RedisURL: "redis://localhost:6379/0", DatabaseURL: "postgres://postgres@localhost:5432/watchparty",
		Addr: ":8080", ShutdownTimeout: 5 * time.Second, DevAuth: true,
		ChatRate: 5, ChatBurst: 10, LikeRate: 10, LikeBurst: 10, MaxBufferedEvents: 1000,
		LogFormat: "json", LogLevel: "info",
		PlaybackRate: DefaultPlaybackRate, PlaybackBurst: DefaultPlaybackBurst,
		JoinRate: DefaultJoinRate, JoinBurst: DefaultJoinBurst,
		IPJoinRate: DefaultIPJoinRate, IPJoinBurst: DefaultIPJoinBurst,
		MaxConnsPerUser: DefaultMaxConnsPerUser, MaxConnsPerIP: DefaultMaxConnsPerIP,
		MaxConnsPerParty: DefaultMaxConnsPerParty, MaxConns: DefaultMaxConns,
		MaxActivePartiesPerHost: DefaultMaxActivePartiesPerHost, MaxPartyDuration: DefaultMaxPartyDuration,
		ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout,
		MaxBodyBytes: DefaultMaxBodyBytes, PartyCacheSize: DefaultPartyCacheSize,
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" for valid; else a part of the error
	}{
		{"defaults", func(*Config) {}, ""},
		{"limits off", func(c *Config) {
			c.PlaybackRate, c.JoinRate, c.IPJoinRate = 0, 0, 0
			c.MaxConnsPerUser, c.MaxConnsPerIP, c.MaxConnsPerParty, c.MaxConns, c.MaxActivePartiesPerHost = 0, 0, 0, 0, 0
		}, ""},
		{"secret of 32 bytes", func(c *Config) { c.AuthSecret, c.DevAuth = strings.Repeat("k", 32), false }, ""},
		{"secret of 31 bytes", func(c *Config) { c.AuthSecret = strings.Repeat("k", 31) }, "WATCH_PARTY_AUTH_SECRET must be at least 32 bytes"},
		{"short secret with dev auth", func(c *Config) { c.AuthSecret = "change-me" }, "WATCH_PARTY_AUTH_SECRET"},
		{"no secret without dev auth", func(c *Config) { c.DevAuth = false }, "WATCH_PARTY_AUTH_SECRET is required"},
		{"negative playback rate", func(c *Config) { c.PlaybackRate = -1 }, "WATCH_PARTY_PLAYBACK_RATE"},
		{"playback rate without burst", func(c *Config) { c.PlaybackBurst = 0 }, "WATCH_PARTY_PLAYBACK_BURST must be positive"},
		{"join rate without burst", func(c *Config) { c.JoinBurst = 0 }, "WATCH_PARTY_JOIN_BURST must be positive"},
		{"ip join rate without burst", func(c *Config) { c.IPJoinBurst = 0 }, "WATCH_PARTY_IP_JOIN_BURST must be positive"},
		{"negative user cap", func(c *Config) { c.MaxConnsPerUser = -1 }, "WATCH_PARTY_MAX_CONNS_PER_USER"},
		{"negative ip cap", func(c *Config) { c.MaxConnsPerIP = -1 }, "WATCH_PARTY_MAX_CONNS_PER_IP"},
		{"negative party cap", func(c *Config) { c.MaxConnsPerParty = -5 }, "WATCH_PARTY_MAX_CONNS_PER_PARTY"},
		{"negative pod cap", func(c *Config) { c.MaxConns = -1 }, "WATCH_PARTY_MAX_CONNS"},
		{"negative party count", func(c *Config) { c.MaxActivePartiesPerHost = -1 }, "WATCH_PARTY_MAX_ACTIVE_PARTIES_PER_HOST"},
		{"zero duration", func(c *Config) { c.MaxPartyDuration = 0 }, "WATCH_PARTY_MAX_PARTY_DURATION"},
		{"zero header timeout", func(c *Config) { c.ReadHeaderTimeout = 0 }, "WATCH_PARTY_HTTP_READ_HEADER_TIMEOUT"},
		{"zero read timeout", func(c *Config) { c.ReadTimeout = 0 }, "WATCH_PARTY_HTTP_READ_TIMEOUT"},
		{"negative write timeout", func(c *Config) { c.WriteTimeout = -time.Second }, "WATCH_PARTY_HTTP_WRITE_TIMEOUT"},
		{"zero idle timeout", func(c *Config) { c.IdleTimeout = 0 }, "WATCH_PARTY_HTTP_IDLE_TIMEOUT"},
		{"zero body cap", func(c *Config) { c.MaxBodyBytes = 0 }, "WATCH_PARTY_MAX_BODY_BYTES"},
		{"zero cache", func(c *Config) { c.PartyCacheSize = 0 }, "WATCH_PARTY_PARTY_CACHE_SIZE"},
		{"trusted proxies", func(c *Config) { c.TrustedProxies = "10.0.0.0/8, 192.168.1.7,fd00::/8" }, ""},
		{"bad trusted proxy", func(c *Config) { c.TrustedProxies = "10.0.0.0/8,lb.internal" }, "WATCH_PARTY_TRUSTED_PROXIES"},
		{"bad trusted prefix", func(c *Config) { c.TrustedProxies = "10.0.0.0/33" }, "WATCH_PARTY_TRUSTED_PROXIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error naming %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
