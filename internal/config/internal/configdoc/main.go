// Command configdoc regenerates the settings tables of
// docs/configuration.md from internal/config: go generate ./internal/config.
package main

import (
	"fmt"
	"os"

	"github.com/watchparty/watchparty/internal/config"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: configdoc docs/configuration.md")
		os.Exit(2)
	}
	path := os.Args[1]
	doc, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
	out, err := config.Docs(string(doc))
	if err != nil {
		fmt.Fprintf(os.Stderr, "configdoc: %s: %v\n", path, err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}
