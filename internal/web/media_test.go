package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestParseMediaOrigins(t *testing.T) {
	cases := []struct {
		name, list string
		want       []string
		bad        []string // entries the error must name
	}{
		{"unset", "", nil, nil},
		{"one", "https://cdn.example.com", []string{"https://cdn.example.com"}, nil},
		{"several, spaces, trailing slash, capitals", " https://CDN.example.com/ ,http://127.0.0.1:8081",
			[]string{"https://cdn.example.com", "http://127.0.0.1:8081"}, nil},
		{"ipv6", "http://[::1]:9000", []string{"http://[::1]:9000"}, nil},
		{"wildcard", "*", nil, []string{`"*"`}},
		{"wildcard host", "https://*.example.com", nil, []string{"*.example.com"}},
		{"path", "https://cdn.example.com/videos", nil, []string{"/videos"}},
		{"no scheme", "cdn.example.com", nil, []string{"cdn.example.com"}},
		{"other scheme", "ftp://cdn.example.com", nil, []string{"ftp://"}},
		{"policy injection", "https://a.example.com; script-src *", nil, []string{"script-src"}},
		{"quoted keyword", "'unsafe-inline'", nil, []string{"unsafe-inline"}},
		{"one bad among good", "https://ok.example.com,https://bad.example.com/x", nil, []string{"bad.example.com/x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseMediaOrigins(c.list)
			if len(c.bad) == 0 {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %q", got)
			}
			for _, b := range c.bad {
				if !strings.Contains(err.Error(), b) {
					t.Errorf("error %q does not name %q", err, b)
				}
			}
		})
	}
	if _, err := New(Options{MediaOrigins: "https://x.example.com/path"}); err == nil {
		t.Errorf("New took a bad media origin")
	}
}

// TestMediaPolicy: the media origins are added to every page's media-src;
// an HLS party's page also gets blob: in media-src and the origins in
// connect-src, and no other page does; the party page is told the origins.
func TestMediaPolicy(t *testing.T) {
	hls, mp4, gone := uuid.New(), uuid.New(), uuid.New()
	videos := map[uuid.UUID]string{hls: "https://cdn.example.com/show/master.M3U8?sig=1", mp4: "https://cdn.example.com/a.mp4"}
	srv := newServerWith(t, Options{MediaOrigins: "https://cdn.example.com, http://127.0.0.1:8081",
		PartyVideo: func(_ context.Context, id uuid.UUID) (string, error) {
			if v, ok := videos[id]; ok {
				return v, nil
			}
			return "", errors.New("no such party")
		}})
	const media = "media-src 'self' https://cdn.example.com http://127.0.0.1:8081"
	plain := policy([]string{"https://cdn.example.com", "http://127.0.0.1:8081"}, nil)
	cases := []struct {
		name, path, csp string
	}{
		{"home", "/", plain},
		{"party with an mp4", "/p/" + mp4.String(), plain},
		{"party unknown", "/p/" + gone.String(), plain},
		{"party with HLS", "/p/" + hls.String(), strings.Replace(
			strings.Replace(ContentSecurityPolicy, "media-src 'self'", media+" blob:", 1),
			"connect-src 'self'", "connect-src 'self' https://cdn.example.com http://127.0.0.1:8081", 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+c.path, nil)
			if got := resp.Header.Get("Content-Security-Policy"); got != c.csp {
				t.Errorf("policy\n got %q\nwant %q", got, c.csp)
			}
			if !strings.Contains(c.csp, media) {
				t.Errorf("policy %q lacks %q", c.csp, media)
			}
			if strings.HasPrefix(c.path, "/p/") && !strings.Contains(body,
				`<meta name="watchparty-media-origins" content="https://cdn.example.com http://127.0.0.1:8081">`) {
				t.Errorf("the party page does not carry the media origins")
			}
		})
	}
	if strings.Contains(plain, "blob:") {
		t.Errorf("blob: in the policy of a page that needs none: %q", plain)
	}
}

// TestVendoredHLSMatchesLockfile: the embedded hls.js is byte for byte
// the file of the npm package the lock file pins. npm ci (scripts/deps.sh)
// installs internal/web/npm/node_modules only from a tarball whose sha512 is
// the lock file's integrity; this test ties the embedded copy to that
// install, and the recorded version and sha256 to both.
func TestVendoredHLSMatchesLockfile(t *testing.T) {
	var rec struct {
		Version, License, File, SHA256 string
	}
	readJSON(t, "vendor/hls.js.json", &rec)
	embedded, err := files.ReadFile("vendor/" + rec.File)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(embedded)
	if got := hex.EncodeToString(sum[:]); got != rec.SHA256 {
		t.Errorf("vendor/%s has sha256 %s; vendor/hls.js.json records %s", rec.File, got, rec.SHA256)
	}
	if rec.License != "Apache-2.0" {
		t.Errorf("recorded license %q", rec.License)
	}
	if _, err := os.Stat("vendor/hls.js-LICENSE"); err != nil {
		t.Errorf("the license text is not beside it: %v", err)
	}
	var pkg struct{ Dependencies map[string]string }
	readJSON(t, "npm/package.json", &pkg)
	var lock struct {
		Packages map[string]struct{ Version, Integrity string }
	}
	readJSON(t, "npm/package-lock.json", &lock)
	locked := lock.Packages["node_modules/hls.js"]
	if pkg.Dependencies["hls.js"] != rec.Version || locked.Version != rec.Version || locked.Integrity == "" {
		t.Fatalf("hls.js versions: recorded %q, package.json %q, package-lock.json %q (integrity %q): want one pinned version",
			rec.Version, pkg.Dependencies["hls.js"], locked.Version, locked.Integrity)
	}
	dir := filepath.Join("npm", "node_modules", "hls.js")
	var installed struct{ Version string }
	if _, err := os.Stat(dir); err != nil {
		// Not a skip: make test runs after scripts/deps.sh.
		t.Fatalf("no %s: run scripts/deps.sh (it runs npm ci in internal/web/npm)", dir)
	}
	readJSON(t, filepath.Join(dir, "package.json"), &installed)
	if installed.Version != rec.Version {
		t.Fatalf("installed hls.js %s, lock file %s: run npm ci in internal/web/npm", installed.Version, rec.Version)
	}
	fromNPM, err := os.ReadFile(filepath.Join(dir, "dist", rec.File))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromNPM, embedded) {
		npmSum := sha256.Sum256(fromNPM)
		t.Errorf("vendor/%s differs from the npm package's dist/%s (sha256 %x)", rec.File, rec.File, npmSum)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
