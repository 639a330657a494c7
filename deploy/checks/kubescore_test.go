package checks

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kube-score runs as a program: its Go packages do not build against the
// k8s.io/apimachinery this module needs (v0.34 added Lookup to labels.Labels,
// which kube-score's own label type lacks). Its version is pinned once, in
// scripts/deps.sh, which installs it with go install.
const (
	kubeScoreModule = "github.com/zegl/kube-score"
	// The oldest Kubernetes the manifests are for: the gateway's preStop
	// sleep action is on by default from 1.30.
	kubeScoreKubernetes = "v1.30"
)

// Optional kube-score checks the manifests also pass, turned on.
var kubeScoreOptional = []string{"container-seccomp-profile", "container-ports-check"}

// kubeScoreIgnore is one entry of kube-score-ignore.yaml: a CRITICAL
// finding accepted on the named objects, and why.
type kubeScoreIgnore struct {
	Check   string   `json:"check"`   // kube-score's check ID
	Finding string   `json:"finding"` // the finding's summary, exactly
	Objects []string `json:"objects"` // "Kind/name"
	Reason  string   `json:"reason"`
}

// kubeScoreResult is the part of kube-score's JSON output (v2) read here.
type kubeScoreResult struct {
	TypeMeta struct {
		Kind string `json:"kind"`
	} `json:"type_meta"`
	ObjectMeta struct {
		Name string `json:"name"`
	} `json:"object_meta"`
	Checks []struct {
		Check struct {
			ID string `json:"id"`
		} `json:"check"`
		Grade    int                `json:"grade"`
		Skipped  bool               `json:"skipped"`
		Comments []kubeScoreComment `json:"comments"`
	} `json:"checks"`
}

// kubeScoreComment is one finding of a check; Path names the container.
type kubeScoreComment struct {
	Path        string `json:"path"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
}

// kube-score's grades (scorecard.Grade).
const (
	gradeCritical = 1
	gradeWarning  = 5
)

var kubeScorePin = regexp.MustCompile(`(?m)^kube_score_version=(v[0-9]+\.[0-9]+\.[0-9]+)\b`)

// kubeScoreBinary returns the kube-score scripts/deps.sh installs: the one
// in the go command's GOBIN (else GOPATH/bin), or on PATH, built from
// github.com/zegl/kube-score at the version deps.sh pins.
func kubeScoreBinary(t *testing.T) string {
	t.Helper()
	deps, err := os.ReadFile(repo("scripts/deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := kubeScorePin.FindSubmatch(deps)
	if m == nil {
		t.Fatal("scripts/deps.sh: no kube_score_version=vX.Y.Z line")
	}
	version := string(m[1])

	var candidates []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			candidates = append(candidates, filepath.Join(strings.TrimSpace(lines[0]), "kube-score"))
		}
		if len(lines) > 1 {
			if gopath := filepath.SplitList(strings.TrimSpace(lines[1])); len(gopath) > 0 && gopath[0] != "" {
				candidates = append(candidates, filepath.Join(gopath[0], "bin", "kube-score"))
			}
		}
	}
	if p, err := exec.LookPath("kube-score"); err == nil {
		candidates = append(candidates, p)
	}
	var seen []string
	for _, c := range candidates {
		bi, err := buildinfo.ReadFile(c)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				seen = append(seen, fmt.Sprintf("%s (%v)", c, err))
			}
			continue
		}
		if bi.Main.Path == kubeScoreModule && bi.Main.Version == version {
			return c
		}
		seen = append(seen, fmt.Sprintf("%s (%s %s)", c, bi.Main.Path, bi.Main.Version))
	}
	t.Fatalf("no kube-score %s (found: %v): run scripts/deps.sh, or go install %s/cmd/kube-score@%s",
		version, seen, kubeScoreModule, version)
	return ""
}

// TestKubeScore runs kube-score on `kustomize build
// deploy/kubernetes/overlays/example` and fails on every CRITICAL finding
// that kube-score-ignore.yaml does not list, with its reason, for that
// object. kube-score's own ignore annotations are turned off, so that file
// is the only way to accept a finding; an entry that no longer matches a
// finding fails too. Warnings are logged.
func TestKubeScore(t *testing.T) {
	bin := kubeScoreBinary(t)

	var ignores []kubeScoreIgnore
	b, err := os.ReadFile(repo("deploy/checks/kube-score-ignore.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &ignores); err != nil {
		t.Fatalf("kube-score-ignore.yaml: %v", err)
	}
	for i, ig := range ignores {
		if ig.Check == "" || ig.Finding == "" || len(ig.Objects) == 0 || strings.TrimSpace(ig.Reason) == "" {
			t.Errorf("kube-score-ignore.yaml entry %d: want check, finding, objects and a reason: %+v", i, ig)
		}
	}

	const dir = "deploy/kubernetes/overlays/example"
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), repo(dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	rendered, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(file, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"score", "--output-format", "json", "--kubernetes-version", kubeScoreKubernetes,
		"--disable-ignore-checks-annotations", "--disable-optional-checks-annotations"}
	for _, o := range kubeScoreOptional {
		args = append(args, "--enable-optional-test", o)
	}
	cmd := exec.Command(bin, append(args, file)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// It exits 1 when it found a CRITICAL; what it found is in the output.
	if ee := (*exec.ExitError)(nil); err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.Bytes())
	}
	var results []kubeScoreResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("kube-score output: %v\n%s\n%s", err, out, stderr.Bytes())
	}

	// kube-score saw every object of the build (it skips kinds it does not
	// know, such as the PrometheusRule).
	scored := map[string]int{}
	for _, r := range results {
		scored[r.TypeMeta.Kind+"/"+r.ObjectMeta.Name] += len(r.Checks)
	}
	for key := range build(t, dir).objects {
		if kind, _, _ := strings.Cut(key, "/"); kind != "Namespace" && kind != "ConfigMap" && scored[key] == 0 {
			t.Errorf("kube-score ran no check on %s", key)
		}
	}

	used := make([]map[string]bool, len(ignores))
	for i := range used {
		used[i] = map[string]bool{}
	}
	var findings []string
	for _, r := range results {
		object := r.TypeMeta.Kind + "/" + r.ObjectMeta.Name
		for _, c := range r.Checks {
			if c.Skipped || c.Grade > gradeWarning {
				continue
			}
			comments := c.Comments
			if len(comments) == 0 {
				comments = []kubeScoreComment{{}}
			}
			for _, cm := range comments {
				what := fmt.Sprintf("%s %s: [%s] %s", object, c.Check.ID, cm.Path, cm.Summary)
				if c.Grade > gradeCritical {
					t.Logf("kube-score WARNING (not failing): %s", what)
					continue
				}
				accepted := false
				for i, ig := range ignores {
					if ig.Check == c.Check.ID && ig.Finding == cm.Summary && slices.Contains(ig.Objects, object) {
						used[i][object] = true
						accepted = true
					}
				}
				if accepted {
					findings = append(findings, what)
					continue
				}
				t.Errorf("kube-score CRITICAL: %s: %s\n\tfix the manifest, or list it in deploy/checks/kube-score-ignore.yaml with the reason", what, cm.Description)
			}
		}
	}
	sort.Strings(findings)
	for _, f := range findings {
		t.Logf("kube-score CRITICAL accepted by kube-score-ignore.yaml: %s", f)
	}
	for i, ig := range ignores {
		for _, o := range ig.Objects {
			if !used[i][o] {
				t.Errorf("kube-score-ignore.yaml: %s %q on %s matches no finding any more; remove it", ig.Check, ig.Finding, o)
			}
		}
	}
}
