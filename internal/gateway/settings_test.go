package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/envflag/envflagtest"
	"github.com/watchparty/watchparty/internal/gateway"
)

// command is the gateway command as internal/config assembles it.
func command(c *gateway.Config) envflag.Command {
	return envflag.Command{Name: "gateway", Settings: gateway.Settings(c), Rules: gateway.Rules(c)}
}

func TestGatewaySettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // "" for valid; else a part of the error
	}{
		{"defaults", nil, ""},
		{"limits off", []string{"--playback-rate=0", "--join-rate=0", "--ip-join-rate=0", "--max-conns-per-user=0",
			"--max-conns-per-ip=0", "--max-conns-per-party=0", "--max-conns=0", "--max-active-parties-per-host=0"}, ""},
		{"secret of 32 bytes", []string{"--dev-auth=false", "--auth-secret=" + strings.Repeat("k", 32)}, ""},
		{"secret of 31 bytes", []string{"--auth-secret=" + strings.Repeat("k", 31)}, "WATCH_PARTY_AUTH_SECRET: must be at least 32 bytes, got 31"},
		{"no secret without dev auth", []string{"--dev-auth=false"}, "WATCH_PARTY_AUTH_SECRET is required unless WATCH_PARTY_DEV_AUTH=true"},
		{"empty address", []string{"--addr="}, "GATEWAY_ADDR must not be empty"},
		{"bad redis url", []string{"--redis-url=http://x"}, "REDIS_URL: "},
		{"bad database url", []string{"--database-url=mysql://x/y"}, `DATABASE_URL: "mysql://x/y": want postgres://`},
		{"postgresql scheme", []string{"--database-url=postgresql://x/y"}, ""},
		{"bad log level", []string{"--log-level=loud"}, `LOG_LEVEL: "loud"`},
		{"bad log format", []string{"--log-format=xml"}, `LOG_FORMAT: "xml"`},
		{"bad origin", []string{"--allowed-origins=https://ok.example, nohost"}, `WATCH_PARTY_ALLOWED_ORIGINS: "nohost" is not an origin`},
		{"any origin", []string{"--allowed-origins=*"}, ""},
		{"no welcome history", []string{"--welcome-history=0"}, ""},
		{"most welcome history", []string{"--welcome-history=200"}, ""},
		{"welcome history over the cap", []string{"--welcome-history=201"}, "WATCH_PARTY_WELCOME_HISTORY 201 is over 200"},
		{"negative welcome history", []string{"--welcome-history=-1"}, "WATCH_PARTY_WELCOME_HISTORY must not be negative"},
		{"zero shutdown", []string{"--shutdown-timeout-ms=0"}, "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS must be positive, got 0"},
		{"zero buffer", []string{"--max-buffered-events=0"}, "WATCH_PARTY_MAX_BUFFERED_EVENTS must be positive"},
		{"negative chat rate", []string{"--chat-rate=-1"}, "WATCH_PARTY_CHAT_RATE must not be negative, got -1"},
		{"chat rate without burst", []string{"--chat-burst=0"}, "WATCH_PARTY_CHAT_BURST must be positive when WATCH_PARTY_CHAT_RATE is set"},
		{"like rate without burst", []string{"--like-burst=0"}, "WATCH_PARTY_LIKE_BURST must be positive"},
		{"no burst needed without rate", []string{"--like-rate=0", "--like-burst=0"}, ""},
		{"negative playback rate", []string{"--playback-rate=-1"}, "WATCH_PARTY_PLAYBACK_RATE"},
		{"playback rate without burst", []string{"--playback-burst=0"}, "WATCH_PARTY_PLAYBACK_BURST must be positive"},
		{"join rate without burst", []string{"--join-burst=0"}, "WATCH_PARTY_JOIN_BURST must be positive"},
		{"ip join rate without burst", []string{"--ip-join-burst=0"}, "WATCH_PARTY_IP_JOIN_BURST must be positive"},
		{"negative user cap", []string{"--max-conns-per-user=-1"}, "WATCH_PARTY_MAX_CONNS_PER_USER"},
		{"negative ip cap", []string{"--max-conns-per-ip=-1"}, "WATCH_PARTY_MAX_CONNS_PER_IP"},
		{"negative party cap", []string{"--max-conns-per-party=-5"}, "WATCH_PARTY_MAX_CONNS_PER_PARTY"},
		{"negative pod cap", []string{"--max-conns=-1"}, "WATCH_PARTY_MAX_CONNS must not be negative"},
		{"negative party count", []string{"--max-active-parties-per-host=-1"}, "WATCH_PARTY_MAX_ACTIVE_PARTIES_PER_HOST"},
		{"zero duration", []string{"--max-party-duration=0s"}, "WATCH_PARTY_MAX_PARTY_DURATION must be positive"},
		{"zero header timeout", []string{"--http-read-header-timeout=0s"}, "WATCH_PARTY_HTTP_READ_HEADER_TIMEOUT"},
		{"zero read timeout", []string{"--http-read-timeout=0s"}, "WATCH_PARTY_HTTP_READ_TIMEOUT"},
		{"negative write timeout", []string{"--http-write-timeout=-1s"}, "WATCH_PARTY_HTTP_WRITE_TIMEOUT"},
		{"zero idle timeout", []string{"--http-idle-timeout=0s"}, "WATCH_PARTY_HTTP_IDLE_TIMEOUT"},
		{"zero body cap", []string{"--max-body-bytes=0"}, "WATCH_PARTY_MAX_BODY_BYTES"},
		{"zero cache", []string{"--party-cache-size=0"}, "WATCH_PARTY_PARTY_CACHE_SIZE"},
		{"sentinel url", []string{"--redis-url=redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380"}, ""},
		{"sentinel url without name", []string{"--redis-url=redis://127.0.0.1:26379/0?master_name="}, "master_name is empty"},
		{"sentinel with cluster", []string{"--redis-url=redis://127.0.0.1:26379/0?master_name=m", "--redis-cluster"}, "REDIS_CLUSTER cannot be combined"},
		{"replica acks", []string{"--min-replicas-ack=1", "--min-replicas-ack-timeout-ms=2000"}, ""},
		{"negative replica acks", []string{"--min-replicas-ack=-1"}, "WATCH_PARTY_MIN_REPLICAS_ACK must not be negative"},
		{"replica ack timeout too long", []string{"--min-replicas-ack=1", "--min-replicas-ack-timeout-ms=2001"}, "WATCH_PARTY_MIN_REPLICAS_ACK_TIMEOUT_MS must be at most 2000"},
		{"replica acks with cluster seeds", []string{"--min-replicas-ack=1", "--redis-url=127.0.0.1:7000,127.0.0.1:7001"}, "cannot be used with Redis Cluster"},
		{"replica acks with cluster flag", []string{"--min-replicas-ack=1", "--redis-cluster"}, "cannot be used with Redis Cluster"},
		{"trusted proxies", []string{"--trusted-proxies=10.0.0.0/8, 192.168.1.7,fd00::/8"}, ""},
		{"bad trusted proxy", []string{"--trusted-proxies=10.0.0.0/8,lb.internal"}, "WATCH_PARTY_TRUSTED_PROXIES"},
		{"bad trusted prefix", []string{"--trusted-proxies=10.0.0.0/33"}, "WATCH_PARTY_TRUSTED_PROXIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c gateway.Config
			err := envflagtest.Parse(t, command(&c), append([]string{"--dev-auth"}, tt.args...)...)
			envflagtest.CheckErr(t, err, tt.want)
			if err != nil && !strings.HasPrefix(err.Error(), "bad configuration:\n") {
				t.Errorf("error %q does not start with \"bad configuration:\"", err)
			}
		})
	}
}

// TestGatewaySettingsConverted checks that the configuration holds the
// values in the units the gateway uses.
func TestGatewaySettingsConverted(t *testing.T) {
	var c gateway.Config
	err := envflagtest.Parse(t, command(&c), "--dev-auth", "--shutdown-timeout-ms=250", "--max-buffered-events=7",
		"--max-party-duration=2h", "--chat-rate=0.5")
	envflagtest.CheckErr(t, err, "")
	if c.ShutdownTimeout != 250*time.Millisecond || c.MaxBufferedEvents != 7 || c.MaxPartyDuration != 2*time.Hour || c.EventRates["chat"].Rate != 0.5 {
		t.Errorf("got shutdown %v, buffered %d, party %v, chat rate %v; want 250ms, 7, 2h0m0s, 0.5",
			c.ShutdownTimeout, c.MaxBufferedEvents, c.MaxPartyDuration, c.EventRates["chat"].Rate)
	}
	if c.ReadHeaderTimeout != gateway.DefaultReadHeaderTimeout || c.MaxConns != 20_000 || c.LogFormat != "json" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

// TestGatewayBadSettingFromEnv sets a variable the flag does not override.
func TestGatewayBadSettingFromEnv(t *testing.T) {
	t.Setenv("WATCH_PARTY_HTTP_READ_TIMEOUT", "soon")
	var c gateway.Config
	envflagtest.CheckErr(t, envflagtest.Parse(t, command(&c), "--dev-auth"), `WATCH_PARTY_HTTP_READ_TIMEOUT="soon": not a duration`)
}
