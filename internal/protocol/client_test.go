package protocol_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/watchparty/watchparty/internal/protocol"
)

const clientDir = "../web/static"

// clientObject reads the entries of `export const name = Object.freeze({
// … });` in the browser client's src, one `KEY: "value"` or `KEY: 123`
// a line. A line of another shape fails the test rather than being
// skipped.
func clientObject(t *testing.T, src, name string) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`(?s)export const ` + name + ` = Object\.freeze\(\{\n(.*?)\n\}\);`)
	m := re.FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("watchparty.js has no `export const %s = Object.freeze({ … });`", name)
	}
	entry := regexp.MustCompile(`^\s*([A-Z][A-Z_]*): ("([^"\\]*)"|([0-9]+)),$`)
	entries := map[string]string{}
	for _, line := range strings.Split(m[1], "\n") {
		e := entry.FindStringSubmatch(line)
		if e == nil {
			t.Errorf("%s: cannot read the entry %q (want `KEY: \"value\",` or `KEY: 123,`)", name, line)
			continue
		}
		entries[e[1]] = e[3] + e[4]
	}
	if len(entries) == 0 {
		t.Errorf("%s has no entries", name)
	}
	return entries
}

// upperSnake is the key the client gives a wire value: "party ended" is
// PARTY_ENDED.
func upperSnake(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "_")) }

// TestClientConstants checks the browser client's protocol constants
// (internal/web/static/watchparty.js) against the declarations: each entry
// must be a declared value, under the key of that value.
func TestClientConstants(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(clientDir, "watchparty.js"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)

	for key, v := range clientObject(t, src, "CODES") {
		if _, ok := protocol.ParseCode(v); !ok {
			t.Errorf("CODES.%s is %q, which is no declared error code", key, v)
		} else if key != upperSnake(v) {
			t.Errorf("CODES.%s is %q: want the key %s", key, v, upperSnake(v))
		}
	}
	for key, v := range clientObject(t, src, "CLOSE") {
		i := slices.IndexFunc(protocol.CloseCodes(), func(c protocol.CloseCode) bool { return upperSnake(c.Name()) == key })
		if i < 0 {
			t.Errorf("CLOSE.%s: no close code of that name is declared", key)
		} else if c := protocol.CloseCodes()[i]; v != strconv.Itoa(c.Int()) {
			t.Errorf("CLOSE.%s is %s, the server's is %d", key, v, c.Int())
		}
	}
	for key, v := range clientObject(t, src, "CLOSE_REASONS") {
		if !slices.ContainsFunc(protocol.CloseReasons(), func(r protocol.CloseReason) bool { return r.Reason == v }) {
			t.Errorf("CLOSE_REASONS.%s is %q, which is no declared close reason", key, v)
		} else if key != upperSnake(v) {
			t.Errorf("CLOSE_REASONS.%s is %q: want the key %s", key, v, upperSnake(v))
		}
	}
	frames := append(protocol.ServerFrames(), protocol.ClientFrames()...)
	for key, v := range clientObject(t, src, "FRAMES") {
		if !slices.Contains(frames, v) {
			t.Errorf("FRAMES.%s is %q, which is no declared frame name", key, v)
		} else if key != upperSnake(v) {
			t.Errorf("FRAMES.%s is %q: want the key %s", key, v, upperSnake(v))
		}
	}
}

// TestClientComparesThroughConstants keeps the app's scripts from
// comparing a code, a close reason or a frame type with a bare literal,
// which TestClientConstants could not check: they use CODES, CLOSE,
// CLOSE_REASONS and FRAMES.
func TestClientComparesThroughConstants(t *testing.T) {
	bare := regexp.MustCompile(`\b(code|reason)\s*[!=]==?\s*["'0-9]|\.close\(\s*[0-9]`)
	frameCase := regexp.MustCompile(`case "([a-z_]+)":`)
	frames := append(protocol.ServerFrames(), protocol.ClientFrames()...)
	scripts, err := filepath.Glob(filepath.Join(clientDir, "*.js"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts in %s: %v", clientDir, err)
	}
	for _, path := range scripts {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if m := bare.FindString(line); m != "" {
				t.Errorf("%s:%d: %q compares with a bare literal; use the constants of watchparty.js", filepath.Base(path), n+1, m)
			}
			for _, m := range frameCase.FindAllStringSubmatch(line, -1) {
				if slices.Contains(frames, m[1]) {
					t.Errorf("%s:%d: case %q; use FRAMES", filepath.Base(path), n+1, m[1])
				}
			}
		}
	}
}
