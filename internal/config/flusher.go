package config

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/erase"
	"github.com/watchparty/watchparty/internal/flusher"
)

// FlusherRun declares the settings of `flusher run`, bound to c and once.
func FlusherRun(c *flusher.Config, once *bool) envflag.Command {
	const pos = envflag.Positive
	return envflag.Command{
		Name: "flusher run",
		Settings: slices.Concat([]envflag.Setting{
			envflag.String{P: &c.MetricsAddr, Env: "FLUSHER_METRICS_ADDR", Flag: "metrics-addr", Default: ":9090",
				Help: "HTTP listen address for /metrics, /healthz, /readyz",
				Doc:  "HTTP listen address for `/metrics`, `/healthz`, `/readyz`"},
		}, Redis(&c.RedisURL, &c.RedisCluster), Postgres(&c.DatabaseURL), []envflag.Setting{
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
			envflag.Duration{P: &c.LogRetention, Env: "WATCH_PARTY_LOG_RETENTION", Flag: "log-retention",
				Bound: envflag.NonNegative,
				Help:  "delete watch_party_logs rows older than this (0: keep them)",
				Doc: "`watch_party_logs` rows (joins, leaves, playback) older than this are deleted by the scheduler " +
					"lease holder, 5,000 rows per transaction; `0` keeps them"},
			envflag.Duration{P: &c.ChatRetention, Env: "WATCH_PARTY_CHAT_RETENTION", Flag: "chat-retention",
				Bound: envflag.NonNegative,
				Help:  "delete watch_party_chats rows older than this (0: keep them)",
				Doc: "the same for `watch_party_chats` (chat history then ends there); `0` keeps them. Likes (one " +
					"row per user and party) and viewer counts are kept"},
			envflag.Duration{P: &c.SchedulerInterval, Env: "WATCH_PARTY_SCHEDULER_INTERVAL", Flag: "scheduler-interval",
				Default: 5 * time.Second, Bound: pos,
				Help: "how often party statuses are advanced"},
			envflag.Duration{P: &c.LeaseTTL, Env: "WATCH_PARTY_SCHEDULER_LEASE_TTL", Flag: "scheduler-lease-ttl",
				Default: 5 * time.Second, Bound: pos,
				Help: "scheduler lease time to live",
				Doc:  "the scheduler lease; a dead holder's role is taken over within this time plus one interval"},
			envflag.Duration{P: &c.ViewerSampleInterval, Env: "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL", Flag: "viewer-sample-interval",
				Default: 30 * time.Second, Bound: pos,
				Help: "how often viewer counts are recorded",
				Doc:  "how often each ongoing party's viewer count is recorded"},
			envflag.Duration{P: &c.ShutdownTimeout, Env: "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", Flag: "shutdown-timeout-ms",
				Unit: envflag.Millis, Default: 5 * time.Second, Bound: pos,
				Help: "longest wait for the batch in flight on SIGTERM/SIGINT",
				Doc: "longest wait for the batch in flight on SIGTERM/SIGINT " +
					"(it is finished, or left pending; never half-acknowledged)"},
		}, Logging(&c.LogFormat, &c.LogLevel), []envflag.Setting{
			envflag.Bool{P: once, Flag: "once",
				Help: "flush every stream with events once, then exit (non-zero if a batch failed)",
				Doc: "flush every stream with events once (claiming dead consumers' entries, no scheduler), then exit 0, " +
					"or non-zero if a batch could not be written"},
		}),
		Rules: []func() error{func() error {
			// The minutes count only when no Go duration overrides them.
			if c.FlushInterval == 0 && c.FlushIntervalMinutes <= 0 {
				return fmt.Errorf("WATCH_PARTY_FLUSH_INTERVAL_MINUTES must be positive, got %d", c.FlushIntervalMinutes)
			}
			return nil
		}},
	}
}

func defaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "flusher"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// FlusherMigrate declares the settings of `flusher migrate`.
func FlusherMigrate(databaseURL *string) envflag.Command {
	return envflag.Command{Name: "flusher migrate", Settings: Postgres(databaseURL)}
}

// DLQ is the part of the flusher's configuration the dead-letter commands
// use.
type DLQ struct {
	RedisURL     string
	RedisCluster bool
	DatabaseURL  string // replay-dlq only
	LogFormat    string
	LogLevel     string
}

// ReplayDLQ declares the settings of `flusher replay-dlq`, bound to c and
// opts (Limit and DryRun; the party id is an argument checked by the
// command).
func ReplayDLQ(c *DLQ, opts *dlq.ReplayOptions) envflag.Command {
	return envflag.Command{
		Name: "flusher replay-dlq",
		Settings: slices.Concat(Redis(&c.RedisURL, &c.RedisCluster), Postgres(&c.DatabaseURL),
			Logging(&c.LogFormat, &c.LogLevel), []envflag.Setting{
				envflag.Int{P: &opts.Limit, Flag: "limit", Bound: envflag.NonNegative,
					Help: "replay at most N batches (0: all)", Doc: "replay at most N batches (`0`: all)"},
				envflag.String{P: &opts.Party, Flag: "party",
					Help: "replay only the batches of this party id"},
				envflag.Bool{P: &opts.DryRun, Flag: "dry-run",
					Help: "print what would be replayed and change nothing"},
			}),
	}
}

// DLQList declares the settings of `flusher dlq list`, bound to c and
// limit.
func DLQList(c *DLQ, limit *int) envflag.Command {
	return envflag.Command{
		Name: "flusher dlq list",
		Settings: slices.Concat(Redis(&c.RedisURL, &c.RedisCluster), Logging(&c.LogFormat, &c.LogLevel),
			[]envflag.Setting{envflag.Int{P: limit, Flag: "limit", Bound: envflag.NonNegative,
				Help: "list at most N batches from the head (0: all)",
				Doc:  "list at most N batches from the head (`0`: all)"}}),
	}
}

// DLQShow declares the settings of `flusher dlq show`, bound to c.
func DLQShow(c *DLQ) envflag.Command {
	return envflag.Command{
		Name:     "flusher dlq show",
		Settings: slices.Concat(Redis(&c.RedisURL, &c.RedisCluster), Logging(&c.LogFormat, &c.LogLevel)),
	}
}

// EraseUser is the configuration of `flusher erase-user`.
type EraseUser struct {
	DLQ          // Redis, PostgreSQL and logging
	User  string // the user id whose events are erased
	Party string // a party id, or "" for every party
	Batch int    // most rows deleted per transaction
	// InFlight is how long events accepted before the erasure may still
	// be appended (erase.Request.InFlight).
	InFlight time.Duration
}

// EraseUserCmd declares the settings of `flusher erase-user`, bound to c.
func EraseUserCmd(c *EraseUser) envflag.Command {
	return envflag.Command{
		Name: "flusher erase-user",
		Settings: slices.Concat(Redis(&c.RedisURL, &c.RedisCluster), Postgres(&c.DatabaseURL),
			Logging(&c.LogFormat, &c.LogLevel), []envflag.Setting{
				envflag.String{P: &c.User, Flag: "user", NonEmpty: true,
					Help: "the user id whose chats, likes and logs are erased (required)"},
				envflag.String{P: &c.Party, Flag: "party",
					Help: "erase only in this party id (default: in every party)"},
				envflag.Int{P: &c.Batch, Flag: "batch", Default: 5000, Bound: envflag.Positive,
					Help: "most rows deleted per transaction"},
				envflag.Duration{P: &c.InFlight, Flag: "in-flight-wait", Default: erase.DefaultInFlight,
					Bound: envflag.NonNegative,
					Help:  "how long events accepted before the erasure may still reach a stream; they are erased too",
					Doc: "how long events gateways accepted before the erasure may still take to reach their stream " +
						"(a gateway answers or drops each append within 5 s): the erasure covers what is appended until " +
						"then, and the command removes it after waiting that long"},
			}),
	}
}
