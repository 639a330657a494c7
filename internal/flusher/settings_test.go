package flusher_test

import (
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/envflag/envflagtest"
	"github.com/watchparty/watchparty/internal/flusher"
)

// run is `flusher run` as internal/config assembles it, without the
// scheduler's settings (internal/lifecycle), parsed from args.
func run(t *testing.T, c *flusher.Config, once *bool, args ...string) error {
	t.Helper()
	cmd := envflag.Command{Name: "flusher run", Settings: append(flusher.Settings(c), flusher.Once(once)), Rules: flusher.Rules(c)}
	return envflagtest.Parse(t, cmd, args...)
}

func TestFlusherRunSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"defaults", nil, ""},
		{"duration overrides zero minutes", []string{"--flush-interval-minutes=0", "--flush-interval=500ms"}, ""},
		{"zero minutes", []string{"--flush-interval-minutes=0"}, "WATCH_PARTY_FLUSH_INTERVAL_MINUTES must be positive, got 0"},
		{"negative duration", []string{"--flush-interval=-1s"}, "WATCH_PARTY_FLUSH_INTERVAL must be positive, got -1s"},
		{"empty consumer name", []string{"--consumer-name="}, "WATCH_PARTY_CONSUMER_NAME must not be empty"},
		{"zero batch", []string{"--batch-size=0"}, "WATCH_PARTY_FLUSH_BATCH_SIZE must be positive"},
		{"zero deliveries", []string{"--max-deliveries=0"}, "WATCH_PARTY_MAX_DELIVERIES must be positive"},
		{"zero claim idle", []string{"--claim-min-idle=0s"}, "WATCH_PARTY_CLAIM_MIN_IDLE must be positive"},
		{"zero retention", []string{"--stream-retention=0s"}, ""},
		{"negative retention", []string{"--stream-retention=-1s"}, "WATCH_PARTY_STREAM_RETENTION must not be negative"},
		{"negative shutdown", []string{"--shutdown-timeout-ms=-5"}, "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS must be positive, got -5"},
		{"bad database url", []string{"--database-url=localhost:5432"}, "DATABASE_URL: "},
		{"bad log level", []string{"--log-level=chatty"}, "LOG_LEVEL: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c flusher.Config
			var once bool
			envflagtest.CheckErr(t, run(t, &c, &once, tt.args...), tt.want)
		})
	}
}

func TestFlusherRunSettingsConverted(t *testing.T) {
	var c flusher.Config
	var once bool
	envflagtest.CheckErr(t, run(t, &c, &once, "--once", "--shutdown-timeout-ms=1500"), "")
	if !once || c.ShutdownTimeout != 1500*time.Millisecond || c.Interval() != 10*time.Minute || c.ConsumerName == "" {
		t.Errorf("got once %v, shutdown %v, interval %v, consumer %q; want true, 1.5s, 10m0s and a name",
			once, c.ShutdownTimeout, c.Interval(), c.ConsumerName)
	}
}
