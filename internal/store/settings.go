package store

import (
	"fmt"
	"net/url"

	"github.com/watchparty/watchparty/internal/envflag"
)

// Settings declares DATABASE_URL, bound to databaseURL. Every command that
// talks to PostgreSQL declares its database with it.
func Settings(databaseURL *string) []envflag.Setting {
	return []envflag.Setting{envflag.String{P: databaseURL, Env: "DATABASE_URL", Flag: "database-url",
		Default: "postgres://postgres@localhost:5432/watchparty?sslmode=disable",
		Help:    "PostgreSQL URL", Doc: "PostgreSQL", Check: checkDatabaseURL}}
}

func checkDatabaseURL(v string) error {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("%q: want postgres://user@host:port/db", v)
	}
	return nil
}
