package envflag

import (
	"errors"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// String declares a text setting. An empty variable sets the empty string.
type String struct {
	P          *string // destination
	Env, Flag  string
	Default    string
	DocDefault string // the default as the docs write it, when computed at run time
	Help       string // --help text
	Doc        string // docs text (Markdown); Help when empty
	NonEmpty   bool
	Check      func(string) error // format check; its error is prefixed with the name
}

// Row implements Setting.
func (s String) Row() Row {
	def := s.Default
	if s.DocDefault != "" {
		def = s.DocDefault
	}
	return Row{Env: s.Env, Flag: s.Flag, Default: def, Doc: doc(s.Doc, s.Help)}
}

func (s String) bind(fs *pflag.FlagSet) (func() error, error) {
	def := s.Default
	if v, ok := lookup(s.Env); ok {
		def = v
	}
	fs.StringVar(s.P, s.Flag, def, usage(s.Env, s.Help))
	return func() error {
		n := name(s.Env, s.Flag)
		if s.NonEmpty && *s.P == "" {
			return errors.New(n + " must not be empty")
		}
		return checked(n, s.Check, *s.P)
	}, nil
}

// Bool declares a true/false setting ("true", "false", "1", "0", ...).
type Bool struct {
	P         *bool
	Env, Flag string
	Default   bool
	Help, Doc string
}

// Row implements Setting.
func (s Bool) Row() Row {
	return Row{Env: s.Env, Flag: s.Flag, Default: strconv.FormatBool(s.Default), Doc: doc(s.Doc, s.Help)}
}

func (s Bool) bind(fs *pflag.FlagSet) (func() error, error) {
	def, err := fromEnv(s.Env, s.Default, strconv.ParseBool, "a boolean")
	fs.BoolVar(s.P, s.Flag, def, usage(s.Env, s.Help))
	return func() error { return nil }, err
}

// Int declares a whole-number setting.
type Int struct {
	P         *int
	Env, Flag string
	Default   int
	Bound     Bound
	Help, Doc string
}

// Row implements Setting.
func (s Int) Row() Row {
	return Row{Env: s.Env, Flag: s.Flag, Default: strconv.Itoa(s.Default), Doc: doc(s.Doc, s.Help)}
}

func (s Int) bind(fs *pflag.FlagSet) (func() error, error) {
	def, err := fromEnv(s.Env, s.Default, strconv.Atoi, "an integer")
	fs.IntVar(s.P, s.Flag, def, usage(s.Env, s.Help))
	return func() error { return s.Bound.check(name(s.Env, s.Flag), *s.P, sign(*s.P)) }, err
}

// Float declares a decimal-number setting.
type Float struct {
	P         *float64
	Env, Flag string
	Default   float64
	Bound     Bound
	Help, Doc string
}

// Row implements Setting.
func (s Float) Row() Row {
	return Row{Env: s.Env, Flag: s.Flag, Default: strconv.FormatFloat(s.Default, 'g', -1, 64), Doc: doc(s.Doc, s.Help)}
}

func (s Float) bind(fs *pflag.FlagSet) (func() error, error) {
	parse := func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }
	def, err := fromEnv(s.Env, s.Default, parse, "a number")
	fs.Float64Var(s.P, s.Flag, def, usage(s.Env, s.Help))
	return func() error { return s.Bound.check(name(s.Env, s.Flag), *s.P, sign(*s.P)) }, err
}

// Unit is how a Duration setting is written.
type Unit int

const (
	// GoDuration is a Go duration: "500ms", "30s", "2m", "168h".
	GoDuration Unit = iota
	// Millis is a whole number of milliseconds: "5000".
	Millis
)

// Duration declares a length of time, written in Unit and stored in P as a
// time.Duration.
type Duration struct {
	P         *time.Duration
	Env, Flag string
	Unit      Unit
	Default   time.Duration // a whole number of milliseconds when Unit is Millis
	Bound     Bound
	Help, Doc string
}

// Row implements Setting. A zero Go duration is documented as unset.
func (s Duration) Row() Row {
	r := Row{Env: s.Env, Flag: s.Flag, Doc: doc(s.Doc, s.Help)}
	switch {
	case s.Unit == Millis:
		r.Default = strconv.FormatInt(s.Default.Milliseconds(), 10)
	case s.Default != 0:
		r.Default = s.Default.String()
	}
	return r
}

func (s Duration) bind(fs *pflag.FlagSet) (func() error, error) {
	n := name(s.Env, s.Flag)
	if s.Unit == Millis {
		ms := new(int)
		def, err := fromEnv(s.Env, int(s.Default.Milliseconds()), strconv.Atoi, "an integer")
		fs.IntVar(ms, s.Flag, def, usage(s.Env, s.Help))
		return func() error {
			*s.P = time.Duration(*ms) * time.Millisecond
			return s.Bound.check(n, *ms, sign(*ms))
		}, err
	}
	def, err := fromEnv(s.Env, s.Default, time.ParseDuration, "a duration such as 500ms or 30s")
	fs.DurationVar(s.P, s.Flag, def, usage(s.Env, s.Help))
	return func() error { return s.Bound.check(n, *s.P, sign(*s.P)) }, err
}

func doc(doc, help string) string {
	if doc != "" {
		return doc
	}
	return help
}
