// Package flusher moves party events from Redis streams into PostgreSQL:
// it reads through consumer group "flushers", writes each party's batch in
// one transaction and acknowledges it only after the commit. It is this
// project's code, not a public API.
package flusher

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/watchparty/watchparty/pkg/envflag"
	"github.com/watchparty/watchparty/pkg/logging"
	"github.com/watchparty/watchparty/pkg/rdb"
)

// Config is the flusher binary's configuration (SPEC §2).
type Config struct {
	RedisURL             string
	RedisCluster         bool
	DatabaseURL          string
	MetricsAddr          string
	FlushIntervalMinutes int
	FlushInterval        time.Duration // overrides FlushIntervalMinutes when set
	ShutdownTimeout      time.Duration
	BatchSize            int
	MaxDeliveries        int
	ClaimMinIdle         time.Duration
	ConsumerName         string
	SchedulerInterval    time.Duration
	LeaseTTL             time.Duration
	ViewerSampleInterval time.Duration
	// Retention is how long acknowledged entries stay in a stream to serve
	// reconnecting viewers (since=).
	Retention time.Duration
	LogFormat string
	LogLevel  string
}

// Interval is the periodic flush interval.
func (c Config) Interval() time.Duration {
	if c.FlushInterval > 0 {
		return c.FlushInterval
	}
	return time.Duration(c.FlushIntervalMinutes) * time.Minute
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
	if c.FlushInterval == 0 {
		errs = append(errs, envflag.Positive("WATCH_PARTY_FLUSH_INTERVAL_MINUTES", c.FlushIntervalMinutes))
	} else {
		errs = append(errs, envflag.Positive("WATCH_PARTY_FLUSH_INTERVAL", c.FlushInterval))
	}
	if c.ConsumerName == "" {
		errs = append(errs, errors.New("WATCH_PARTY_CONSUMER_NAME must not be empty"))
	}
	errs = append(errs,
		envflag.Positive("WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS", c.ShutdownTimeout),
		envflag.Positive("WATCH_PARTY_FLUSH_BATCH_SIZE", c.BatchSize),
		envflag.Positive("WATCH_PARTY_MAX_DELIVERIES", c.MaxDeliveries),
		envflag.Positive("WATCH_PARTY_CLAIM_MIN_IDLE", c.ClaimMinIdle),
		envflag.Positive("WATCH_PARTY_SCHEDULER_INTERVAL", c.SchedulerInterval),
		envflag.Positive("WATCH_PARTY_SCHEDULER_LEASE_TTL", c.LeaseTTL),
		envflag.Positive("WATCH_PARTY_VIEWER_SAMPLE_INTERVAL", c.ViewerSampleInterval),
		envflag.NonNegative("WATCH_PARTY_STREAM_RETENTION", c.Retention),
		logging.Validate(c.LogFormat, c.LogLevel),
	)
	return errors.Join(errs...)
}
