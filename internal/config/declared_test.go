package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSettingsDeclaredByComponents fails when a setting is declared
// anywhere but in the settings.go of a package under internal/ that is
// neither this one nor envflag: each component declares its settings next
// to its Config, and this package only assembles commands from them.
func TestSettingsDeclaredByComponents(t *testing.T) {
	const root = "../.."
	kinds := map[string]bool{"String": true, "Bool": true, "Int": true, "Float": true, "Duration": true}
	fset := token.NewFileSet()
	declaring := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := envflagName(f)
		if local == "" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		dir := path.Dir(rel)
		allowed := path.Base(rel) == "settings.go" && strings.HasPrefix(dir, "internal/") &&
			dir != "internal/config" && dir != "internal/envflag" && !strings.Contains(dir, "/internal/")
		found := false
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || !kinds[sel.Sel.Name] {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
				return true
			}
			found = true
			if !allowed {
				t.Errorf("%s: envflag.%s declared here; declare a setting in the settings.go of the "+
					"component that reads it, and assemble commands from it in internal/config",
					fset.Position(lit.Pos()), sel.Sel.Name)
			}
			return true
		})
		if found {
			declaring++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if declaring == 0 {
		t.Fatal("found no settings declared anywhere; is the walk looking at the module?")
	}
}

// envflagName is the name f imports internal/envflag under, or "" when f
// does not import it.
func envflagName(f *ast.File) string {
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || !strings.HasSuffix(p, "/internal/envflag") {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return "envflag"
	}
	return ""
}
