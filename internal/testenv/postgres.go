package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const initdbTimeout = 2 * time.Minute

// Postgres is a throwaway PostgreSQL cluster listening on 127.0.0.1, with
// trust authentication for the superuser postgres. URL, Port and NewDatabase
// are safe for concurrent use; Stop, Kill and Start belong to one goroutine
// at a time, normally the test's.
type Postgres struct {
	db   *cluster
	bin  string
	root string // our folder: data, socket and log; removed by close
	cred *syscall.Credential
	port int

	mu   sync.Mutex
	proc *process // nil while stopped
}

// StartPostgres initialises a cluster in a temporary folder and starts it on
// a free loopback port, as an unprivileged user when we are root. It returns
// once a connection succeeds, and stops the server and removes its files when
// t ends; on failure it calls t.Fatal with the server log.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := startPostgres()
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(p.close)
	return p
}

// startPostgres initialises and starts a cluster and returns it ready. The
// caller must call close.
func startPostgres() (*Postgres, error) {
	initdb, bin, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	root, err := serverDir(cred)
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin, root: root, cred: cred}
	if err := p.initCluster(initdb); err != nil {
		p.close()
		return nil, err
	}
	for try := 1; ; try++ {
		if p.port, err = FreePort(); err != nil {
			break
		}
		p.db = &cluster{base: localURL(p.port)}
		if err = p.start(); err == nil || try == startTries || !isInUse(err) {
			break
		}
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// URL returns a postgres:// URL for dbname on this server. The database
// "postgres" always exists; others must be created first.
func (p *Postgres) URL(dbname string) string { return p.db.url(dbname) }

// Port returns the TCP port the server listens on, across restarts.
func (p *Postgres) Port() int { return p.port }

// Stop shuts the server down fast (SIGINT: sessions are cut, then a
// checkpoint) and waits for it to exit. Stopping a stopped server does nothing.
func (p *Postgres) Stop() {
	if proc := p.take(); proc != nil {
		proc.stop(syscall.SIGINT, stopTimeout)
	}
}

// Kill kills the postmaster and every backend with SIGKILL and waits until
// they have exited; the next Start runs crash recovery. Killing a stopped
// server does nothing.
func (p *Postgres) Kill() {
	if proc := p.take(); proc != nil {
		proc.kill()
	}
}

// Start starts a stopped or killed server again on the same port and data
// folder and returns once a connection succeeds. On failure, or when the
// server is running, it calls t.Fatal.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	running := p.proc != nil
	p.mu.Unlock()
	if running {
		t.Fatal("start postgres: already running")
	}
	// Should a killed backend still hold shared memory, or someone the port,
	// the server refuses to start and says so; then we try again.
	var err error
	for try := 1; try <= startTries; try++ {
		if err = p.start(); err == nil || !isInUse(err) {
			break
		}
	}
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
}

// initCluster runs initdb to create the cluster in root/data.
func (p *Postgres) initCluster(initdb string) error {
	args := []string{"-D", p.dataDir(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"}
	proc, err := startProcess(initdb, args, p.root, p.logPath(), p.cred)
	if err != nil {
		return err
	}
	if err := proc.wait(initdbTimeout); err != nil {
		return proc.failure(fmt.Errorf("failed: %w", err))
	}
	return nil
}

// start runs the postmaster on p.port and waits until it accepts connections.
func (p *Postgres) start() error {
	args := []string{
		"-D", p.dataDir(), "-p", strconv.Itoa(p.port), "-k", p.root,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200",
	}
	proc, err := startProcess(p.bin, args, p.root, p.logPath(), p.cred)
	if err != nil {
		return err
	}
	if err := proc.waitReady(readyTimeout, p.ping); err != nil {
		proc.kill()
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proc = proc
	return nil
}

// close stops the server with an immediate shutdown, which still releases
// its shared memory, and removes its folder.
func (p *Postgres) close() {
	if proc := p.take(); proc != nil {
		proc.stop(syscall.SIGQUIT, stopTimeout)
	}
	_ = os.RemoveAll(p.root)
}

// take returns the running postmaster, if any, and marks the server stopped.
func (p *Postgres) take() *process {
	p.mu.Lock()
	defer p.mu.Unlock()
	proc := p.proc
	p.proc = nil
	return proc
}

// ping wants a connection to succeed, and to reach our data folder, since
// another server may hold the port while ours fails to bind it.
func (p *Postgres) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return fmt.Errorf("show data_directory: %w", err)
	}
	if dir != p.dataDir() {
		return fmt.Errorf("another server, with data in %s, answers on port %d", dir, p.port)
	}
	return nil
}

func (p *Postgres) dataDir() string { return filepath.Join(p.root, "data") }
func (p *Postgres) logPath() string { return filepath.Join(p.root, "postgres.log") }
