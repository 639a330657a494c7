package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// childAttrs puts the child in its own process group, runs it as cred (nil:
// as ourselves), and has the kernel SIGKILL it if the test binary dies first,
// so a crashed run leaves no server behind. Go ties that signal to the OS
// thread that started the child, which only ends early under
// runtime.LockOSThread.
func childAttrs(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
}

// descendants lists the processes below pid, read from /proc. PostgreSQL
// needs this: every backend calls setsid, so killing the postmaster's process
// group misses them.
func descendants(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	children := map[int][]int{}
	for _, path := range stats {
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if parent, _, ok := readStat(path); ok {
			children[parent] = append(children[parent], child)
		}
	}
	var found []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		found = append(found, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return found
}

// waitGone waits up to timeout until none of pids is running any more; a
// zombie counts as gone, since it holds no ports or shared memory.
func waitGone(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, pid := range pids {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	_, state, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && state != 'Z'
}

// readStat returns the parent pid and state from a /proc/<pid>/stat file,
// whose second field, the command name, may hold spaces and parentheses.
func readStat(path string) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(string(fields[1]))
	return ppid, fields[0][0], err == nil
}
