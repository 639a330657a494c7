package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// redisServerPath finds redis-server on PATH or in the usual system folders.
func redisServerPath() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/bin", "/usr/local/bin", "/usr/sbin"} {
		if p := filepath.Join(dir, "redis-server"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("redis-server not found on PATH, /usr/bin, /usr/local/bin or /usr/sbin")
}

// postgresBinaries finds initdb and postgres of one installation: the highest
// version under /usr/lib/postgresql first, then PATH. Debian's wrappers in
// /usr/bin and /usr/local/bin are avoided because the real binaries come first.
func postgresBinaries() (initdb, postgres string, err error) {
	for _, dir := range versionDirs("/usr/lib/postgresql") {
		initdb, postgres = filepath.Join(dir, "bin", "initdb"), filepath.Join(dir, "bin", "postgres")
		if isExecutable(initdb) && isExecutable(postgres) {
			return initdb, postgres, nil
		}
	}
	if initdb, err = exec.LookPath("initdb"); err != nil {
		return "", "", fmt.Errorf("find initdb: %w", err)
	}
	if postgres, err = exec.LookPath("postgres"); err != nil {
		return "", "", fmt.Errorf("find postgres: %w", err)
	}
	return initdb, postgres, nil
}

// versionDirs lists root's subfolders named like versions ("15", "9.6"),
// highest first.
func versionDirs(root string) []string {
	entries, _ := os.ReadDir(root)
	type version struct {
		dir string
		n   float64
	}
	var vs []version
	for _, e := range entries {
		if n, err := strconv.ParseFloat(e.Name(), 64); err == nil && e.IsDir() {
			vs = append(vs, version{filepath.Join(root, e.Name()), n})
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].n > vs[j].n })
	dirs := make([]string, len(vs))
	for i, v := range vs {
		dirs[i] = v.dir
	}
	return dirs
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
