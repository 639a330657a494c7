package flusher

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

// Settings declares every setting of `flusher run` but --once (Once),
// bound to c, in the order the docs list them. Redis, the database and
// logging are declared by the packages that own them. The settings of the
// scheduler the command also runs are declared by internal/lifecycle, which
// imports this package in its tests: the caller passes them as scheduler,
// bound to c's fields, and they are listed after the stream retention.
func Settings(c *Config, scheduler ...envflag.Setting) []envflag.Setting {
	const pos = envflag.Positive
	return slices.Concat([]envflag.Setting{
		envflag.String{P: &c.MetricsAddr, Env: "FLUSHER_METRICS_ADDR", Flag: "metrics-addr", Default: ":9090",
			Help: "HTTP listen address for /metrics, /healthz, /readyz",
			Doc:  "HTTP listen address for `/metrics`, `/healthz`, `/readyz`"},
	}, rdb.Settings(&c.RedisURL, &c.RedisCluster), store.Settings(&c.DatabaseURL), []envflag.Setting{
		envflag.Int{P: &c.FlushIntervalMinutes, Env: "WATCH_PARTY_FLUSH_INTERVAL_MINUTES", Flag: "flush-interval-minutes",
			Default: 10, Help: "periodic flush interval in minutes"},
		envflag.Duration{P: &c.FlushInterval, Env: "WATCH_PARTY_FLUSH_INTERVAL", Flag: "flush-interval",
			Bound: envflag.PositiveIfSet,
			Help:  "periodic flush interval as a Go duration; overrides the minutes",
			Doc:   "the interval as a Go duration (`500ms`, `30s`); overrides the minutes when set"},
		envflag.Int{P: &c.BatchSize, Env: "WATCH_PARTY_FLUSH_BATCH_SIZE", Flag: "batch-size", Default: 5000, Bound: pos,
			Help: "most events read and written per batch",
			Doc:  "most events read and written per batch (one transaction)"},
		envflag.Int{P: &c.MaxDeliveries, Env: "WATCH_PARTY_MAX_DELIVERIES", Flag: "max-deliveries", Default: 5, Bound: pos,
			Help: "permanent failures before an event goes to the DLQ",
			Doc: "permanent failures (data or constraint errors) before an event goes to `wp:dlq`; " +
				"failures during an outage do not count"},
		envflag.Duration{P: &c.ClaimMinIdle, Env: "WATCH_PARTY_CLAIM_MIN_IDLE", Flag: "claim-min-idle",
			Default: time.Minute, Bound: pos,
			Help: "idle time after which a dead flusher's pending entries are claimed",
			Doc:  "a pending entry idle this long on another consumer (a dead flusher) is claimed"},
		envflag.String{P: &c.ConsumerName, Env: "WATCH_PARTY_CONSUMER_NAME", Flag: "consumer-name",
			Default: defaultConsumerName(), DocDefault: "<hostname>-<pid>", NonEmpty: true,
			Help: "this flusher's consumer name in group flushers",
			Doc: "this flusher's consumer name in group `flushers`. Give each replica a stable, unique one " +
				"(a StatefulSet pod name, or the pod name): a restarted flusher then resumes its own pending entries " +
				"at once instead of after `WATCH_PARTY_CLAIM_MIN_IDLE`"},
		envflag.Duration{P: &c.Retention, Env: "WATCH_PARTY_STREAM_RETENTION", Flag: "stream-retention",
			Default: 5 * time.Minute, Bound: envflag.NonNegative,
			Help: "how long flushed entries stay in a stream for reconnecting viewers",
			Doc:  "how long flushed entries stay in a stream to serve reconnecting viewers (`since`)"},
	}, scheduler, []envflag.Setting{
		envflag.Duration{P: &c.ShutdownTimeout, Env: "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", Flag: "shutdown-timeout-ms",
			Unit: envflag.Millis, Default: 5 * time.Second, Bound: pos,
			Help: "longest wait for the batch in flight on SIGTERM/SIGINT",
			Doc: "longest wait for the batch in flight on SIGTERM/SIGINT " +
				"(it is finished, or left pending; never half-acknowledged)"},
	}, logging.Settings(&c.LogFormat, &c.LogLevel))
}

// Once declares --once, which runs FlushOnce instead of the flusher.
func Once(once *bool) envflag.Setting {
	return envflag.Bool{P: once, Flag: "once",
		Help: "flush every stream with events once, then exit (non-zero if a batch failed)",
		Doc: "flush every stream with events once (claiming dead consumers' entries, no scheduler), then exit 0, " +
			"or non-zero if a batch could not be written"}
}

// Rules declares the checks that relate several settings of c.
func Rules(c *Config) []func() error {
	return []func() error{func() error {
		// The minutes count only when no Go duration overrides them.
		if c.FlushInterval == 0 && c.FlushIntervalMinutes <= 0 {
			return fmt.Errorf("WATCH_PARTY_FLUSH_INTERVAL_MINUTES must be positive, got %d", c.FlushIntervalMinutes)
		}
		return nil
	}}
}

func defaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "flusher"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
