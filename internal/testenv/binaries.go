package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the path of the project's command name (for example
// "gateway" for ./cmd/gateway), built once per test binary into a folder
// Main removes, with the race detector when the test binary has it. It
// calls t.Fatal when the build fails.
func Binary(t testing.TB, name string) string {
	t.Helper()
	return binary(t, name, raceEnabled)
}

// FastBinary is Binary built without the race detector, for a test whose
// servers must carry a load that race-checked ones could not on a small
// machine (the test's own code still runs with the detector).
func FastBinary(t testing.TB, name string) string {
	t.Helper()
	return binary(t, name, false)
}

func binary(t testing.TB, name string, race bool) string {
	t.Helper()
	s := ownedShared()
	if s == nil {
		t.Fatal(errNoMain)
	}
	bins, build := &s.bins, func() (string, error) { return buildAll(race) }
	if race != raceEnabled {
		bins = &s.fastBins
	}
	dir, err := bins.get(build)
	if err != nil {
		t.Fatalf("build binaries: %v", err)
	}
	path := filepath.Join(dir, name)
	if !isExecutable(path) {
		t.Fatalf("no binary %q was built from ./cmd", name)
	}
	return path
}

func buildAll(race bool) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	dir, err := os.MkdirTemp("", "testenv-bin-")
	if err != nil {
		return "", err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/...")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("go build ./cmd/...: %v\n%s", err, out)
	}
	return dir, nil
}

// Proc is a program running as a child process, its output kept and
// printed when the test fails.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	err  error
}

// StartProc runs the project's command name with args and the given extra
// environment ("KEY=value"), and stops it (SIGKILL) when t ends; the test
// fails if the process reported a data race.
func StartProc(t testing.TB, name string, env []string, args ...string) *Proc {
	t.Helper()
	return StartExec(t, name, Binary(t, name), env, args...)
}

// StartExec is StartProc for the executable at path, named name in
// messages: another program a test runs beside the project's own.
func StartExec(t testing.TB, name, path string, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{Name: name, cmd: cmd, log: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if strings.Contains(p.Output(), "WARNING: DATA RACE") {
			t.Errorf("%s %v reported a data race", name, args)
		}
		if t.Failed() {
			t.Logf("--- %s %v output ---\n%s", name, args, p.Output())
		}
	})
	return p
}

// Output is everything the process printed so far.
func (p *Proc) Output() string { return p.log.String() }

// Lines returns the output lines containing substr.
func (p *Proc) Lines(substr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.Output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// Kill stops the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits up to timeout for the process to exit and returns its exit
// code, or -1 and an error when it did not exit in time.
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		return -1, fmt.Errorf("%s still running after %v", p.Name, timeout)
	}
}

// WaitHTTP polls url until it answers 200 or timeout passes; it calls
// t.Fatal with the process output when it does not.
func (p *Proc) WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s answered: %v\n%s", p.Name, url, p.err, p.Output())
		case <-ctx.Done():
			t.Fatalf("%s did not answer %s within %v\n%s", p.Name, url, timeout, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
