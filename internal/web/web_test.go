package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	return newServerWith(t, Options{})
}

func newServerWith(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRoutes(t *testing.T) {
	srv := newServer(t)
	cases := []struct {
		name, path  string
		status      int
		contentType string
		contains    string
	}{
		{"home", "/", 200, "text/html; charset=utf-8", `src="/static/home.js"`},
		{"party page", "/p/0b6f2a52-3c1e-4a55-9a57-1f1e8b0c2d11", 200, "text/html; charset=utf-8", `src="/static/party.js"`},
		{"party id not a uuid", "/p/nope", 404, "", ""},
		{"client module", "/static/watchparty.js", 200, "text/javascript; charset=utf-8", "export class WatchPartyClient"},
		{"styles", "/static/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"icon", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"moderation controls", "/static/moderation.js", 200, "text/javascript; charset=utf-8", "export class Moderation"},
		{"hls.js", HLSPath, 200, "text/javascript; charset=utf-8", "isSupported"},
		{"video", SampleVideoPath, 200, "video/webm", ""},
		{"html only through its route", "/static/index.html", 404, "", ""},
		{"unknown file", "/static/nope.js", 404, "", ""},
		{"unknown path", "/nope", 404, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+c.path, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.status != 200 {
				return
			}
			h := resp.Header
			if got := h.Get("Content-Type"); got != c.contentType {
				t.Errorf("Content-Type %q, want %q", got, c.contentType)
			}
			if got := h.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy %q", got)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := h.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if h.Get("Cache-Control") == "" || h.Get("ETag") == "" {
				t.Errorf("Cache-Control %q, ETag %q: want both", h.Get("Cache-Control"), h.Get("ETag"))
			}
			if !strings.Contains(body, c.contains) {
				t.Errorf("body does not contain %q", c.contains)
			}
		})
	}
}

func TestPolicyAllowsOnlySelf(t *testing.T) {
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		for _, src := range strings.Fields(d)[1:] {
			if src != "'self'" && src != "'none'" {
				t.Errorf("directive %q allows %s", strings.TrimSpace(d), src)
			}
		}
	}
}

func TestVideoRangeAndRevalidation(t *testing.T) {
	srv := newServer(t)
	resp, body := get(t, srv.URL+SampleVideoPath, http.Header{"Range": {"bytes=0-99"}})
	if resp.StatusCode != http.StatusPartialContent || len(body) != 100 {
		t.Fatalf("range request: status %d, %d bytes; want 206 and 100", resp.StatusCode, len(body))
	}
	if !strings.HasPrefix(body, "\x1a\x45\xdf\xa3") {
		t.Errorf("the video does not start with the WebM (EBML) magic")
	}
	full, _ := get(t, srv.URL+SampleVideoPath, nil)
	if full.ContentLength <= 0 || full.ContentLength >= 1<<20 {
		t.Errorf("video is %d bytes; want some, under 1 MiB", full.ContentLength)
	}
	again, _ := get(t, srv.URL+"/static/watchparty.js", nil)
	cond, _ := get(t, srv.URL+"/static/watchparty.js", http.Header{"If-None-Match": {again.Header.Get("ETag")}})
	if cond.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: status %d, want 304", cond.StatusCode)
	}
}
