// Package web serves the browser app: the home page, the party page, their
// scripts and styles, and the sample video, all embedded in the binary.
// This is the project's own code, not a public API.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ContentSecurityPolicy allows the pages nothing beyond the gateway's own
// origin: no inline script or style, no other host for scripts, media or
// connections ('self' covers same-host ws: and wss: in current browsers).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; media-src 'self'; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SampleVideoPath is where the embedded sample video is served.
const SampleVideoPath = "/media/sample.webm"

//go:embed static media
var files embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	body        []byte
	contentType string
	etag        string
	cache       string
}

// Site serves the embedded files. It is safe for concurrent use.
type Site struct {
	assets map[string]*asset // by URL path
}

// contentTypes maps each extension the app ships to its media type.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".webm": "video/webm",
}

// New loads every embedded file; it fails on a file of a type it does not
// know, so nothing is ever served with a guessed type.
func New() (*Site, error) {
	s := &Site{assets: map[string]*asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("embedded %s: no content type for its extension", p)
		}
		sum := sha256.Sum256(body)
		a := &asset{name: p, body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`,
			// Pages and scripts are revalidated on every load (cheap with
			// the ETag) so an upgrade is never half-applied; the video
			// never changes within a version.
			cache: "no-cache"}
		if strings.HasPrefix(p, "media/") {
			a.cache = "public, max-age=86400"
		}
		s.assets["/"+p] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"/static/index.html", "/static/party.html"} {
		if s.assets[p] == nil {
			return nil, fmt.Errorf("embedded %s is missing", p)
		}
	}
	return s, nil
}

// Register adds the app's routes to mux: / (home), /p/{id} (a party),
// /static/ (scripts, styles, icons) and /media/ (the sample video).
func (s *Site) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, s.assets["/static/index.html"])
	})
	mux.HandleFunc("GET /p/{id}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := uuid.Parse(r.PathValue("id")); err != nil {
			http.Error(w, "no such party: the link is malformed", http.StatusNotFound)
			return
		}
		s.serve(w, r, s.assets["/static/party.html"])
	})
	file := func(w http.ResponseWriter, r *http.Request) {
		a := s.assets[r.URL.Path]
		if a == nil || strings.HasSuffix(a.name, ".html") {
			http.NotFound(w, r)
			return
		}
		s.serve(w, r, a)
	}
	mux.HandleFunc("GET /static/", file)
	mux.HandleFunc("GET /media/", file)
}

// serve writes a with its headers; http.ServeContent answers conditional
// and Range requests (the video element seeks with Range).
func (s *Site) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cache)
	h.Set("ETag", a.etag)
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	// Tokens may sit in a page's query: never send it to another site.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// No modification time: embedded files have none; the ETag serves.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
