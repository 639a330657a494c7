package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelGroup is a throwaway replicated Redis: a master, its replicas and
// Sentinels monitoring it as MasterName, all on loopback, all killed when
// the test ends. The Sentinels run redis-server in Sentinel mode (what the
// redis-sentinel command is), so only redis-server is needed.
type SentinelGroup struct {
	MasterName string
	Master     *Redis
	Replicas   []*Redis
	Sentinels  []*Redis
}

// SentinelConfig sizes a SentinelGroup and tunes how fast it fails over.
type SentinelConfig struct {
	Replicas  int           // default 1
	Sentinels int           // default 3; the quorum is a majority
	DownAfter time.Duration // down-after-milliseconds; default 1 s
	// FailoverTimeout is failover-timeout; default 5 s.
	FailoverTimeout time.Duration
}

// StartSentinelGroup starts a master, cfg.Replicas replicas of it and
// cfg.Sentinels Sentinels, and returns once every replica is in sync and
// every Sentinel knows the replicas and the other Sentinels, so a failover
// can start as soon as the master is down. On failure it calls t.Fatal.
func StartSentinelGroup(t testing.TB, cfg SentinelConfig) *SentinelGroup {
	t.Helper()
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Sentinels <= 0 {
		cfg.Sentinels = 3
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = time.Second
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = 5 * time.Second
	}
	g := &SentinelGroup{MasterName: "watchparty", Master: StartRedis(t)}
	host, port := "127.0.0.1", strconv.Itoa(g.Master.port)
	for range cfg.Replicas {
		g.Replicas = append(g.Replicas, StartRedis(t, "--replicaof", host, port))
	}
	bin, err := redisServerPath()
	if err != nil {
		t.Fatal(err)
	}
	quorum := cfg.Sentinels/2 + 1
	for i := range cfg.Sentinels {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("sentinel monitor %s %s %s %d\n"+
			"sentinel down-after-milliseconds %[1]s %[5]d\n"+
			"sentinel failover-timeout %[1]s %[6]d\n"+
			"sentinel parallel-syncs %[1]s 1\n",
			g.MasterName, host, port, quorum, cfg.DownAfter.Milliseconds(), cfg.FailoverTimeout.Milliseconds())
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Redis{bin: bin, dir: dir, conf: conf, args: []string{"--sentinel"}}
		for try := 1; ; try++ {
			if s.port, err = FreePort(); err != nil {
				t.Fatal(err)
			}
			if err = s.start(); err == nil || try == startTries || !isInUse(err) {
				break
			}
		}
		if err != nil {
			t.Fatalf("start sentinel %d: %v", i, err)
		}
		t.Cleanup(s.Kill)
		g.Sentinels = append(g.Sentinels, s)
	}
	Eventually(t, 60*time.Second, "the replicas in sync and the Sentinels to know each other", func() bool {
		return g.settled(cfg.Replicas, cfg.Sentinels)
	})
	return g
}

// settled reports whether every replica's link is up and every Sentinel
// sees all replicas and the other Sentinels.
func (g *SentinelGroup) settled(replicas, sentinels int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, r := range g.Replicas {
		c := redis.NewClient(&redis.Options{Addr: r.Addr()})
		info, err := c.Info(ctx, "replication").Result()
		_ = c.Close()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return false
		}
	}
	for _, s := range g.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		m, err := c.Master(ctx, g.MasterName).Result()
		_ = c.Close()
		if err != nil || m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != strconv.Itoa(sentinels-1) {
			return false
		}
	}
	return true
}

// URL returns a Sentinel REDIS_URL for database 0 naming every Sentinel.
func (g *SentinelGroup) URL() string {
	u := "redis://" + g.Sentinels[0].Addr() + "/0?master_name=" + g.MasterName
	for _, s := range g.Sentinels[1:] {
		u += "&addr=" + s.Addr()
	}
	return u
}

// MasterAddr returns the master's address as the first Sentinel that
// answers names it.
func (g *SentinelGroup) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range g.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		addr, err := c.GetMasterAddrByName(ctx, g.MasterName).Result()
		_ = c.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("no Sentinel names the master: %v", last)
}

// WaitForFailover waits until a Sentinel names a master other than old and
// that server answers as a master, and returns its address.
func (g *SentinelGroup) WaitForFailover(t testing.TB, old string, timeout time.Duration) string {
	t.Helper()
	var addr string
	Eventually(t, timeout, "the Sentinels to promote a replica", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		a, err := g.MasterAddr(ctx)
		if err != nil || a == old {
			return false
		}
		c := redis.NewClient(&redis.Options{Addr: a})
		defer c.Close()
		info, err := c.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "role:master") {
			return false
		}
		addr = a
		return true
	})
	return addr
}
