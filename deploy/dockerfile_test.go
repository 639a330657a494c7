package deploy

import (
	"encoding/json"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

type stage struct {
	from         string // the FROM arguments
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into stages; it understands comments,
// backslash continuations and instruction names, which is all these checks need.
func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	var stages []stage
	var logical strings.Builder
	flush := func() {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, stage{from: in.args})
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s: %s before the first FROM", file, in.cmd)
			}
			return
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, in)
	}
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			logical.WriteString(cont + " ")
			continue
		}
		logical.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// copyDestinations returns the paths a COPY puts its sources at.
func copyDestinations(args string) []string {
	var words []string
	if strings.HasPrefix(args, "[") {
		_ = json.Unmarshal([]byte(args), &words)
	} else {
		for _, w := range strings.Fields(args) {
			if !strings.HasPrefix(w, "--") {
				words = append(words, w)
			}
		}
	}
	if len(words) < 2 {
		return nil
	}
	dest, srcs := words[len(words)-1], words[:len(words)-1]
	if !strings.HasSuffix(dest, "/") {
		return []string{dest}
	}
	var out []string
	for _, src := range srcs {
		out = append(out, path.Join(dest, path.Base(src)))
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "../Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	if !strings.Contains(build.from, "golang:1.26") {
		t.Errorf("build stage FROM %q, want golang:1.26", build.from)
	}
	runs := strings.Join(build.all("RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "go build", "./cmd/gateway", "./cmd/flusher"} {
		if !strings.Contains(runs, want) {
			t.Errorf("build stage RUN lines lack %q:\n%s", want, runs)
		}
	}

	if strings.Contains(final.from, "golang") {
		t.Errorf("final stage FROM %q: the runtime image should not carry the toolchain", final.from)
	}
	users := final.all("USER")
	nonroot := strings.Contains(final.from, ":nonroot")
	if len(users) > 0 {
		u := users[len(users)-1]
		nonroot = !(u == "root" || u == "0" || strings.HasPrefix(u, "root:") || strings.HasPrefix(u, "0:"))
	}
	if !nonroot {
		t.Errorf("final stage runs as root (USER %v, FROM %q)", users, final.from)
	}
	exposed := strings.Fields(strings.Join(final.all("EXPOSE"), " "))
	for _, port := range []string{"8080", "9090"} {
		if !slices.Contains(exposed, port) && !slices.Contains(exposed, port+"/tcp") {
			t.Errorf("final stage EXPOSE %v lacks %s", exposed, port)
		}
	}

	// Compose runs `gateway`, `flusher run`, ... as the command. Without an
	// ENTRYPOINT those names must be binaries on the image's PATH.
	if len(final.all("ENTRYPOINT")) > 0 {
		return
	}
	onPath := map[string]bool{}
	for _, args := range final.all("COPY") {
		for _, dest := range copyDestinations(args) {
			if slices.Contains([]string{"/usr/local/bin", "/usr/bin", "/bin"}, path.Dir(dest)) {
				onPath[path.Base(dest)] = true
			}
		}
	}
	for _, bin := range composeBinaries(t) {
		if !onPath[bin] {
			t.Errorf("compose runs %q, but the final stage has no ENTRYPOINT and copies no %q onto PATH (copied: %v)", bin, bin, onPath)
		}
	}
}

// composeBinaries lists the programs compose runs in our image: the first
// word of each command and of each CMD healthcheck.
func composeBinaries(t *testing.T) []string {
	var bins []string
	for _, r := range composeRuns(t) {
		if !slices.Contains(bins, r.argv[0]) {
			bins = append(bins, r.argv[0])
		}
	}
	slices.Sort(bins)
	return bins
}
