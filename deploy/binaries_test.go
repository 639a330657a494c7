package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run is one program invocation compose makes in our image.
type run struct {
	service, what string // what: "command" or "healthcheck"
	argv          []string
}

// composeRuns lists every command and CMD healthcheck of the services that run
// our image. A CMD-SHELL healthcheck is an error: the runtime image has no shell.
func composeRuns(t *testing.T) []run {
	t.Helper()
	p := loadCompose(t)
	var runs []run
	for name := range appCommands {
		s := service(t, p, name)
		if len(s.Command) > 0 {
			runs = append(runs, run{name, "command", s.Command})
		}
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 && !hc.Disable {
			switch hc.Test[0] {
			case "CMD":
				runs = append(runs, run{name, "healthcheck", hc.Test[1:]})
			default:
				t.Errorf("%s: healthcheck %q needs a shell, which the runtime image lacks; use CMD", name, hc.Test)
			}
		}
	}
	return runs
}

// TestComposeCommandsExist builds the binaries and runs every command compose
// uses with --help appended: each must exit 0 (so the subcommand and its flags
// exist) and name itself in its usage.
func TestComposeCommandsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries; skipped with -short")
	}
	for _, cmd := range []string{"gateway", "flusher"} {
		if files, _ := filepath.Glob(filepath.Join("..", "cmd", cmd, "*.go")); len(files) == 0 {
			t.Skipf("cmd/%s has no Go files yet", cmd)
		}
	}
	bin := buildBinaries(t)
	for _, r := range composeRuns(t) {
		t.Run(r.service+"/"+r.what, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append(append([]string{}, r.argv[1:]...), "--help")
			c := exec.CommandContext(ctx, filepath.Join(bin, r.argv[0]), args...)
			c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			out, err := c.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("%s --help did not exit within 20s (does it ignore --help and start serving?)\n%s", strings.Join(r.argv, " "), out)
			}
			if err != nil {
				t.Fatalf("%s --help: %v\n%s", strings.Join(r.argv, " "), err, out)
			}
			if name := commandPath(r.argv); !strings.Contains(string(out), name) {
				t.Errorf("%s --help does not mention %q, so it may not be that subcommand's help:\n%s", strings.Join(r.argv, " "), name, out)
			}
		})
	}
}

// commandPath is the binary and its subcommands: the leading words that are not flags.
func commandPath(argv []string) string {
	n := 0
	for n < len(argv) && !strings.HasPrefix(argv[n], "-") {
		n++
	}
	return strings.Join(argv[:n], " ")
}

// buildBinaries builds every command the image ships into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	dir := t.TempDir()
	c := exec.Command(goTool, "build", "-o", dir+string(filepath.Separator), "./cmd/gateway", "./cmd/flusher", "./cmd/wpclient")
	c.Dir = ".."
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway ./cmd/flusher ./cmd/wpclient: %v\n%s", err, out)
	}
	return dir
}
