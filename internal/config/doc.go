// Package config declares every setting of the gateway and flusher commands
// once: variable, flag, default, unit, meaning and checks, as envflag
// declarations bound to the fields of each binary's configuration. The
// binaries bind these declarations to their flags; the tables of
// docs/configuration.md are generated from them.
package config

//go:generate go run ./internal/configdoc ../../docs/configuration.md
