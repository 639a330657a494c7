package config

import (
	"fmt"
	"net/url"

	"github.com/watchparty/watchparty/internal/envflag"
	"github.com/watchparty/watchparty/internal/logging"
	"github.com/watchparty/watchparty/internal/rdb"
)

// Redis declares REDIS_URL and REDIS_CLUSTER, checked together.
func Redis(redisURL *string, cluster *bool) []envflag.Setting {
	return []envflag.Setting{
		envflag.String{P: redisURL, Env: "REDIS_URL", Flag: "redis-url", Default: "redis://localhost:6379/0",
			Help: "Redis URL; with ?master_name= a Sentinel URL; or comma-separated host:port seeds of a Redis Cluster",
			Doc: "Redis; with a `master_name` parameter the address(es) are Sentinels " +
				"(`redis://sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379`); " +
				"a comma-separated list of `host:port` means Redis Cluster seeds",
			Check: func(u string) error { return rdb.Validate(u, *cluster) }},
		envflag.Bool{P: cluster, Env: "REDIS_CLUSTER", Flag: "redis-cluster",
			Help: "treat a single REDIS_URL address as a Redis Cluster seed",
			Doc:  "treat a single `REDIS_URL` address as a Redis Cluster seed"},
	}
}

// Postgres declares DATABASE_URL.
func Postgres(databaseURL *string) []envflag.Setting {
	return []envflag.Setting{envflag.String{P: databaseURL, Env: "DATABASE_URL", Flag: "database-url",
		Default: "postgres://postgres@localhost:5432/watchparty?sslmode=disable",
		Help:    "PostgreSQL URL", Doc: "PostgreSQL", Check: checkPostgresURL}}
}

func checkPostgresURL(v string) error {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("%q: want postgres://user@host:port/db", v)
	}
	return nil
}

// Logging declares LOG_FORMAT and LOG_LEVEL.
func Logging(format, level *string) []envflag.Setting {
	return []envflag.Setting{
		envflag.String{P: format, Env: "LOG_FORMAT", Flag: "log-format", Default: "json",
			Help: "log format: json or text", Doc: "`json` or `text`", Check: logging.CheckFormat},
		envflag.String{P: level, Env: "LOG_LEVEL", Flag: "log-level", Default: "info",
			Help: "log level: debug, info, warn, error", Doc: "`debug`, `info`, `warn` or `error`", Check: logging.CheckLevel},
	}
}
