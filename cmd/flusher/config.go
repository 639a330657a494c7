package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/watchparty/watchparty/pkg/envflag"
	"github.com/watchparty/watchparty/pkg/flusher"
)

// bindConfig registers every flusher setting on fs and returns a function
// that finishes and validates the configuration once flags are parsed.
func bindConfig(fs *pflag.FlagSet) (*flusher.Config, func() error) {
	var cfg flusher.Config
	var shutdownMS int
	b := envflag.New(fs)
	b.String(&cfg.RedisURL, "redis-url", "REDIS_URL", "redis://localhost:6379/0", "Redis URL, or comma-separated host:port seeds of a Redis Cluster")
	b.Bool(&cfg.RedisCluster, "redis-cluster", "REDIS_CLUSTER", false, "treat a single REDIS_URL address as a Redis Cluster seed")
	b.String(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "postgres://postgres@localhost:5432/watchparty?sslmode=disable", "PostgreSQL URL")
	b.String(&cfg.MetricsAddr, "metrics-addr", "FLUSHER_METRICS_ADDR", ":9090", "HTTP listen address for /metrics, /healthz, /readyz")
	b.Int(&cfg.FlushIntervalMinutes, "flush-interval-minutes", "WATCH_PARTY_FLUSH_INTERVAL_MINUTES", 10, "periodic flush interval in minutes")
	b.Duration(&cfg.FlushInterval, "flush-interval", "WATCH_PARTY_FLUSH_INTERVAL", 0, "periodic flush interval as a Go duration; overrides the minutes")
	b.Int(&shutdownMS, "shutdown-timeout-ms", "WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", 5000, "longest wait for the batch in flight on SIGTERM/SIGINT")
	b.Int(&cfg.BatchSize, "batch-size", "WATCH_PARTY_FLUSH_BATCH_SIZE", 5000, "most events read and written per batch")
	b.Int(&cfg.MaxDeliveries, "max-deliveries", "WATCH_PARTY_MAX_DELIVERIES", 5, "permanent failures before an event goes to the DLQ")
	b.Duration(&cfg.ClaimMinIdle, "claim-min-idle", "WATCH_PARTY_CLAIM_MIN_IDLE", time.Minute, "idle time after which a dead flusher's pending entries are claimed")
	b.String(&cfg.ConsumerName, "consumer-name", "WATCH_PARTY_CONSUMER_NAME", defaultConsumerName(), "this flusher's consumer name in group flushers")
	b.Duration(&cfg.SchedulerInterval, "scheduler-interval", "WATCH_PARTY_SCHEDULER_INTERVAL", 5*time.Second, "how often party statuses are advanced")
	b.Duration(&cfg.LeaseTTL, "scheduler-lease-ttl", "WATCH_PARTY_SCHEDULER_LEASE_TTL", 5*time.Second, "scheduler lease time to live")
	b.Duration(&cfg.ViewerSampleInterval, "viewer-sample-interval", "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL", 30*time.Second, "how often viewer counts are recorded")
	b.Duration(&cfg.Retention, "stream-retention", "WATCH_PARTY_STREAM_RETENTION", 5*time.Minute, "how long flushed entries stay in a stream for reconnecting viewers")
	b.String(&cfg.LogFormat, "log-format", "LOG_FORMAT", "json", "log format: json or text")
	b.String(&cfg.LogLevel, "log-level", "LOG_LEVEL", "info", "log level: debug, info, warn, error")
	return &cfg, func() error {
		if err := b.Err(); err != nil {
			return err
		}
		cfg.ShutdownTimeout = time.Duration(shutdownMS) * time.Millisecond
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("bad configuration:\n%w", err)
		}
		return nil
	}
}

func defaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "flusher"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
