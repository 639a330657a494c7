// Package envflag binds each setting to an environment variable and a flag
// of the same meaning, the flag winning. It is this project's code, not a
// public API.
package envflag

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Binder registers settings on a flag set, taking each default from the
// environment. Bad environment values are collected and reported by Err,
// naming the variable.
type Binder struct {
	fs     *pflag.FlagSet
	lookup func(string) (string, bool)
	errs   []error
}

// New returns a Binder over fs reading the process environment.
func New(fs *pflag.FlagSet) *Binder { return &Binder{fs: fs, lookup: os.LookupEnv} }

// NewWithLookup returns a Binder reading variables through lookup (tests).
func NewWithLookup(fs *pflag.FlagSet, lookup func(string) (string, bool)) *Binder {
	return &Binder{fs: fs, lookup: lookup}
}

// Err reports every environment variable that could not be parsed.
func (b *Binder) Err() error { return errors.Join(b.errs...) }

func (b *Binder) env(name string) (string, bool) {
	v, ok := b.lookup(name)
	if !ok {
		return "", false
	}
	return strings.TrimSpace(v), true
}

func (b *Binder) fail(env, v string, err error) {
	b.errs = append(b.errs, fmt.Errorf("%s=%q: %w", env, v, err))
}

func usage(env, text string) string { return text + " (env " + env + ")" }

// String binds a string setting.
func (b *Binder) String(p *string, flag, env, def, text string) {
	if v, ok := b.env(env); ok {
		def = v
	}
	b.fs.StringVar(p, flag, def, usage(env, text))
}

// Bool binds a boolean setting.
func (b *Binder) Bool(p *bool, flag, env string, def bool, text string) {
	if v, ok := b.env(env); ok && v != "" {
		parsed, err := strconv.ParseBool(v)
		if err != nil {
			b.fail(env, v, errors.New("not a boolean"))
		}
		def = parsed
	}
	b.fs.BoolVar(p, flag, def, usage(env, text))
}

// Int binds an integer setting.
func (b *Binder) Int(p *int, flag, env string, def int, text string) {
	if v, ok := b.env(env); ok && v != "" {
		parsed, err := strconv.Atoi(v)
		if err != nil {
			b.fail(env, v, errors.New("not an integer"))
		}
		def = parsed
	}
	b.fs.IntVar(p, flag, def, usage(env, text))
}

// Float binds a floating-point setting.
func (b *Binder) Float(p *float64, flag, env string, def float64, text string) {
	if v, ok := b.env(env); ok && v != "" {
		parsed, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.fail(env, v, errors.New("not a number"))
		}
		def = parsed
	}
	b.fs.Float64Var(p, flag, def, usage(env, text))
}

// Duration binds a Go duration setting ("500ms", "30s").
func (b *Binder) Duration(p *time.Duration, flag, env string, def time.Duration, text string) {
	if v, ok := b.env(env); ok && v != "" {
		parsed, err := time.ParseDuration(v)
		if err != nil {
			b.fail(env, v, errors.New("not a duration such as 500ms or 30s"))
		}
		def = parsed
	}
	b.fs.DurationVar(p, flag, def, usage(env, text))
}

// Positive returns an error naming env when v is not above zero.
func Positive[T int | int64 | float64 | time.Duration](env string, v T) error {
	if v <= 0 {
		return fmt.Errorf("%s must be positive, got %v", env, v)
	}
	return nil
}

// NonNegative returns an error naming env when v is below zero.
func NonNegative[T int | int64 | float64 | time.Duration](env string, v T) error {
	if v < 0 {
		return fmt.Errorf("%s must not be negative, got %v", env, v)
	}
	return nil
}
