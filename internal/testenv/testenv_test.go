package testenv

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { Main(m) }

func TestRedisAOFSurvivesKill(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	if want := "redis://" + r.Addr() + "/0"; r.URL() != want || !strings.HasPrefix(r.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr %q, URL %q", r.Addr(), r.URL())
	}
	rdb := newRedisClient(t, r.URL())
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "before kill", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	r.Kill()
	if conn, err := net.Dial("tcp", r.Addr()); err == nil {
		conn.Close()
		t.Fatal("killed redis still accepts connections")
	}
	r.Restart(t)
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "before kill" {
		t.Fatalf("after restart: get k = %q, %v; want %q", got, err, "before kill")
	}
}

func TestRedisDefaultKeepsNothing(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	rdb := newRedisClient(t, r.URL())
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	r.Stop()
	r.Restart(t)
	if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after restart without persistence: get k: %v, want redis.Nil", err)
	}
}

func TestSharedRedisURL(t *testing.T) {
	t.Parallel()
	url := SharedRedisURL(t)
	if again := SharedRedisURL(t); again != url {
		t.Fatalf("second call gave %q, first %q", again, url)
	}
	if err := newRedisClient(t, url).Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping shared redis: %v", err)
	}
}

func TestSharedRedisEnvOverride(t *testing.T) {
	var s servers
	const env = "redis://example.invalid:1/0"
	if got, err := s.redisURL(env); err != nil || got != env {
		t.Fatalf("redisURL(%q) = %q, %v", env, got, err)
	}
	if r, _ := s.redis.peek(); r.server != nil {
		t.Fatal("started a server although TEST_REDIS_URL was set")
	}
}

func TestSharedNeedsMain(t *testing.T) {
	var s *servers
	if _, err := s.redisURL(""); !errors.Is(err, errNoMain) {
		t.Fatalf("redisURL without Main: %v, want errNoMain", err)
	}
	if _, err := s.cluster(""); !errors.Is(err, errNoMain) {
		t.Fatalf("cluster without Main: %v, want errNoMain", err)
	}
}

func TestPostgresSurvivesStopAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and kills PostgreSQL; skipped with -short")
	}
	t.Parallel()
	p := StartPostgres(t)
	if want := "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.Port()) + "/x?sslmode=disable"; p.URL("x") != want {
		t.Fatalf("URL(x) = %q, want %q", p.URL("x"), want)
	}
	runSQL(t, p.URL("postgres"), "CREATE TABLE kept (x int)", "INSERT INTO kept VALUES (1)")
	p.Stop()
	if _, err := connect(p.URL("postgres")); err == nil {
		t.Fatal("stopped postgres accepts connections")
	}
	p.Start(t)
	if n := count(t, p.URL("postgres"), "kept"); n != 1 {
		t.Fatalf("after stop and start: %d rows, want 1", n)
	}
	held, err := connect(p.URL("postgres")) // a backend for Kill to take down
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer held.Close(context.Background())
	backends := descendants(p.proc.cmd.Process.Pid)
	if runtime.GOOS == "linux" && len(backends) < 2 {
		t.Fatalf("postmaster children %v, want a few", backends)
	}
	p.Kill()
	for _, pid := range backends {
		if running(pid) {
			t.Errorf("postgres child %d still running after Kill", pid)
		}
	}
	p.Start(t)
	if n := count(t, p.URL("postgres"), "kept"); n != 1 {
		t.Fatalf("after kill and start: %d rows, want 1", n)
	}

	t.Run("NewDatabase", func(t *testing.T) {
		migrate, runs := countingMigrate()
		a, b := p.NewDatabase(t, migrate), p.NewDatabase(t, migrate)
		checkFreshPair(t, a, b)
		if n := runs.Load(); n != 1 {
			t.Fatalf("migrate ran %d times, want 1", n)
		}
	})
	t.Run("DatabaseEnvOverride", func(t *testing.T) {
		var s servers
		c, err := s.cluster(p.URL("ignored"))
		if err != nil {
			t.Fatal(err)
		}
		migrate, _ := countingMigrate()
		url := newTestDatabase(t, c, migrate)
		if !strings.Contains(url, "127.0.0.1:"+strconv.Itoa(p.Port())+"/wp_test_") {
			t.Fatalf("database URL %q is not on the TEST_DATABASE_URL server", url)
		}
		checkFreshPair(t, url, newTestDatabase(t, c, migrate))
		template, _ := c.template.peek()
		if err := s.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if n := countWhere(t, p.URL("postgres"), "pg_database", "datname = '"+template+"'"); n != 0 {
			t.Fatalf("template %s survived close", template)
		}
	})
	t.Run("MigrationFailureFailsEveryCaller", func(t *testing.T) {
		c, err := newCluster(p.URL("ignored"))
		if err != nil {
			t.Fatal(err)
		}
		broken := func(context.Context, string) error { return errors.New("broken migration") }
		ctx := context.Background()
		for i := range 2 {
			if _, err := c.newDatabase(ctx, broken); err == nil || !strings.Contains(err.Error(), "broken migration") {
				t.Fatalf("call %d: %v, want the migration error", i+1, err)
			}
		}
	})
}

func TestNewDatabaseShared(t *testing.T) {
	t.Parallel()
	migrate, _ := countingMigrate()
	a, b := NewDatabase(t, migrate), NewDatabase(t, migrate)
	checkFreshPair(t, a, b)
	if url := SharedPostgresURL(t, "postgres"); count(t, url, "pg_database") < 2 {
		t.Fatalf("shared server at %s lists fewer than two databases", url)
	}
}

// countingMigrate returns a migration creating table t and how often it ran.
func countingMigrate() (func(context.Context, string) error, *atomic.Int32) {
	runs := new(atomic.Int32)
	return func(ctx context.Context, url string) error {
		runs.Add(1)
		conn, err := connect(url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE t (x int)")
		return err
	}, runs
}

// checkFreshPair checks that a and b are different databases, each with an
// empty migrated table t.
func checkFreshPair(t *testing.T, a, b string) {
	t.Helper()
	if a == b {
		t.Fatalf("two calls gave the same database %s", a)
	}
	runSQL(t, a, "INSERT INTO t VALUES (1)")
	if n := count(t, b, "t"); n != 0 {
		t.Fatalf("row inserted in %s shows in %s: %d rows", a, b, n)
	}
	if n := count(t, a, "t"); n != 1 {
		t.Fatalf("%s: %d rows, want 1", a, n)
	}
}

func newRedisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis URL: %v", err)
	}
	opt.MaxRetries = -1 // a killed server must fail fast, not be retried
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func connect(url string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return pgx.Connect(ctx, url)
}

func runSQL(t *testing.T, url string, statements ...string) {
	t.Helper()
	conn, err := connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	for _, s := range statements {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func count(t *testing.T, url, table string) int {
	t.Helper()
	return countWhere(t, url, table, "true")
}

func countWhere(t *testing.T, url, table, where string) int {
	t.Helper()
	conn, err := connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+where).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
