package flusher

import "time"

// Config is the flusher binary's configuration (SPEC §2). Settings
// declares, converts and checks its settings (settings.go).
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
	// LogRetention and ChatRetention are how long rows of watch_party_logs
	// and watch_party_chats are kept (0: forever).
	LogRetention  time.Duration
	ChatRetention time.Duration
	LogFormat     string
	LogLevel      string
}

// Interval is the periodic flush interval.
func (c Config) Interval() time.Duration {
	if c.FlushInterval > 0 {
		return c.FlushInterval
	}
	return time.Duration(c.FlushIntervalMinutes) * time.Minute
}
