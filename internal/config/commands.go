package config

import (
	"slices"

	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/erase"
	"github.com/watchparty/watchparty/internal/flusher"
	"github.com/watchparty/watchparty/internal/gateway"
	"github.com/watchparty/watchparty/internal/lifecycle"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
)

// Gateway is the gateway command: the settings internal/gateway declares,
// bound to c.
func Gateway(c *gateway.Config) envflag.Command {
	return envflag.Command{Name: "gateway", Settings: gateway.Settings(c), Rules: gateway.Rules(c)}
}

// FlusherRun is `flusher run`: the settings internal/flusher declares, with
// those of the scheduler it runs (internal/lifecycle), bound to c and once.
func FlusherRun(c *flusher.Config, once *bool) envflag.Command {
	scheduler := lifecycle.Settings(lifecycle.Fields{LogRetention: &c.LogRetention, ChatRetention: &c.ChatRetention,
		Interval: &c.SchedulerInterval, LeaseTTL: &c.LeaseTTL, SampleInterval: &c.ViewerSampleInterval})
	return envflag.Command{
		Name:     "flusher run",
		Settings: append(flusher.Settings(c, scheduler...), flusher.Once(once)),
		Rules:    flusher.Rules(c),
	}
}

// FlusherMigrate is `flusher migrate`: the database only.
func FlusherMigrate(databaseURL *string) envflag.Command {
	return envflag.Command{Name: "flusher migrate", Settings: store.Settings(databaseURL)}
}

// DLQ is the part of the flusher's configuration the dead-letter commands
// use.
type DLQ struct {
	RedisURL     string
	RedisCluster bool
	DatabaseURL  string // replay-dlq only
	LogFormat    string
	LogLevel     string
}

// redis and logs are the shared settings of the dead-letter commands,
// declared by the packages that own them.
func (c *DLQ) redis() []envflag.Setting { return rdb.Settings(&c.RedisURL, &c.RedisCluster) }
func (c *DLQ) logs() []envflag.Setting  { return logging.Settings(&c.LogFormat, &c.LogLevel) }

// ReplayDLQ is `flusher replay-dlq`, bound to c and opts (Limit and DryRun;
// the party id is an argument checked by the command).
func ReplayDLQ(c *DLQ, opts *dlq.ReplayOptions) envflag.Command {
	return envflag.Command{
		Name:     "flusher replay-dlq",
		Settings: slices.Concat(c.redis(), store.Settings(&c.DatabaseURL), c.logs(), dlq.ReplaySettings(opts)),
	}
}

// DLQList is `flusher dlq list`, bound to c and limit.
func DLQList(c *DLQ, limit *int) envflag.Command {
	return envflag.Command{Name: "flusher dlq list", Settings: slices.Concat(c.redis(), c.logs(), dlq.ListSettings(limit))}
}

// DLQShow is `flusher dlq show`, bound to c.
func DLQShow(c *DLQ) envflag.Command {
	return envflag.Command{Name: "flusher dlq show", Settings: slices.Concat(c.redis(), c.logs())}
}

// EraseUser is the configuration of `flusher erase-user`.
type EraseUser struct {
	DLQ           // Redis, PostgreSQL and logging
	erase.Options // whose events, where, and how
}

// EraseUserCmd is `flusher erase-user`, bound to c.
func EraseUserCmd(c *EraseUser) envflag.Command {
	return envflag.Command{
		Name: "flusher erase-user",
		Settings: slices.Concat(c.redis(), store.Settings(&c.DatabaseURL), c.logs(),
			erase.Settings(&c.Options)),
	}
}

// Commands returns the declarations of every command, bound to values of
// their own: what the docs are generated from.
func Commands() []envflag.Command {
	var once bool
	var limit int
	var migrateURL string
	return []envflag.Command{
		Gateway(&gateway.Config{}),
		FlusherRun(&flusher.Config{}, &once),
		FlusherMigrate(&migrateURL),
		ReplayDLQ(&DLQ{}, &dlq.ReplayOptions{}),
		DLQList(&DLQ{}, &limit),
		DLQShow(&DLQ{}),
		EraseUserCmd(&EraseUser{}),
	}
}

// Docs returns doc, the text of docs/configuration.md, with each command's
// table regenerated from its declaration.
func Docs(doc string) (string, error) { return envflag.Splice(doc, Commands()...) }
