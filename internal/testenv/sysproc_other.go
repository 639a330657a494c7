//go:build !linux

package testenv

import (
	"syscall"
	"time"
)

// childAttrs puts the child in its own process group and runs it as cred
// (nil: as ourselves).
func childAttrs(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// descendants is only known on Linux; elsewhere killing the process group
// has to do.
func descendants(int) []int { return nil }

func waitGone([]int, time.Duration) {}

func running(int) bool { return false }
