package envflag

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// parse binds cmd to a fresh flag set, parses args and finishes it.
func parse(t *testing.T, cmd Command, args ...string) error {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	finish := cmd.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return finish()
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got %v, want no error", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("got %v, want it to contain %q", err, want)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  string // "-" for unset
		args []string
		want int
	}{
		{"default", "-", nil, 7},
		{"env over default", "12", nil, 12},
		{"flag over env", "12", []string{"--n=30"}, 30},
		{"flag over default", "-", []string{"--n=30"}, 30},
		{"empty env keeps default", "", nil, 7},
		{"env trimmed", " 9 ", nil, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "-" {
				t.Setenv("ENVFLAG_TEST_N", tt.env)
			}
			var n int
			wantErr(t, parse(t, Command{Settings: []Setting{Int{P: &n, Env: "ENVFLAG_TEST_N", Flag: "n", Default: 7}}}, tt.args...), "")
			if n != tt.want {
				t.Errorf("got %d, want %d", n, tt.want)
			}
		})
	}
}

func TestStringEmptyEnvSetsEmpty(t *testing.T) {
	t.Setenv("ENVFLAG_TEST_S", "")
	s := "unchanged"
	wantErr(t, parse(t, Command{Settings: []Setting{String{P: &s, Env: "ENVFLAG_TEST_S", Flag: "s", Default: "def"}}}), "")
	if s != "" {
		t.Errorf("got %q, want the empty string the variable holds", s)
	}
}

func TestBadEnvNamed(t *testing.T) {
	tests := []struct {
		name  string
		value string
		set   func() Setting
		want  string
	}{
		{"int", "ten", func() Setting { return Int{P: new(int), Env: "ENVFLAG_TEST_V", Flag: "v"} },
			`ENVFLAG_TEST_V="ten": not an integer`},
		{"float", "fast", func() Setting { return Float{P: new(float64), Env: "ENVFLAG_TEST_V", Flag: "v"} },
			`ENVFLAG_TEST_V="fast": not a number`},
		{"bool", "yes", func() Setting { return Bool{P: new(bool), Env: "ENVFLAG_TEST_V", Flag: "v"} },
			`ENVFLAG_TEST_V="yes": not a boolean`},
		{"duration", "5", func() Setting { return Duration{P: new(time.Duration), Env: "ENVFLAG_TEST_V", Flag: "v"} },
			`ENVFLAG_TEST_V="5": not a duration such as 500ms or 30s`},
		{"millis", "5s", func() Setting {
			return Duration{P: new(time.Duration), Env: "ENVFLAG_TEST_V", Flag: "v", Unit: Millis}
		}, `ENVFLAG_TEST_V="5s": not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ENVFLAG_TEST_V", tt.value)
			err := parse(t, Command{Settings: []Setting{tt.set()}})
			wantErr(t, err, tt.want)
			wantErr(t, err, "bad configuration:\n")
		})
	}
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name  string
		bound Bound
		arg   string
		want  string
	}{
		{"any negative", Any, "-3", ""},
		{"non-negative zero", NonNegative, "0", ""},
		{"non-negative negative", NonNegative, "-1", "ENVFLAG_TEST_B must not be negative, got -1"},
		{"positive zero", Positive, "0", "ENVFLAG_TEST_B must be positive, got 0"},
		{"positive one", Positive, "1", ""},
		{"positive if set, unset", PositiveIfSet, "0", ""},
		{"positive if set, negative", PositiveIfSet, "-2", "ENVFLAG_TEST_B must be positive, got -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			var f float64
			var d time.Duration
			wantErr(t, parse(t, Command{Settings: []Setting{Int{P: &n, Env: "ENVFLAG_TEST_B", Flag: "b", Bound: tt.bound}}},
				"--b="+tt.arg), tt.want)
			wantErr(t, parse(t, Command{Settings: []Setting{Float{P: &f, Env: "ENVFLAG_TEST_B", Flag: "b", Bound: tt.bound}}},
				"--b="+tt.arg), tt.want)
			wantErr(t, parse(t, Command{Settings: []Setting{Duration{P: &d, Env: "ENVFLAG_TEST_B", Flag: "b", Bound: tt.bound, Unit: Millis}}},
				"--b="+tt.arg), tt.want)
		})
	}
}

func TestChecksAndRules(t *testing.T) {
	var a, b string
	var n int
	cmd := Command{
		Settings: []Setting{
			String{P: &a, Env: "ENVFLAG_TEST_A", Flag: "a", NonEmpty: true},
			String{P: &b, Flag: "b", Check: func(v string) error {
				if v == "bad" {
					return errors.New("is bad")
				}
				return nil
			}},
			Int{P: &n, Flag: "n", Bound: Positive},
		},
		Rules: []func() error{func() error {
			if a == "x" && b == "y" {
				return errors.New("ENVFLAG_TEST_A=x and --b=y do not go together")
			}
			return nil
		}},
	}
	wantErr(t, parse(t, cmd, "--a=ok", "--n=1"), "")
	err := parse(t, cmd, "--a=", "--b=bad", "--n=0")
	for _, want := range []string{"ENVFLAG_TEST_A must not be empty", "--b: is bad", "--n must be positive, got 0"} {
		wantErr(t, err, want) // every bad setting is reported, not only the first
	}
	wantErr(t, parse(t, cmd, "--a=x", "--b=y", "--n=1"), "do not go together")
}

func TestDurationUnits(t *testing.T) {
	t.Setenv("ENVFLAG_TEST_MS", "1500")
	var ms, gd time.Duration
	cmd := Command{Settings: []Setting{
		Duration{P: &ms, Env: "ENVFLAG_TEST_MS", Flag: "ms", Unit: Millis, Default: 5 * time.Second},
		Duration{P: &gd, Env: "ENVFLAG_TEST_GD", Flag: "gd", Default: time.Minute},
	}}
	wantErr(t, parse(t, cmd, "--gd=90s"), "")
	if ms != 1500*time.Millisecond || gd != 90*time.Second {
		t.Errorf("got %v and %v, want 1.5s and 1m30s", ms, gd)
	}
	wantErr(t, parse(t, cmd, "--ms=20"), "")
	if ms != 20*time.Millisecond {
		t.Errorf("--ms=20 gave %v, want 20ms", ms)
	}
}

func TestHelpNamesVariable(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var s string
	var once bool
	Command{Settings: []Setting{
		String{P: &s, Env: "ENVFLAG_TEST_H", Flag: "h", Default: "x", Help: "a thing"},
		Bool{P: &once, Flag: "once", Help: "do it once"},
	}}.Bind(fs)
	if got := fs.Lookup("h").Usage; got != "a thing (env ENVFLAG_TEST_H)" {
		t.Errorf("usage of --h = %q", got)
	}
	if got := fs.Lookup("once").Usage; got != "do it once" {
		t.Errorf("usage of --once = %q", got)
	}
}

func docCommand() Command {
	return Command{Name: "tool run", Settings: []Setting{
		String{P: new(string), Env: "T_ADDR", Flag: "addr", Default: ":80", Help: "listen address", Doc: "listen address for `/metrics`"},
		String{P: new(string), Env: "T_SECRET", Flag: "secret", Help: "secret"},
		String{P: new(string), Env: "T_NAME", Flag: "name", Default: "host-42", DocDefault: "<hostname>-<pid>", Help: "name"},
		Bool{P: new(bool), Env: "T_DEV", Flag: "dev", Help: "dev mode"},
		Int{P: new(int), Env: "T_N", Flag: "n", Default: 100_000, Help: "count"},
		Float{P: new(float64), Env: "T_RATE", Flag: "rate", Default: 2.5, Help: "rate"},
		Duration{P: new(time.Duration), Env: "T_WAIT_MS", Flag: "wait-ms", Unit: Millis, Default: 5 * time.Second, Help: "wait"},
		Duration{P: new(time.Duration), Env: "T_TTL", Flag: "ttl", Default: 168 * time.Hour, Help: "ttl"},
		Duration{P: new(time.Duration), Env: "T_EVERY", Flag: "every", Bound: PositiveIfSet, Help: "every"},
		Bool{P: new(bool), Flag: "once", Help: "once"},
	}}
}

func TestMarkdown(t *testing.T) {
	want := "| variable | flag | default | meaning |\n" +
		"|---|---|---|---|\n" +
		"| `T_ADDR` | `--addr` | `:80` | listen address for `/metrics` |\n" +
		"| `T_SECRET` | `--secret` | unset | secret |\n" +
		"| `T_NAME` | `--name` | `<hostname>-<pid>` | name |\n" +
		"| `T_DEV` | `--dev` | `false` | dev mode |\n" +
		"| `T_N` | `--n` | `100000` | count |\n" +
		"| `T_RATE` | `--rate` | `2.5` | rate |\n" +
		"| `T_WAIT_MS` | `--wait-ms` | `5000` | wait |\n" +
		"| `T_TTL` | `--ttl` | `168h0m0s` | ttl |\n" +
		"| `T_EVERY` | `--every` | unset | every |\n" +
		"| — | `--once` | `false` | once |\n"
	if diff := cmp.Diff(want, docCommand().Markdown()); diff != "" {
		t.Errorf("Markdown (-want +got):\n%s", diff)
	}
}

func TestSplice(t *testing.T) {
	small := Command{Name: "tool", Settings: []Setting{Bool{P: new(bool), Env: "T_DEV", Flag: "dev", Help: "dev mode"}}}
	doc := "# Tool\n\nHand-written.\n\n<!-- settings of tool -->\n| stale |\n<!-- end of settings -->\n\nMore prose.\n"
	got, err := Splice(doc, small)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Tool\n\nHand-written.\n\n<!-- settings of tool -->\n" + small.Markdown() + "<!-- end of settings -->\n\nMore prose.\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Splice (-want +got):\n%s", diff)
	}
	again, err := Splice(got, small)
	if err != nil || again != got {
		t.Errorf("splicing a spliced document changed it: %v\n%s", err, again)
	}
	for _, tt := range []struct{ name, doc, want string }{
		{"no markers", "# Tool\n", "no <!-- settings of tool --> in the document"},
		{"no end", "<!-- settings of tool -->\n| x |\n", "has no <!-- end of settings -->"},
		{"unknown command", doc + "<!-- settings of other -->\n<!-- end of settings -->\n", "names no known command"},
		{"twice", doc + doc, "a second table"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Splice(tt.doc, small)
			wantErr(t, err, tt.want)
		})
	}
}
