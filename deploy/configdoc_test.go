package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// helpFlag is one flag as a binary's --help describes it.
type helpFlag struct {
	flag, env, def string
}

var (
	helpLine   = regexp.MustCompile(`^\s+(?:-\w, )?(--[a-z0-9-]+)(?: \w+)?\s{2,}(.*)$`)
	helpEnv    = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)
	helpDef    = regexp.MustCompile(`\(default "?(.*?)"?\)$`)
	docHeading = regexp.MustCompile("^## `([a-z -]+?)(?: [A-Z]+)?`$")
)

// parseHelp reads the flags of a cobra --help output (without --help).
func parseHelp(t *testing.T, out string) map[string]helpFlag {
	t.Helper()
	flags := map[string]helpFlag{}
	inFlags := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Flags:") {
			inFlags = true
			continue
		}
		if !inFlags || strings.TrimSpace(line) == "" {
			continue
		}
		m := helpLine.FindStringSubmatch(line)
		if m == nil {
			if !strings.HasPrefix(line, " ") {
				inFlags = false
			}
			continue
		}
		if m[1] == "--help" {
			continue
		}
		f := helpFlag{flag: m[1]}
		if e := helpEnv.FindStringSubmatch(m[2]); e != nil {
			f.env = e[1]
		}
		if d := helpDef.FindStringSubmatch(m[2]); d != nil {
			f.def = d[1]
		}
		flags[f.flag] = f
	}
	return flags
}

// docRow is one row of a settings table in docs/configuration.md.
type docRow struct {
	env, flag, def, meaning string
}

// parseConfigDoc returns the rows of each "## `command`" section.
func parseConfigDoc(t *testing.T, path string) map[string][]docRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string][]docRow{}
	cur := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			cur = ""
			if m := docHeading.FindStringSubmatch(line); m != nil {
				cur = m[1]
				sections[cur] = nil
			}
			continue
		}
		if cur == "" || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| variable") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 4 {
			t.Errorf("%s: section %q: row does not have 4 cells: %s", path, cur, line)
			continue
		}
		unq := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
		r := docRow{env: unq(cells[0]), flag: unq(cells[1]), def: unq(cells[2]), meaning: strings.TrimSpace(cells[3])}
		if r.env == "—" {
			r.env = ""
		}
		sections[cur] = append(sections[cur], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sections
}

// sameDefault compares a documented default with the one --help prints.
func sameDefault(doc, help string) bool {
	switch {
	case doc == help:
		return true
	case doc == "unset":
		return help == ""
	case doc == "false" || doc == "0":
		// pflag prints no default for a zero value.
		return help == "" || help == doc
	case doc == "<hostname>-<pid>":
		host, _ := os.Hostname()
		return regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `-\d+$`).MatchString(help)
	}
	d1, err1 := time.ParseDuration(doc)
	d2, err2 := time.ParseDuration(help)
	return err1 == nil && err2 == nil && d1 == d2
}

// TestConfigurationDoc checks docs/configuration.md against the binaries:
// every flag each command's --help lists has exactly one row in that
// command's section with the same variable and default, and every row
// names a flag that exists. The doc cannot drift from the code unnoticed.
func TestConfigurationDoc(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries; skipped with -short")
	}
	bin := buildBinaries(t)
	doc := parseConfigDoc(t, filepath.Join("..", "docs", "configuration.md"))
	commands := map[string][]string{
		"gateway":            {"gateway"},
		"flusher run":        {"flusher", "run"},
		"flusher migrate":    {"flusher", "migrate"},
		"flusher replay-dlq": {"flusher", "replay-dlq"},
		"flusher dlq list":   {"flusher", "dlq", "list"},
		"flusher dlq show":   {"flusher", "dlq", "show"},
	}
	for name := range doc {
		if _, ok := commands[name]; !ok {
			t.Errorf("docs/configuration.md has a section for %q, which this test does not know", name)
		}
	}
	for name, argv := range commands {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			c := exec.Command(filepath.Join(bin, argv[0]), append(argv[1:], "--help")...)
			c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("%s --help: %v\n%s", name, err, out)
			}
			help := parseHelp(t, string(out))
			if len(help) == 0 {
				t.Fatalf("no flags parsed from %s --help:\n%s", name, out)
			}
			rows, ok := doc[name]
			if !ok {
				t.Fatalf("docs/configuration.md has no section \"## `%s`\"", name)
			}
			seen := map[string]bool{}
			for _, r := range rows {
				if seen[r.flag] {
					t.Errorf("%s: %s documented twice", name, r.flag)
				}
				seen[r.flag] = true
				h, ok := help[r.flag]
				if !ok {
					t.Errorf("%s: docs list %s (%s), which %s --help does not have", name, r.flag, r.env, name)
					continue
				}
				if r.env != h.env {
					t.Errorf("%s %s: docs say variable %q, --help says %q", name, r.flag, r.env, h.env)
				}
				if !sameDefault(r.def, h.def) {
					t.Errorf("%s %s: docs say default %q, --help says %q", name, r.flag, r.def, h.def)
				}
				if r.meaning == "" {
					t.Errorf("%s %s: no meaning documented", name, r.flag)
				}
			}
			for flag, h := range help {
				if !seen[flag] {
					t.Errorf("%s: %s (env %q, default %q) is not documented in docs/configuration.md", name, flag, h.env, h.def)
				}
			}
		})
	}
}
