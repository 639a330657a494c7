package rdb

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// embeddedScripts is every script the package embeds, by file.
var embeddedScripts = map[string]string{
	"append.lua":            appendLua,
	"close.lua":             closeLua,
	"snapshot.lua":          snapshotLua,
	"del_idle_consumer.lua": delIdleConsumerLua,
	"viewer_count.lua":      viewerCountLua,
	"dlq_replace.lua":       dlqReplaceLua,
	"server_time.lua":       serverTimeLua,
	"lease_hold.lua":        leaseHoldLua,
	"lease_renew.lua":       leaseRenewLua,
	"lease_release.lua":     leaseReleaseLua,
	"user_conns.lua":        userConnsLua,
	"erase_like.lua":        eraseLikeLua,
}

var (
	// An entry is KEYS[n], or KEYS[k + n] in a script that takes a run
	// of entries per item from offset k; each run is numbered from 1.
	documentedRe = regexp.MustCompile(`^-- ((?:KEYS|ARGV)\[(?:[a-z]+ \+ )?)(\d+)\] -> \S`)
	usedRe       = regexp.MustCompile(`\b((?:KEYS|ARGV)\[(?:[a-z]+ \+ )?)(\d+)\]`)
)

// scriptHeader is what a script's leading comment documents.
type scriptHeader struct {
	documented map[string][]int // run ("KEYS[", "ARGV[a + ") -> indexes, in order
	// unread holds entries documented as passed only to route the script
	// on Redis Cluster ("not read by the script").
	unread  map[string]map[int]bool
	returns bool // a "-- Returns" line
}

// parseScript splits src into its leading comment, parsed, and its body.
func parseScript(src string) (scriptHeader, string) {
	h := scriptHeader{documented: map[string][]int{}, unread: map[string]map[int]bool{}}
	lines := strings.Split(src, "\n")
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "--"); i++ {
		if m := documentedRe.FindStringSubmatch(lines[i]); m != nil {
			n, _ := strconv.Atoi(m[2])
			h.documented[m[1]] = append(h.documented[m[1]], n)
			if h.unread[m[1]] == nil {
				h.unread[m[1]] = map[int]bool{}
			}
			h.unread[m[1]][n] = strings.Contains(lines[i], "not read by the script")
		}
		if strings.HasPrefix(lines[i], "-- Returns") {
			h.returns = true
		}
	}
	return h, strings.Join(lines[i:], "\n")
}

// headerProblems lists what src's header fails to document: every KEYS[i]
// and ARGV[i] the body uses (or KEYS[k + i], a run of entries from an
// offset) has its own line, each run numbered 1, 2, … in order,
// none is documented but unused (unless its line says it is "not read by
// the script": a key passed only to pick the server), and the reply is described.
func headerProblems(src string) []string {
	h, body := parseScript(src)
	var problems []string
	if !h.returns {
		problems = append(problems, `no "-- Returns" line`)
	}
	used := map[string]map[int]bool{}
	for _, m := range usedRe.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[2])
		if used[m[1]] == nil {
			used[m[1]] = map[int]bool{}
		}
		used[m[1]][n] = true
	}
	runs := slices.Sorted(maps.Keys(h.documented))
	for run := range used {
		if !slices.Contains(runs, run) {
			runs = append(runs, run)
		}
	}
	for _, table := range runs {
		doc := h.documented[table]
		for i, n := range doc {
			if n != i+1 {
				problems = append(problems, table+strconv.Itoa(n)+"] documented out of order")
			}
			if !used[table][n] && !h.unread[table][n] {
				problems = append(problems, table+strconv.Itoa(n)+"] documented but unused")
			}
		}
		var undocumented []int
		for n := range used[table] {
			if !slices.Contains(doc, n) {
				undocumented = append(undocumented, n)
			}
		}
		sort.Ints(undocumented)
		for _, n := range undocumented {
			problems = append(problems, table+strconv.Itoa(n)+"] used but not documented")
		}
	}
	return problems
}

// TestScriptHeaders checks every embedded script documents each KEYS and
// ARGV entry it uses, one line each, and its reply.
func TestScriptHeaders(t *testing.T) {
	for name, src := range embeddedScripts {
		t.Run(name, func(t *testing.T) {
			if p := headerProblems(src); len(p) > 0 {
				t.Errorf("%s header: %s", name, strings.Join(p, "; "))
			}
		})
	}
}

// TestEveryScriptEmbedded checks each file in lua/ is embedded (and so
// covered by TestScriptHeaders) and the embedded text is the file's.
func TestEveryScriptEmbedded(t *testing.T) {
	files, err := filepath.Glob("lua/*.lua")
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if embeddedScripts[filepath.Base(f)] != string(src) {
			t.Errorf("%s: embedded text differs from the file", f)
		}
	}
	for name := range embeddedScripts {
		want = append(want, name)
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lua/ files (-embedded +on disk):\n%s", diff)
	}
}

// TestHeaderProblems shows the check catches what it is for.
func TestHeaderProblems(t *testing.T) {
	const ok = "-- KEYS[1] -> a key\n-- ARGV[1] -> a value\n--\n-- Returns 1.\nredis.call('SET', KEYS[1], ARGV[1])\nreturn 1\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"documented", ok, nil},
		{"undocumented ARGV", strings.Replace(ok, "ARGV[1])", "ARGV[1], ARGV[2])", 1),
			[]string{"ARGV[2] used but not documented"}},
		{"undocumented KEYS", strings.Replace(ok, "return 1", "return redis.call('GET', KEYS[2])", 1),
			[]string{"KEYS[2] used but not documented"}},
		{"documented unused", strings.Replace(ok, "-- ARGV[1] -> a value\n", "-- ARGV[1] -> a value\n-- ARGV[2] -> another\n", 1),
			[]string{"ARGV[2] documented but unused"}},
		{"out of order", strings.Replace(ok, "-- ARGV[1] -> a value", "-- ARGV[2] -> a value", 1),
			[]string{"ARGV[2] documented out of order", "ARGV[2] documented but unused", "ARGV[1] used but not documented"}},
		{"no reply", strings.Replace(ok, "-- Returns 1.\n", "", 1), []string{`no "-- Returns" line`}},
		{"routing key", "-- KEYS[1] -> a key, not read by the script\n-- Returns 1.\nreturn 1\n", nil},
		{"usage in the header only", "-- KEYS[1] -> a key\n-- Returns 1.\nreturn 1\n", []string{"KEYS[1] documented but unused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, headerProblems(tt.src)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCloseAnnouncesEndedMessage ties lua/close.lua's announcement to the
// constant the live feed compares with.
func TestCloseAnnouncesEndedMessage(t *testing.T) {
	if !strings.Contains(closeLua, "'"+EndedMessage+"'") {
		t.Errorf("lua/close.lua does not publish %q", EndedMessage)
	}
}
