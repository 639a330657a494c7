// Package envflag declares settings that are both an environment variable and
// a flag of the same meaning, the flag winning. Each setting is declared
// once, as a typed value (String, Bool, Int, Float, Duration) holding its
// variable, flag, default, unit, meaning and checks; a Command groups the
// settings of one command, binds them to a flag set, converts and validates
// them, and renders the table the configuration docs show.
package envflag

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Setting is one declared setting. The typed declarations of this package
// implement it.
type Setting interface {
	// Row describes the setting for the docs.
	Row() Row
	// bind registers the flag on fs, its default taken from the variable
	// when set. It returns a function that converts and checks the value once
	// flags are parsed, and the error of an unparsable variable.
	bind(fs *pflag.FlagSet) (finish func() error, envErr error)
}

// Row is a setting as the docs show it.
type Row struct {
	Env     string // "" for a flag only
	Flag    string // without the dashes
	Default string // as written in the docs; "" means unset
	Doc     string // meaning, Markdown
}

// Command is the settings of one command, in the order its docs list them,
// and the rules that relate several of them.
type Command struct {
	Name     string // as invoked: "gateway", "flusher run"
	Settings []Setting
	// Rules check settings against each other once each is converted and
	// checked on its own; each error names the variables involved.
	Rules []func() error
}

// Bind registers every setting of c on fs. Call the returned function once
// flags are parsed: it stores each converted value in its destination and
// returns nil, or one error listing every bad setting by name.
func (c Command) Bind(fs *pflag.FlagSet) (finish func() error) {
	var envErrs []error
	finishers := make([]func() error, 0, len(c.Settings))
	for _, s := range c.Settings {
		fin, err := s.bind(fs)
		envErrs = append(envErrs, err)
		finishers = append(finishers, fin)
	}
	return func() error {
		errs := envErrs
		for _, fin := range finishers {
			errs = append(errs, fin())
		}
		for _, rule := range c.Rules {
			errs = append(errs, rule())
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("bad configuration:\n%w", err)
		}
		return nil
	}
}

// Bound limits a number or a duration.
type Bound int

const (
	// Any value is accepted.
	Any Bound = iota
	// NonNegative accepts zero and above.
	NonNegative
	// Positive accepts values above zero.
	Positive
	// PositiveIfSet accepts zero, meaning unset, and values above zero.
	PositiveIfSet
)

// check returns an error naming name when v is outside b.
func (b Bound) check(name string, v any, sign int) error {
	switch {
	case b == NonNegative && sign < 0:
		return fmt.Errorf("%s must not be negative, got %v", name, v)
	case b == Positive && sign <= 0, b == PositiveIfSet && sign < 0:
		return fmt.Errorf("%s must be positive, got %v", name, v)
	}
	return nil
}

func sign[T ~int | ~int64 | ~float64](v T) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// name is how messages call a setting: its variable, or its flag when it
// has none.
func name(env, flag string) string {
	if env != "" {
		return env
	}
	return "--" + flag
}

// usage is the --help text of a setting.
func usage(env, help string) string {
	if env == "" {
		return help
	}
	return help + " (env " + env + ")"
}

// lookup returns the trimmed value of env and whether it is set; a flag
// only (env "") is never set.
func lookup(env string) (string, bool) {
	if env == "" {
		return "", false
	}
	v, ok := os.LookupEnv(env)
	return strings.TrimSpace(v), ok
}

// fromEnv returns def, or the parsed value of env when it is set and not
// empty; an unparsable value is an error naming env, what says what was
// expected.
func fromEnv[T any](env string, def T, parse func(string) (T, error), what string) (T, error) {
	v, ok := lookup(env)
	if !ok || v == "" {
		return def, nil
	}
	parsed, err := parse(v)
	if err != nil {
		return def, fmt.Errorf("%s=%q: not %s", env, v, what)
	}
	return parsed, nil
}

// checked wraps the error of a setting's own check with its name.
func checked[T any](name string, check func(T) error, v T) error {
	if check == nil {
		return nil
	}
	if err := check(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
