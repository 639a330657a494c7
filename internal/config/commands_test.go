package config

import (
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/envflag/envflagtest"
	"github.com/watchparty/watchparty/internal/flusher"
)

func TestDLQSettings(t *testing.T) {
	var c DLQ
	var limit int
	envflagtest.CheckErr(t, envflagtest.Parse(t, DLQList(&c, &limit), "--limit=-1"), "--limit must not be negative, got -1")
	var opts dlq.ReplayOptions
	envflagtest.CheckErr(t, envflagtest.Parse(t, ReplayDLQ(&c, &opts), "--limit=3", "--dry-run", "--database-url=redis://x"), `DATABASE_URL: "redis://x"`)
	if opts.Limit != 3 || !opts.DryRun {
		t.Errorf("got limit %d, dry run %v; want 3, true", opts.Limit, opts.DryRun)
	}
	envflagtest.CheckErr(t, envflagtest.Parse(t, DLQShow(&c), "--redis-url=a:1,b:2"), "")
	if c.RedisURL != "a:1,b:2" {
		t.Errorf("RedisURL = %q", c.RedisURL)
	}
}

// TestCommandsBind binds every command as the binaries do: a flag declared
// twice in one command (by two components) would panic here, and the
// defaults of each must pass their checks.
func TestCommandsBind(t *testing.T) {
	args := map[string][]string{"gateway": {"--dev-auth"}, "flusher erase-user": {"--user=u"}}
	for _, cmd := range Commands() {
		t.Run(cmd.Name, func(t *testing.T) {
			envflagtest.CheckErr(t, envflagtest.Parse(t, cmd, args[cmd.Name]...), "")
		})
	}
}

// TestFlusherRunHasScheduler checks that `flusher run` binds the
// scheduler's settings, which internal/lifecycle declares, to the
// flusher's configuration.
func TestFlusherRunHasScheduler(t *testing.T) {
	var c flusher.Config
	var once bool
	envflagtest.CheckErr(t, envflagtest.Parse(t, FlusherRun(&c, &once), "--scheduler-interval=2s", "--log-retention=48h"), "")
	if c.SchedulerInterval != 2*time.Second || c.LogRetention != 48*time.Hour || c.LeaseTTL != 5*time.Second {
		t.Errorf("got interval %v, log retention %v, lease %v; want 2s, 48h0m0s, 5s",
			c.SchedulerInterval, c.LogRetention, c.LeaseTTL)
	}
	envflagtest.CheckErr(t, envflagtest.Parse(t, FlusherRun(&c, &once), "--viewer-sample-interval=0s"),
		"WATCH_PARTY_VIEWER_SAMPLE_INTERVAL must be positive")
}
