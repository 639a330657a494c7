// Package web serves the browser app: the home page, the party page, their
// scripts and styles, hls.js, and the sample video, all embedded in the
// binary.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ContentSecurityPolicy allows the pages nothing beyond the gateway's own
// origin: no inline script or style, no other host for scripts, media or
// connections ('self' covers same-host ws: and wss: in current browsers).
// It is the policy of every page when Options.MediaOrigins is empty; see
// policy for what the media origins and an HLS party add.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; media-src 'self'; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// policy is ContentSecurityPolicy with media (sources appended to
// media-src) and connect (appended to connect-src).
func policy(media, connect []string) string {
	p := ContentSecurityPolicy
	if len(media) > 0 {
		p = strings.Replace(p, "media-src 'self'", "media-src 'self' "+strings.Join(media, " "), 1)
	}
	if len(connect) > 0 {
		p = strings.Replace(p, "connect-src 'self'", "connect-src 'self' "+strings.Join(connect, " "), 1)
	}
	return p
}

// SampleVideoPath is where the embedded sample video is served.
const SampleVideoPath = "/media/sample.webm"

// HLSPath is where the embedded hls.js is served (see vendor/README.md).
const HLSPath = "/static/vendor/hls.min.mjs"

//go:embed static media vendor/hls.min.mjs
var files embed.FS

// Options configure a Site.
type Options struct {
	// MediaOrigins is WATCH_PARTY_MEDIA_ORIGINS: a comma-separated list of
	// origins (https://cdn.example.com) the party page may play videos
	// from besides the gateway's own (ParseMediaOrigins).
	MediaOrigins string
	// PartyVideo returns a party's video URL, so that the page of a party
	// whose video is HLS gets the policy hls.js needs. Nil, or an error:
	// the page gets the policy of any other party.
	PartyVideo func(ctx context.Context, id uuid.UUID) (string, error)
}

// mediaOriginsMeta is the party page's placeholder for the media origins,
// which New fills so the page knows up front which videos it may play.
const mediaOriginsMeta = `<meta name="watchparty-media-origins" content="">`

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
	// csp is every page's policy; cspHLS the party page's when its video
	// is HLS: hls.js fetches the playlist and segments (connect-src) and
	// plays them from a MediaSource (media-src blob:).
	csp, cspHLS string
	partyVideo  func(ctx context.Context, id uuid.UUID) (string, error)
}

// contentTypes maps each extension the app ships to its media type.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".webm": "video/webm",
	".mjs":  "text/javascript; charset=utf-8",
}

// New loads every embedded file; it fails on a file of a type it does not
// know, so nothing is ever served with a guessed type, and on media origins
// ParseMediaOrigins refuses.
func New(opts Options) (*Site, error) {
	media, err := ParseMediaOrigins(opts.MediaOrigins)
	if err != nil {
		return nil, fmt.Errorf("media origins: %w", err)
	}
	s := &Site{assets: map[string]*asset{}, partyVideo: opts.PartyVideo,
		csp: policy(media, nil), cspHLS: policy(append(media, "blob:"), media)}
	err = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		if p == "static/party.html" {
			if !bytes.Contains(body, []byte(mediaOriginsMeta)) {
				return fmt.Errorf("embedded %s: no %s", p, mediaOriginsMeta)
			}
			body = bytes.Replace(body, []byte(mediaOriginsMeta), []byte(`<meta name="watchparty-media-origins" content="`+
				html.EscapeString(strings.Join(media, " "))+`">`), 1)
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
		if strings.HasPrefix(p, "vendor/") {
			p = "static/" + p
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
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			http.Error(w, "no such party: the link is malformed", http.StatusNotFound)
			return
		}
		csp := s.csp
		if s.isHLS(r.Context(), id) {
			csp = s.cspHLS
		}
		s.serveWith(w, r, s.assets["/static/party.html"], csp)
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

// isHLS says whether party id's video is an HLS playlist (.m3u8).
func (s *Site) isHLS(ctx context.Context, id uuid.UUID) bool {
	if s.partyVideo == nil {
		return false
	}
	v, err := s.partyVideo(ctx, id)
	return err == nil && IsHLS(v)
}

// IsHLS says whether a video URL names an HLS playlist: its path ends in
// .m3u8 (as the party page decides too).
func IsHLS(videoURL string) bool {
	u, err := url.Parse(videoURL)
	return err == nil && strings.HasSuffix(strings.ToLower(u.Path), ".m3u8")
}

func (s *Site) serve(w http.ResponseWriter, r *http.Request, a *asset) { s.serveWith(w, r, a, s.csp) }

// serveWith writes a with its headers and the policy csp;
// http.ServeContent answers conditional and Range requests (the video
// element seeks with Range).
func (s *Site) serveWith(w http.ResponseWriter, r *http.Request, a *asset, csp string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cache)
	h.Set("ETag", a.etag)
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	// Tokens may sit in a page's query: never send it to another site.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// No modification time: embedded files have none; the ETag serves.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
