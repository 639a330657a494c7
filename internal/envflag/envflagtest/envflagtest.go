// Package envflagtest parses envflag commands in tests, the way the
// binaries do, and checks the errors they give.
package envflagtest

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/watchparty/watchparty/internal/envflag"
)

// Parse binds cmd to a fresh flag set, parses args and finishes it,
// returning the settings' error. A flag the set does not know fails t.
func Parse(t testing.TB, cmd envflag.Command, args ...string) error {
	t.Helper()
	fs := pflag.NewFlagSet(cmd.Name, pflag.ContinueOnError)
	finish := cmd.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return finish()
}

// CheckErr fails t unless err is nil for want "", or contains want.
func CheckErr(t testing.TB, err error, want string) {
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
