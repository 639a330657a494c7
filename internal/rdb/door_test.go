package rdb_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goRedis is the client library only rdb (and the test harness) may import.
const goRedis = "github.com/redis/go-redis/v9"

// TestOnlyRdbImportsGoRedis keeps Redis behind one door: no package of the
// module imports go-redis in its non-test code but rdb and testenv, so every
// command is a method or function of rdb and the other packages take what
// they need through interfaces of their own.
func TestOnlyRdbImportsGoRedis(t *testing.T) {
	allowed := []string{"internal/rdb", "internal/testenv"}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}",
		"github.com/watchparty/watchparty/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], "github.com/watchparty/watchparty/")
		if slices.Contains(fields[1:], goRedis) && !slices.Contains(allowed, pkg) {
			t.Errorf("%s imports %s: issue its commands through internal/rdb instead", pkg, goRedis)
		}
	}
}
