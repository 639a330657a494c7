package testenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
	startTries   = 3
)

// Redis is a throwaway redis-server listening on 127.0.0.1. Addr and URL are
// safe for concurrent use; Stop, Kill and Restart belong to one goroutine at a
// time, normally the test's.
type Redis struct {
	bin  string
	dir  string
	conf string // config file, first argument when set (Sentinels)
	args []string
	port int

	mu   sync.Mutex
	proc *process // nil while stopped
}

// StartRedis starts redis-server on a free loopback port with a temporary
// working folder, without persistence unless extraArgs turn it on (they come
// last, so "--appendonly", "yes" wins). It returns once the server answers
// PING and kills it when t ends; on failure it calls t.Fatal with the log.
func StartRedis(t testing.TB, extraArgs ...string) *Redis {
	t.Helper()
	r, err := startRedis(t.TempDir(), extraArgs)
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	t.Cleanup(r.Kill)
	return r
}

// startRedis starts a server working in dir, which the caller owns, and
// returns it ready. The caller must Kill or Stop it.
func startRedis(dir string, extraArgs []string) (*Redis, error) {
	bin, err := redisServerPath()
	if err != nil {
		return nil, err
	}
	r := &Redis{bin: bin, dir: dir, args: append([]string{"--save", "", "--appendonly", "no"}, extraArgs...)}
	for try := 1; ; try++ {
		if r.port, err = FreePort(); err != nil {
			return nil, err
		}
		if err = r.start(); err == nil || try == startTries || !isInUse(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Addr returns the server's "127.0.0.1:port".
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL returns a redis:// URL for database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Stop shuts the server down with SIGTERM and waits for it to exit. With
// appendonly on, the AOF is flushed first. Stopping a stopped server does
// nothing.
func (r *Redis) Stop() {
	if p := r.take(); p != nil {
		p.stop(syscall.SIGTERM, stopTimeout)
	}
}

// Kill kills the server with SIGKILL and waits for it to exit; only what it
// already wrote to disk survives. Killing a stopped server does nothing.
func (r *Redis) Kill() {
	if p := r.take(); p != nil {
		p.kill()
	}
}

// Freeze stops the server's process with SIGSTOP, as a hung or
// partitioned host would: it reads nothing and answers nobody until Thaw.
// Freezing a stopped server does nothing.
func (r *Redis) Freeze() { r.signal(syscall.SIGSTOP) }

// Thaw lets a frozen server run again with SIGCONT.
func (r *Redis) Thaw() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		_ = r.proc.cmd.Process.Signal(sig)
	}
}

// Restart stops the server if it runs, then starts it again on the same port
// with the same folder and arguments, and returns once it answers PING (after
// loading any AOF). On failure it calls t.Fatal with the log.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	var err error
	for try := 1; try <= startTries; try++ {
		if err = r.start(); err == nil || !isInUse(err) {
			break
		}
	}
	if err != nil {
		t.Fatalf("restart redis: %v", err)
	}
}

// start runs the server on r.port and waits until it answers.
func (r *Redis) start() error {
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	args = append(append(args, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir, "--daemonize", "no"), r.args...)
	p, err := startProcess(r.bin, args, r.dir, filepath.Join(r.dir, "redis.log"), nil)
	if err != nil {
		return err
	}
	ready := func(ctx context.Context) error { return r.ping(ctx, p.cmd.Process.Pid) }
	if err := p.waitReady(readyTimeout, ready); err != nil {
		p.kill()
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proc = p
	return nil
}

// take returns the running process, if any, and marks the server stopped.
func (r *Redis) take() *process {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.proc
	r.proc = nil
	return p
}

// ping wants +PONG to an inline PING, which a server still loading its AOF
// answers with -LOADING, and wants INFO to name our process, since another
// server may hold the port while ours fails to bind it.
func (r *Redis) ping(ctx context.Context, pid int) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.Addr())
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte("PING\r\nINFO server\r\n")); err != nil {
		return fmt.Errorf("send ping: %w", err)
	}
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("ping reply %q: %v", line, err)
	}
	header, err := rd.ReadString('\n')
	if err != nil {
		return fmt.Errorf("read info reply: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "$")))
	if err != nil {
		return fmt.Errorf("info reply %q", header)
	}
	info := make([]byte, n)
	if _, err := io.ReadFull(rd, info); err != nil {
		return fmt.Errorf("read info reply: %w", err)
	}
	if want := "process_id:" + strconv.Itoa(pid) + "\r\n"; !strings.Contains(string(info), want) {
		return fmt.Errorf("another server answers on %s", r.Addr())
	}
	return nil
}

// StartRedisClient starts a throwaway Redis server, for tests that touch
// global keys, and returns a client of it; both end with t.
func StartRedisClient(t testing.TB, extraArgs ...string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: StartRedis(t, extraArgs...).Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
