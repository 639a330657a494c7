package bench

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/watchparty/watchparty/internal/rdb"
	"github.com/watchparty/watchparty/internal/store"
	"github.com/watchparty/watchparty/internal/testenv"
)

// env is one benchmark's throwaway servers and clients to them.
type env struct {
	pg       *testenv.Postgres
	redisURL string
	dbURL    string
	rdb      redis.UniversalClient
	pool     *pgxpool.Pool
}

// newEnv starts Redis and PostgreSQL for b and opens the clients the
// binaries would open (rdb.Open, store.Open) on a freshly migrated database.
func newEnv(b *testing.B) *env {
	b.Helper()
	r := testenv.StartRedis(b)
	p := testenv.StartPostgres(b)
	e := &env{pg: p, redisURL: r.URL(), dbURL: p.NewDatabase(b, store.Migrate)}
	e.rdb = openRedis(b, e.redisURL)
	e.pool = openPool(b, e.dbURL)
	return e
}

// openRedis opens a client the way both binaries do (pool of 64).
func openRedis(b *testing.B, url string) redis.UniversalClient {
	b.Helper()
	rc, err := rdb.Open(url, false)
	if err != nil {
		b.Fatalf("open redis: %v", err)
	}
	b.Cleanup(func() { _ = rc.Close() })
	return rc
}

func openPool(b *testing.B, url string) *pgxpool.Pool {
	b.Helper()
	pool, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatalf("open database: %v", err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// quietLogger logs errors only, so that benchmark output stays readable.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// insertParties stores n ONGOING parties, the way another system may.
func insertParties(ctx context.Context, b *testing.B, pool *pgxpool.Pool, n int) []uuid.UUID {
	b.Helper()
	now := time.Now()
	ids := make([]uuid.UUID, n)
	rows := make([][]any, n)
	for i := range ids {
		ids[i] = uuid.New()
		rows[i] = []any{ids[i], fmt.Sprintf("bench party %d", i), "https://example.com/v.mp4",
			fmt.Sprintf("host%d", i), now.Add(-time.Hour), now.Add(24 * time.Hour), store.Ongoing}
	}
	cols := []string{"id", "title", "video_url", "host_user_id", "start_time", "end_time", "status"}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"watch_parties"}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatalf("insert parties: %v", err)
	}
	return ids
}

// usage is where the CPU of a phase went: this process (load tool and
// system under test together), Redis, PostgreSQL, the kernel's interrupt
// work (loopback networking mostly), and the whole machine.
type usage struct {
	Wall, Self, Redis, Postgres time.Duration
	Machine, IRQ, Steal         time.Duration
	// Allocs is the heap objects this process allocated (the gateway
	// and, in the same process, the load tool or the loop).
	Allocs uint64
}

// Other is CPU used by none of the above: anything else running on the
// machine (noise).
func (u usage) Other() time.Duration { return u.Machine - u.Self - u.Redis - u.Postgres - u.IRQ }

func (u usage) String() string {
	pct := func(d time.Duration) string {
		return fmt.Sprintf("%.0f%%", 100*d.Seconds()/u.Wall.Seconds())
	}
	return fmt.Sprintf("cpu (%% of one core over %.2fs): go %s, redis %s, postgres %s, kernel irq %s, other %s, steal %s",
		u.Wall.Seconds(), pct(u.Self), pct(u.Redis), pct(u.Postgres), pct(u.IRQ), pct(u.Other()), pct(u.Steal))
}

// noisy reports whether something besides Go, Redis, PostgreSQL and the
// kernel's interrupt work used more than a quarter of a core: other programs
// on the machine, which make the figures unreliable.
func (u usage) noisy() bool { return u.Other() > u.Wall/4 }

// warnNoise prints a warning when phase ran on a busy machine.
func warnNoise(b *testing.B, phase string, u usage) {
	b.Helper()
	if u.noisy() {
		say(b, "WARNING: other programs used %.0f%% of a core during %s; its figures are unreliable (rerun on a quiet machine)",
			100*u.Other().Seconds()/u.Wall.Seconds(), phase)
	}
}

// meter samples CPU counters; Stop returns the usage since Start.
type meter struct {
	rdb   redis.UniversalClient
	pgPID int // postmaster; 0 when unknown
	start time.Time
	at    usage
}

// newMeter finds the postmaster behind pool (nil: no PostgreSQL to watch).
func newMeter(ctx context.Context, rc redis.UniversalClient, pool *pgxpool.Pool) *meter {
	m := &meter{rdb: rc}
	if pool != nil {
		var backend int
		if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err == nil {
			m.pgPID, _, _ = procStat(backend)
		}
	}
	return m
}

func (m *meter) sample(ctx context.Context) usage {
	u := usage{Self: selfCPU(), Redis: redisCPU(ctx, m.rdb), Postgres: treeCPU(m.pgPID), Allocs: heapAllocs()}
	u.Machine, u.IRQ, u.Steal = machineCPU()
	return u
}

func (m *meter) Start(ctx context.Context) {
	m.start = time.Now()
	m.at = m.sample(ctx)
}

func (m *meter) Stop(ctx context.Context) usage {
	now := m.sample(ctx)
	return usage{
		Wall:     time.Since(m.start),
		Self:     now.Self - m.at.Self,
		Redis:    now.Redis - m.at.Redis,
		Postgres: now.Postgres - m.at.Postgres,
		Machine:  now.Machine - m.at.Machine,
		IRQ:      now.IRQ - m.at.IRQ,
		Steal:    now.Steal - m.at.Steal,
		Allocs:   now.Allocs - m.at.Allocs,
	}
}

// heapAllocs is how many heap objects this process allocated so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func redisCPU(ctx context.Context, rc redis.UniversalClient) time.Duration {
	info := parseInfo(rc.Info(ctx, "cpu").Val())
	user, _ := strconv.ParseFloat(info["used_cpu_user"], 64)
	sys, _ := strconv.ParseFloat(info["used_cpu_sys"], 64)
	return time.Duration((user + sys) * float64(time.Second))
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat returns a process's parent and its user+system CPU.
func procStat(pid int) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(utime+stime) * clockTick, true
}

// treeCPU is the CPU of pid and its children (the postmaster and its
// backends); backends that already exited are not counted.
func treeCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	_, total, _ := procStat(pid)
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if ppid, cpu, ok := procStat(child); ok && ppid == pid {
			total += cpu
		}
	}
	return total
}

// machineCPU is the busy time of every core (user, nice, system, irq,
// softirq), the interrupt part of it, and the time the hypervisor took
// (steal), from /proc/stat.
func machineCPU() (busy, irq, steal time.Duration) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(line)
	n := make([]int64, 8)
	for i := range n {
		if i+1 < len(fields) {
			n[i], _ = strconv.ParseInt(fields[i+1], 10, 64)
		}
	}
	user, nice, system, irqs, softirq, st := n[0], n[1], n[2], n[5], n[6], n[7]
	return time.Duration(user+nice+system+irqs+softirq) * clockTick,
		time.Duration(irqs+softirq) * clockTick, time.Duration(st) * clockTick
}

// parseInfo turns an INFO reply into a map.
func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// cmdStat is one command's line of INFO commandstats.
type cmdStat struct {
	Name  string
	Calls int64
	Usec  int64
}

// commandStats returns Redis's per-command time since the last CONFIG
// RESETSTAT, busiest first. Commands run by scripts are counted too.
func commandStats(ctx context.Context, rc redis.UniversalClient) []cmdStat {
	var out []cmdStat
	for k, v := range parseInfo(rc.Info(ctx, "commandstats").Val()) {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		s := cmdStat{Name: name}
		for _, kv := range strings.Split(v, ",") {
			key, val, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(val, 10, 64)
			switch key {
			case "calls":
				s.Calls = n
			case "usec":
				s.Usec = n
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b cmdStat) int { return int(b.Usec - a.Usec) })
	return out
}

func formatCommandStats(stats []cmdStat, perEvent int) string {
	var sb strings.Builder
	for i, s := range stats {
		if i == 8 || s.Usec == 0 {
			break
		}
		fmt.Fprintf(&sb, " %s=%.0fms/%d calls (%.2fµs/event)", s.Name, float64(s.Usec)/1000, s.Calls,
			float64(s.Usec)/float64(perEvent))
	}
	return sb.String()
}

func resetStats(ctx context.Context, b *testing.B, rc redis.UniversalClient) {
	b.Helper()
	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatalf("config resetstat: %v", err)
	}
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// say prints a line where `go test -bench` shows it: stdout. (b.Log output
// of a benchmark is shown too, but cut after a few lines.)
func say(b *testing.B, format string, args ...any) {
	b.Helper()
	fmt.Printf("    %s: %s\n", b.Name(), fmt.Sprintf(format, args...))
}

// result prints a summary line and also logs it.
func result(b *testing.B, format string, args ...any) {
	b.Helper()
	say(b, format, args...)
	b.Logf(format, args...)
}

// machine describes where the numbers were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s)", runtime.NumCPU(), model)
}

// pgPID is the postmaster of the benchmark's PostgreSQL, 0 when unknown.
func (e *env) pgPID(ctx context.Context) int {
	var backend int
	if err := e.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0
	}
	ppid, _, _ := procStat(backend)
	return ppid
}
