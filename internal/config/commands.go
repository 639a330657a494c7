package config

import (
	"github.com/watchparty/watchparty/internal/dlq"
	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/flusher"
	"github.com/watchparty/watchparty/internal/gateway"
)

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
