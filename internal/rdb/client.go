package rdb

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Client is the Redis client that Open returns and the binaries hand down
// to the packages that keep state in Redis. Those packages hold it and pass
// it back to rdb (or to internal/stream) without issuing commands through
// it themselves: every command is a domain method or function of rdb, so
// that only rdb and the test harness import go-redis.
type Client = redis.UniversalClient

// Ping dials the Redis at raw once, without retrying, and reports whether it
// answers PING: raw is a redis:// URL or a comma-separated list of
// host:port addresses (for `wpclient ping`, which retries itself).
func Ping(ctx context.Context, raw string) error {
	var c redis.UniversalClient
	if strings.Contains(raw, "://") {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return err
		}
		opt.MaxRetries, opt.DialerRetries = -1, 1
		c = redis.NewClient(opt)
	} else {
		c = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: strings.Split(raw, ","), MaxRetries: -1, DialerRetries: 1})
	}
	defer c.Close()
	return c.Ping(ctx).Err()
}

// SilenceClientLogs drops go-redis's own log lines (dial retries, …) for
// the rest of the process, for a command that reports its errors itself.
func SilenceClientLogs() { redis.SetLogger(silentLog{}) }

type silentLog struct{}

func (silentLog) Printf(context.Context, string, ...any) {}
