package lifecycle

import (
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/envflag/envflagtest"
)

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // "" for valid; else a part of the error
	}{
		{"defaults", nil, ""},
		{"zero scheduler interval", []string{"--scheduler-interval=0s"}, "WATCH_PARTY_SCHEDULER_INTERVAL must be positive"},
		{"zero lease", []string{"--scheduler-lease-ttl=0s"}, "WATCH_PARTY_SCHEDULER_LEASE_TTL must be positive"},
		{"zero sample interval", []string{"--viewer-sample-interval=0s"}, "WATCH_PARTY_VIEWER_SAMPLE_INTERVAL must be positive"},
		{"retention kept", []string{"--log-retention=0s", "--chat-retention=0s"}, ""},
		{"negative log retention", []string{"--log-retention=-1h"}, "WATCH_PARTY_LOG_RETENTION must not be negative"},
		{"negative chat retention", []string{"--chat-retention=-1h"}, "WATCH_PARTY_CHAT_RETENTION must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			var logs, chats time.Duration
			cmd := envflag.Command{Name: "scheduler", Settings: Settings(Fields{LogRetention: &logs, ChatRetention: &chats,
				Interval: &c.Interval, LeaseTTL: &c.LeaseTTL, SampleInterval: &c.SampleInterval})}
			envflagtest.CheckErr(t, envflagtest.Parse(t, cmd, tt.args...), tt.want)
			if tt.name == "defaults" && (c.Interval != 5*time.Second || c.LeaseTTL != 5*time.Second ||
				c.SampleInterval != 30*time.Second || logs != 0 || chats != 0) {
				t.Errorf("defaults: got %+v, logs %v, chats %v", c, logs, chats)
			}
		})
	}
}
