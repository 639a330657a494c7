package envflag

import (
	"fmt"
	"strings"
)

// Markdown renders the settings of c as a Markdown table: variable, flag,
// default, meaning. A flag only shows "—" as its variable; an empty default
// shows "unset".
func (c Command) Markdown() string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n|---|---|---|---|\n")
	for _, s := range c.Settings {
		r := s.Row()
		env, def := "—", "unset"
		if r.Env != "" {
			env = "`" + r.Env + "`"
		}
		if r.Default != "" {
			def = "`" + r.Default + "`"
		}
		fmt.Fprintf(&b, "| %s | `--%s` | %s | %s |\n", env, r.Flag, def, r.Doc)
	}
	return b.String()
}

// BeginMarker and EndMarker enclose the generated table of a command in a
// Markdown document; the text around them is left as written.
func BeginMarker(command string) string { return "<!-- settings of " + command + " -->" }

// EndMarker closes the table BeginMarker opened.
const EndMarker = "<!-- end of settings -->"

// Splice returns doc with the text between each command's markers replaced
// by that command's table. Every command must have exactly one pair of
// markers, and every pair a command.
func Splice(doc string, cmds ...Command) (string, error) {
	byMarker := map[string]Command{}
	for _, c := range cmds {
		byMarker[BeginMarker(c.Name)] = c
	}
	done := map[string]bool{}
	var out strings.Builder
	lines := strings.SplitAfter(doc, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		out.WriteString(line)
		marker := strings.TrimSpace(line)
		if !strings.HasPrefix(marker, "<!-- settings of ") {
			continue
		}
		c, ok := byMarker[marker]
		switch {
		case !ok:
			return "", fmt.Errorf("line %d: %s names no known command", i+1, marker)
		case done[c.Name]:
			return "", fmt.Errorf("line %d: a second table for %q", i+1, c.Name)
		}
		done[c.Name] = true
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != EndMarker {
			end++
		}
		if end == len(lines) {
			return "", fmt.Errorf("line %d: %s has no %s after it", i+1, marker, EndMarker)
		}
		out.WriteString(c.Markdown())
		out.WriteString(lines[end])
		i = end
	}
	for _, c := range cmds {
		if !done[c.Name] {
			return "", fmt.Errorf("no %s in the document", BeginMarker(c.Name))
		}
	}
	return out.String(), nil
}
