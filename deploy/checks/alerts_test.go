package checks

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// selectorNames returns the metric names an expression selects.
func selectorNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// headingAnchors are the GitHub anchors of a Markdown file's headings.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} (.+)$`).FindAllStringSubmatch(string(b), -1) {
		var a strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
				a.WriteRune(r)
			}
		}
		out[a.String()] = true
	}
	return out
}

// wantAlerts are the conditions operators asked to be alerted on.
var wantAlerts = []string{
	"WatchPartyFlushLagHigh", "WatchPartyFlushesFailing", "WatchPartyDLQGrowing",
	"WatchPartyBufferedEventsHigh", "WatchPartyNoSchedulerLeader",
	"WatchPartySlowConsumersSpiking", "WatchPartyNotReady",
}

// TestAlertRules parses deploy/prometheus/alerts.yml with Prometheus's own
// rule parser (unknown fields fail), checks that every expression selects
// only metrics a running gateway or flusher exports, and that each alert
// links a runbook section of docs/operations.md that exists.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile(repo("deploy/prometheus/alerts.yml"), false, model.UTF8Validation)
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	gw, fl := exportedNames(t)
	runbooks := headingAnchors(t, repo("docs/operations.md"))
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: recording rule %s: this file holds alerts only", g.Name, r.Record)
				continue
			}
			seen[r.Alert] = true
			names := selectorNames(t, r.Expr)
			if len(names) == 0 {
				t.Errorf("%s: expression %q selects no metric", r.Alert, r.Expr)
			}
			for _, n := range names {
				if !gw.exported(n) && !fl.exported(n) {
					t.Errorf("%s: %s is exported by neither the gateway nor the flusher", r.Alert, n)
				}
			}
			url := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(url, "docs/operations.md#")
			switch {
			case !ok:
				t.Errorf("%s: runbook_url %q is not a section of docs/operations.md", r.Alert, url)
			case !runbooks[anchor]:
				t.Errorf("%s: docs/operations.md has no section #%s", r.Alert, anchor)
			case strings.ToLower(r.Alert) != anchor:
				t.Errorf("%s: runbook_url points at #%s, not the alert's own section", r.Alert, anchor)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
		}
	}
	var missing []string
	for _, a := range wantAlerts {
		if !seen[a] {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("alerts missing from alerts.yml: %v", missing)
	}
}
