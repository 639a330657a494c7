// Package config assembles the gateway and flusher commands from the
// settings each component declares next to its Config (gateway.Settings,
// flusher.Settings, lifecycle.Settings, dlq.ReplaySettings,
// erase.Settings, and the shared rdb.Settings, store.Settings and
// logging.Settings), and generates the tables of docs/configuration.md from
// them. It declares no setting itself.
package config

//go:generate go run ./internal/configdoc ../../docs/configuration.md
