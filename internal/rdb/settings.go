package rdb

import "github.com/watchparty/watchparty/internal/envflag"

// Settings declares REDIS_URL and REDIS_CLUSTER, bound to url and cluster
// and checked together (Validate). Every command that talks to Redis
// declares its Redis settings with it.
func Settings(url *string, cluster *bool) []envflag.Setting {
	return []envflag.Setting{
		envflag.String{P: url, Env: "REDIS_URL", Flag: "redis-url", Default: "redis://localhost:6379/0",
			Help: "Redis URL; with ?master_name= a Sentinel URL; or comma-separated host:port seeds of a Redis Cluster",
			Doc: "Redis; with a `master_name` parameter the address(es) are Sentinels " +
				"(`redis://sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379`); " +
				"a comma-separated list of `host:port` means Redis Cluster seeds",
			Check: func(u string) error { return Validate(u, *cluster) }},
		envflag.Bool{P: cluster, Env: "REDIS_CLUSTER", Flag: "redis-cluster",
			Help: "treat a single REDIS_URL address as a Redis Cluster seed",
			Doc:  "treat a single `REDIS_URL` address as a Redis Cluster seed"},
	}
}
