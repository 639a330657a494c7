package protocol_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/watchparty/watchparty/internal/protocol"
)

// docTable is a Markdown table: its header cells and its rows' cells.
type docTable struct {
	header []string
	rows   [][]string
}

// column is the index of the column headed name, or -1.
func (t docTable) column(name string) int {
	for i, h := range t.header {
		if h == name {
			return i
		}
	}
	return -1
}

// readTables returns the tables of the Markdown page path, with the text
// around them.
func readTables(t *testing.T, path string) (page string, tables []docTable) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	cells := func(line string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "|") || !strings.HasPrefix(lines[i+1], "|---") {
			continue
		}
		tab := docTable{header: cells(lines[i])}
		for i += 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
			tab.rows = append(tab.rows, cells(lines[i]))
		}
		tables = append(tables, tab)
	}
	return string(b), tables
}

var backticked = regexp.MustCompile("^`([^`]+)`$")

// TestDocDeclaresCodes checks docs/protocol.md against the declarations:
// every error code is named on the page in backticks, every close code
// and close reason is a row of its close-code table, and every code the
// page's tables give is declared.
func TestDocDeclaresCodes(t *testing.T) {
	page, tables := readTables(t, "../../docs/protocol.md")

	for _, c := range protocol.ErrorCodes() {
		if !strings.Contains(page, "`"+c.String()+"`") {
			t.Errorf("docs/protocol.md does not name the error code `%s`", c)
		}
	}

	type close struct {
		code   int
		reason string
	}
	documented := map[close]bool{}
	closeCodes := map[int]bool{}
	var errorCodes []string
	for _, tab := range tables {
		col := tab.column("code")
		if col < 0 {
			continue
		}
		reasonCol := tab.column("reason")
		for _, row := range tab.rows {
			if col >= len(row) {
				continue
			}
			if m := backticked.FindStringSubmatch(row[col]); m != nil {
				errorCodes = append(errorCodes, m[1])
				continue
			}
			n, err := strconv.Atoi(row[col])
			if err != nil || reasonCol < 0 || reasonCol >= len(row) {
				continue
			}
			closeCodes[n] = true
			if m := backticked.FindStringSubmatch(row[reasonCol]); m != nil {
				documented[close{n, m[1]}] = true
			}
		}
	}
	if len(errorCodes) == 0 || len(closeCodes) == 0 {
		t.Fatalf("found %d error codes and %d close codes in the tables of docs/protocol.md: has their layout changed?",
			len(errorCodes), len(closeCodes))
	}

	for _, c := range errorCodes {
		if _, ok := protocol.ParseCode(c); !ok {
			t.Errorf("docs/protocol.md gives the error code `%s`, which internal/protocol does not declare", c)
		}
	}
	for _, c := range protocol.CloseCodes() {
		if !closeCodes[c.Int()] {
			t.Errorf("docs/protocol.md's close codes table has no row for %d (%s)", c.Int(), c.Name())
		}
	}
	declared := map[close]bool{}
	for _, r := range protocol.CloseReasons() {
		k := close{r.Code.Int(), r.Reason}
		declared[k] = true
		if !documented[k] {
			t.Errorf("docs/protocol.md's close codes table has no row %d `%s`", k.code, k.reason)
		}
	}
	for k := range documented {
		if !declared[k] {
			t.Errorf("docs/protocol.md gives the close %d `%s`, which internal/protocol does not declare", k.code, k.reason)
		}
	}
}
