package config

import (
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/flusher"
)

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
		{"zero scheduler interval", []string{"--scheduler-interval=0s"}, "WATCH_PARTY_SCHEDULER_INTERVAL must be positive"},
		{"zero lease", []string{"--scheduler-lease-ttl=0s"}, "WATCH_PARTY_SCHEDULER_LEASE_TTL must be positive"},
		{"zero sample interval", []string{"--viewer-sample-interval=0s"}, "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL must be positive"},
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
			checkErr(t, parse(t, FlusherRun(&c, &once), tt.args...), tt.want)
		})
	}
}

func TestFlusherRunSettingsConverted(t *testing.T) {
	var c flusher.Config
	var once bool
	checkErr(t, parse(t, FlusherRun(&c, &once), "--once", "--shutdown-timeout-ms=1500"), "")
	if !once || c.ShutdownTimeout != 1500*time.Millisecond || c.Interval() != 10*time.Minute || c.ConsumerName == "" {
		t.Errorf("got once %v, shutdown %v, interval %v, consumer %q; want true, 1.5s, 10m0s and a name",
			once, c.ShutdownTimeout, c.Interval(), c.ConsumerName)
	}
}

func TestDLQSettings(t *testing.T) {
	var c DLQ
	var limit int
	checkErr(t, parse(t, DLQList(&c, &limit), "--limit=-1"), "--limit must not be negative, got -1")
	var opts dlq.ReplayOptions
	checkErr(t, parse(t, ReplayDLQ(&c, &opts), "--limit=3", "--dry-run", "--database-url=redis://x"), `DATABASE_URL: "redis://x"`)
	if opts.Limit != 3 || !opts.DryRun {
		t.Errorf("got limit %d, dry run %v; want 3, true", opts.Limit, opts.DryRun)
	}
	checkErr(t, parse(t, DLQShow(&c), "--redis-url=a:1,b:2"), "")
	if c.RedisURL != "a:1,b:2" {
		t.Errorf("RedisURL = %q", c.RedisURL)
	}
}
