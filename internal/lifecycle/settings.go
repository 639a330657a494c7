package lifecycle

import (
	"time"

	"github.com/watchparty/watchparty/internal/envflag"
)

// Fields are where Settings stores the scheduler's settings: fields of the
// flusher's configuration, from which `flusher run` builds the scheduler's
// Config and NewRetention's ages.
type Fields struct {
	// LogRetention and ChatRetention are the ages of watch_party_logs and
	// watch_party_chats rows the lease holder deletes (NewRetention; 0
	// keeps them).
	LogRetention, ChatRetention *time.Duration
	// Interval, LeaseTTL and SampleInterval are Config's.
	Interval, LeaseTTL, SampleInterval *time.Duration
}

// Settings declares the settings of the scheduler and of the retention its
// lease holder enforces, bound to f, in the order the docs list them.
func Settings(f Fields) []envflag.Setting {
	const pos = envflag.Positive
	return []envflag.Setting{
		envflag.Duration{P: f.LogRetention, Env: "WATCH_PARTY_LOG_RETENTION", Flag: "log-retention",
			Bound: envflag.NonNegative,
			Help:  "delete watch_party_logs rows older than this (0: keep them)",
			Doc: "`watch_party_logs` rows (joins, leaves, playback) older than this are deleted by the scheduler " +
				"lease holder, 5,000 rows per transaction; `0` keeps them"},
		envflag.Duration{P: f.ChatRetention, Env: "WATCH_PARTY_CHAT_RETENTION", Flag: "chat-retention",
			Bound: envflag.NonNegative,
			Help:  "delete watch_party_chats rows older than this (0: keep them)",
			Doc: "the same for `watch_party_chats` (chat history then ends there); `0` keeps them. Likes (one " +
				"row per user and party) and viewer counts are kept"},
		envflag.Duration{P: f.Interval, Env: "WATCH_PARTY_SCHEDULER_INTERVAL", Flag: "scheduler-interval",
			Default: 5 * time.Second, Bound: pos,
			Help: "how often party statuses are advanced"},
		envflag.Duration{P: f.LeaseTTL, Env: "WATCH_PARTY_SCHEDULER_LEASE_TTL", Flag: "scheduler-lease-ttl",
			Default: 5 * time.Second, Bound: pos,
			Help: "scheduler lease time to live",
			Doc:  "the scheduler lease; a dead holder's role is taken over within this time plus one interval"},
		envflag.Duration{P: f.SampleInterval, Env: "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL", Flag: "viewer-sample-interval",
			Default: 30 * time.Second, Bound: pos,
			Help: "how often viewer counts are recorded",
			Doc:  "how often each ongoing party's viewer count is recorded"},
	}
}
