package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverCredential returns the user PostgreSQL runs as: nil (ourselves)
// unless we are root, which PostgreSQL refuses; then the postgres system user,
// else nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse uid of %s: %w", name, err)
		}
		gid, err := strconv.ParseUint(u.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse gid of %s: %w", name, err)
		}
		// Groups stays empty, so the child drops root's supplementary groups.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL")
}

// serverDir creates an empty folder owned by cred's user (or us when cred is
// nil) under a temporary folder that user can reach. The caller removes it.
// Rather than loosen the modes of folders we did not create, it falls back
// from os.TempDir to /tmp when some parent is closed to other users.
func serverDir(cred *syscall.Credential) (string, error) {
	base := os.TempDir()
	if cred != nil && !traversable(base) {
		if base = "/tmp"; !traversable(base) {
			return "", fmt.Errorf("no temporary folder that uid %d can reach: %s and /tmp are closed to other users", cred.Uid, os.TempDir())
		}
	}
	dir, err := os.MkdirTemp(base, "testenv-pg-")
	if err != nil {
		return "", fmt.Errorf("create server folder: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("hand server folder to uid %d: %w", cred.Uid, err)
		}
	}
	return dir, nil
}

// traversable reports whether every folder from dir up to / lets other users
// through.
func traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}
