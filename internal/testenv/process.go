package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// errExited says a server exited before it answered; errInUse says its log
// blames a port or shared memory that something else still holds, which is
// worth another try.
var (
	errExited = errors.New("exited before it was ready")
	errInUse  = errors.New("port or shared memory in use")
)

// isInUse reports whether err is a failed start worth retrying.
func isInUse(err error) bool { return errors.Is(err, errInUse) }

// process is one server or tool running as a child in its own process group,
// its stdout and stderr appended to a log file. Its methods are safe for
// concurrent use.
type process struct {
	cmd     *exec.Cmd
	logPath string
	logFrom int64         // size of the log when this process started
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // set before done is closed
}

// startProcess starts path with args in dir, as the user cred (nil: as
// ourselves), in its own process group.
func startProcess(path string, args []string, dir, logPath string, cred *syscall.Credential) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close() // the child holds its own copy
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log: %w", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
	cmd.SysProcAttr = childAttrs(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	p := &process{cmd: cmd, logPath: logPath, logFrom: fi.Size(), done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// wait waits up to timeout for the process to exit by itself and returns its
// exit error; on timeout it kills the process group.
func (p *process) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("still running after %s, killed", timeout)
	}
}

// stop sends sig to the leader, which is expected to shut its children down,
// and waits up to timeout before killing the whole group.
func (p *process) stop(sig syscall.Signal, timeout time.Duration) {
	_ = p.cmd.Process.Signal(sig) // fails only when it already exited
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
	}
}

// kill sends SIGKILL to the leader, its process group and its descendants,
// and waits until they are gone, so none still holds a port or shared memory.
func (p *process) kill() {
	pid := p.cmd.Process.Pid
	if p.cmd.Process.Signal(syscall.SIGSTOP) != nil { // already exited
		<-p.done
		return
	}
	// Stopped, the leader forks no more while we list its children.
	kids := descendants(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL) // the leader is unreaped, so the group id is still its own
	for _, kid := range kids {
		_ = syscall.Kill(kid, syscall.SIGKILL)
	}
	<-p.done
	waitGone(kids, stopTimeout)
}

// waitReady polls ready, each try bounded by a second, until it succeeds,
// the process exits or timeout passes. The returned error carries the tail of
// the log.
func (p *process) waitReady(timeout time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return p.failure(fmt.Errorf("not ready after %s: %w", timeout, err))
		}
		select {
		case <-p.done:
			return p.failure(fmt.Errorf("%w (%v)", errExited, p.waitErr))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// failure wraps err with the process's log tail and marks it errInUse when
// the log says so.
func (p *process) failure(err error) error {
	tail := p.logTail()
	if errors.Is(err, errExited) && strings.Contains(tail, "in use") {
		err = fmt.Errorf("%w: %w", err, errInUse)
	}
	return fmt.Errorf("%s %w\n--- log %s ---\n%s", filepath.Base(p.cmd.Path), err, p.logPath, tail)
}

// logTail returns up to the last 4 KiB this process wrote to its log.
func (p *process) logTail() string {
	const limit = 4 << 10
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	defer f.Close()
	from := p.logFrom
	if fi, err := f.Stat(); err == nil && fi.Size()-from > limit {
		from = fi.Size() - limit
	}
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<62))
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	return string(b)
}
