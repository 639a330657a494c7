package config

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocsGenerated fails when a table of docs/configuration.md differs
// from what the declarations of this package generate.
func TestDocsGenerated(t *testing.T) {
	const path = "../../docs/configuration.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Docs(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(string(doc), "\n")); diff != "" {
		t.Errorf("docs/configuration.md is out of date with internal/config; regenerate it with "+
			"`go generate ./internal/config` (-generated +on disk):\n%s", diff)
	}
}
