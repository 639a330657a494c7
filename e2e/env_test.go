package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// system is one test's servers and processes: Redis, a fresh database and
// the binaries pointed at them.
type system struct {
	t        testing.TB
	redisURL string
	dbURL    string
	db       *pgxpool.Pool
	rdb      *redis.Client
	// fast runs the binaries built without the race detector (see
	// testenv.FastBinary).
	fast bool
}

func newSystem(t testing.TB, redisURL, dbURL string) *system {
	t.Helper()
	ctx := context.Background()
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return &system{t: t, redisURL: redisURL, dbURL: dbURL, db: db, rdb: rdb}
}

// sharedSystem uses a Redis database of its own on the package's shared
// server (the flusher works on every registered party, so tests must not
// see each other's registrations) and a fresh PostgreSQL database.
func sharedSystem(t testing.TB) *system {
	return newSystem(t, ownRedisDB(t, testenv.SharedRedisURL(t)), testenv.NewDatabase(t, store.Migrate))
}

var redisDBs atomic.Int32

// ownRedisDB returns serverURL with a database number no other test of this
// binary is using, emptied first.
func ownRedisDB(t testing.TB, serverURL string) string {
	t.Helper()
	opt, err := redis.ParseURL(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	opt.DB = 1 + int(redisDBs.Add(1)-1)%15
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB)
}

// start runs the project's command name (see testenv.StartProc).
func (s *system) start(name string, env []string, args ...string) *testenv.Proc {
	s.t.Helper()
	if s.fast {
		return testenv.StartExec(s.t, name, testenv.FastBinary(s.t, name), env, args...)
	}
	return testenv.StartProc(s.t, name, env, args...)
}

func (s *system) env(extra ...string) []string {
	return append([]string{
		"REDIS_URL=" + s.redisURL,
		"DATABASE_URL=" + s.dbURL,
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
	}, extra...)
}

// gateway starts a gateway process with dev auth and no rate limits and
// returns its address once it is ready.
func (s *system) gateway(extra ...string) (string, *testenv.Proc) {
	s.t.Helper()
	return s.startGateway("/readyz", extra)
}

// startGateway starts a gateway and waits until it answers probe.
func (s *system) startGateway(probe string, extra []string) (string, *testenv.Proc) {
	s.t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		s.t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env := s.env(append([]string{"GATEWAY_ADDR=" + addr, "WATCH_PARTY_DEV_AUTH=true",
		"WATCH_PARTY_CHAT_RATE=0", "WATCH_PARTY_LIKE_RATE=0"}, extra...)...)
	p := s.start("gateway", env)
	p.WaitHTTP(s.t, "http://"+addr+probe, 20*time.Second)
	return addr, p
}

// flusher starts `flusher run` with the given extra settings.
func (s *system) flusher(extra ...string) (string, *testenv.Proc) {
	s.t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		s.t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := s.start("flusher", s.env(append([]string{"FLUSHER_METRICS_ADDR=" + addr}, extra...)...), "run")
	p.WaitHTTP(s.t, "http://"+addr+"/healthz", 20*time.Second)
	return addr, p
}

// flushOnce runs `flusher run --once` and fails the test unless it exits 0.
func (s *system) flushOnce(extra ...string) {
	s.t.Helper()
	p := s.start("flusher", s.env(append([]string{"FLUSHER_METRICS_ADDR=127.0.0.1:0"}, extra...)...), "run", "--once")
	code, err := p.Wait(60 * time.Second)
	if err != nil || code != 0 {
		s.t.Fatalf("flusher run --once: exit %d, %v\n%s", code, err, p.Output())
	}
}

// party inserts a party with status, hosted by host, and returns its id.
func (s *system) party(status, host string) string {
	s.t.Helper()
	id := uuid.New()
	now := time.Now()
	_, err := s.db.Exec(context.Background(), `INSERT INTO watch_parties
		(id, title, video_url, host_user_id, start_time, end_time, status)
		VALUES ($1, 'test party', 'https://example.com/v.mp4', $2, $3, $4, $5)`,
		id, host, now.Add(-time.Minute), now.Add(time.Hour), status)
	if err != nil {
		s.t.Fatal(err)
	}
	return id.String()
}

// rows runs query and returns each row's values formatted as strings.
func (s *system) rows(query string, args ...any) [][]string {
	s.t.Helper()
	rows, err := s.db.Query(context.Background(), query, args...)
	if err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]string, error) {
		vals, err := r.Values()
		if err != nil {
			return nil, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case time.Time:
				row[i] = v.UTC().Format("2006-01-02T15:04:05.000Z07:00")
			case [16]byte:
				row[i] = uuid.UUID(v).String()
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		return row, nil
	})
	if err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
	return out
}

func (s *system) count(query string, args ...any) int {
	s.t.Helper()
	n, err := s.tryCount(query, args...)
	if err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// tryCount is count for polling while a server may be down.
func (s *system) tryCount(query string, args ...any) (int, error) {
	var n int
	err := s.db.QueryRow(context.Background(), query, args...).Scan(&n)
	return n, err
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, timeout, what, cond)
}

func streamKey(party string) string { return "wp:{" + party + "}:events" }
