package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/envflag"
)

// parse binds cmd to a fresh flag set, parses args and finishes it.
func parse(t *testing.T, cmd envflag.Command, args ...string) error {
	t.Helper()
	fs := pflag.NewFlagSet(cmd.Name, pflag.ContinueOnError)
	finish := cmd.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return finish()
}

// checkErr fails unless err is nil for want "" or contains want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got %v, want no error", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one naming %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("got %v, want it to contain %q", err, want)
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
