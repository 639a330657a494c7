// Package rdb opens the Redis client both binaries share, standalone, behind
// Sentinels or Redis Cluster, and checks the server is safe to keep events
// in.
package rdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pool bounds: at most poolSize connections per node for bursts (joins
// after a failover, a reconnect storm), of which at most maxIdle are kept
// once the burst is over; each costs its read and write buffers (64 KiB and
// more), so an idle gateway does not keep a burst's worth of them.
const (
	poolSize = 64
	maxIdle  = 16
)

// Open returns a client for redisURL: a redis:// or rediss:// URL, or a
// comma-separated list of host:port seeds, which means Redis Cluster, as does
// cluster=true with a single address. A URL with a master_name parameter
// names Sentinels instead (go-redis's ParseFailoverURL form,
// redis://[:sentinel-password@]host:26379/0?master_name=mymaster&addr=host2:26379),
// and the client follows the master they elect across failovers. It does not
// connect; use Ping for that.
func Open(redisURL string, cluster bool) (redis.UniversalClient, error) {
	if IsSentinelURL(redisURL) {
		if cluster {
			return nil, errors.New("REDIS_CLUSTER cannot be combined with a Sentinel REDIS_URL (master_name)")
		}
		opt, err := redis.ParseFailoverURL(redisURL)
		if err != nil {
			return nil, fmt.Errorf("parse Sentinel REDIS_URL: %w", err)
		}
		if opt.MasterName == "" {
			return nil, errors.New("Sentinel REDIS_URL: master_name is empty")
		}
		opt.ContextTimeoutEnabled = true
		opt.PoolSize, opt.MaxIdleConns = poolSize, maxIdle
		return redis.NewFailoverClient(opt), nil
	}
	seeds := strings.Split(redisURL, ",")
	if len(seeds) > 1 || (cluster && !strings.Contains(redisURL, "://")) {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 trimAll(seeds),
			ContextTimeoutEnabled: true,
			PoolSize:              poolSize,
			MaxIdleConns:          maxIdle,
		}), nil
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_URL: %w", err)
	}
	opt.ContextTimeoutEnabled = true
	opt.PoolSize, opt.MaxIdleConns = poolSize, maxIdle
	if cluster {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 []string{opt.Addr},
			Username:              opt.Username,
			Password:              opt.Password,
			TLSConfig:             opt.TLSConfig,
			ContextTimeoutEnabled: true,
			PoolSize:              poolSize,
			MaxIdleConns:          maxIdle,
		}), nil
	}
	return redis.NewClient(opt), nil
}

// IsSentinelURL reports whether redisURL names Sentinels: a redis:// or
// rediss:// URL with a master_name query parameter.
func IsSentinelURL(redisURL string) bool {
	if !strings.HasPrefix(redisURL, "redis://") && !strings.HasPrefix(redisURL, "rediss://") {
		return false
	}
	u, err := url.Parse(redisURL)
	return err == nil && u.Query().Has("master_name")
}

// IsCluster reports whether Open makes a Redis Cluster client of redisURL
// and cluster.
func IsCluster(redisURL string, cluster bool) bool {
	return !IsSentinelURL(redisURL) && (cluster || strings.Contains(redisURL, ","))
}

// Validate checks a REDIS_URL without connecting.
func Validate(redisURL string, cluster bool) error {
	c, err := Open(redisURL, cluster)
	if err != nil {
		return err
	}
	return c.Close()
}

func trimAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// WarnIfEvicting logs a warning when the server may evict keys: a stream
// evicted under memory pressure loses acknowledged events. While Redis
// cannot be reached it retries with backoff until it reads the setting or
// ctx ends, so callers run it in its own goroutine; a server that refuses
// CONFIG GET (managed services may) is logged once and left alone.
func WarnIfEvicting(ctx context.Context, c redis.UniversalClient, log *slog.Logger) {
	var policy string
	var refused error
	_ = Retry(ctx, log, "reading maxmemory-policy", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		res, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if IsReply(err) {
			refused = err
			return nil
		}
		policy = res["maxmemory-policy"]
		return err
	})
	switch {
	case refused != nil:
		log.Warn("cannot read redis maxmemory-policy", "err", refused)
	case policy != "" && policy != "noeviction":
		log.Warn("redis may evict keys: set maxmemory-policy noeviction or acknowledged events can be lost",
			"maxmemory_policy", policy)
	}
}
