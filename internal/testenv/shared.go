package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// shared holds the servers one test binary shares. It is the package's only
// state, because tests have no other place to meet; Main owns its lifetime.
var shared servers

// servers starts, or points at, the Redis and PostgreSQL servers a test
// binary shares, on first use. It is safe for concurrent use.
type servers struct {
	owned    atomic.Bool // Main runs and will call close
	redis    lazy[sharedRedis]
	postgres lazy[sharedPostgres]
	bins     lazy[string] // folder of the project's built binaries
	fastBins lazy[string] // the same, built without the race detector
}

type sharedRedis struct {
	url    string
	server *Redis // nil when TEST_REDIS_URL names the server
}

type sharedPostgres struct {
	cluster *cluster
	server  *Postgres // nil when TEST_DATABASE_URL names the server
}

// Main runs the package's tests, then stops the shared servers they started
// and drops the template they made on a TEST_DATABASE_URL server, then exits
// with the tests' code (made non-zero when that clean-up fails). Call it as
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// It exits the process itself, like a main function, because the clean-up
// result must reach the exit code.
func Main(m *testing.M) {
	shared.owned.Store(true)
	code := m.Run()
	if err := shared.close(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// SharedRedisURL returns the URL of the Redis server the test binary shares:
// TEST_REDIS_URL when set, else a throwaway server started on first use and
// stopped by Main. Tests must keep to their own keys and must not stop or
// reconfigure the server. It calls t.Fatal when the server cannot start or
// Main is not the package's TestMain.
func SharedRedisURL(t testing.TB) string {
	t.Helper()
	url, err := ownedShared().redisURL(os.Getenv("TEST_REDIS_URL"))
	if err != nil {
		t.Fatalf("shared redis: %v", err)
	}
	return url
}

// SharedPostgresURL returns the URL of dbname on the PostgreSQL server the
// test binary shares: TEST_DATABASE_URL's server when set (its database name
// is ignored), else a throwaway server started on first use and stopped by
// Main. Only "postgres" is sure to exist. It calls t.Fatal when the server
// cannot start or Main is not the package's TestMain.
func SharedPostgresURL(t testing.TB, dbname string) string {
	t.Helper()
	c, err := ownedShared().cluster(os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatalf("shared postgres: %v", err)
	}
	return c.url(dbname)
}

// NewDatabase returns the URL of a new database on the shared PostgreSQL
// server (see SharedPostgresURL), cloned from a template, and drops it when t
// ends. The first call in the test binary creates the template and runs
// migrate on it; later calls reuse it and ignore their migrate. A failed start
// or migration fails every caller.
func NewDatabase(t testing.TB, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	c, err := ownedShared().cluster(os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatalf("shared postgres: %v", err)
	}
	return newTestDatabase(t, c, migrate)
}

// ownedShared returns the shared servers, or nil when nobody would stop them.
func ownedShared() *servers {
	if !shared.owned.Load() {
		return nil
	}
	return &shared
}

var errNoMain = errors.New("shared servers need func TestMain(m *testing.M) { testenv.Main(m) } in the test package")

// redisURL returns envURL when set, else the URL of a server it starts once.
func (s *servers) redisURL(envURL string) (string, error) {
	if s == nil {
		return "", errNoMain
	}
	r, err := s.redis.get(func() (sharedRedis, error) {
		if envURL != "" {
			return sharedRedis{url: envURL}, nil
		}
		dir, err := os.MkdirTemp("", "testenv-redis-")
		if err != nil {
			return sharedRedis{}, fmt.Errorf("create redis folder: %w", err)
		}
		srv, err := startRedis(dir, nil)
		if err != nil {
			_ = os.RemoveAll(dir)
			return sharedRedis{}, err
		}
		return sharedRedis{url: srv.URL(), server: srv}, nil
	})
	return r.url, err
}

// cluster returns envURL's server when set, else a server it starts once.
func (s *servers) cluster(envURL string) (*cluster, error) {
	if s == nil {
		return nil, errNoMain
	}
	p, err := s.postgres.get(func() (sharedPostgres, error) {
		if envURL != "" {
			c, err := newCluster(envURL)
			return sharedPostgres{cluster: c}, err
		}
		srv, err := startPostgres()
		if err != nil {
			return sharedPostgres{}, err
		}
		return sharedPostgres{cluster: srv.db, server: srv}, nil
	})
	return p.cluster, err
}

// close stops the servers it started and drops the template it made on a
// server it did not start.
func (s *servers) close() error {
	for _, bins := range []*lazy[string]{&s.bins, &s.fastBins} {
		if dir, ok := bins.peek(); ok {
			_ = os.RemoveAll(dir)
		}
	}
	if r, ok := s.redis.peek(); ok && r.server != nil {
		r.server.Kill()
		_ = os.RemoveAll(r.server.dir)
	}
	p, ok := s.postgres.peek()
	switch {
	case !ok:
		return nil
	case p.server != nil:
		p.server.close()
		return nil
	default:
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		return p.cluster.dropTemplate(ctx)
	}
}

// SharedRedisClient returns a client of the shared Redis server, closed
// when t ends.
func SharedRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(SharedRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
