package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// makeHLS writes a short HLS rendition (H.264 in MPEG-TS, 2 s segments) of
// the sample video into a new directory, with ffmpeg, and returns it.
func makeHLS(t *testing.T) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		// Not a skip: the browser tests are part of the suite.
		t.Fatalf("the HLS browser test needs ffmpeg: %v; install it with `apt-get install -y ffmpeg` (scripts/deps.sh does)", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-loglevel", "error",
		"-i", filepath.Join("..", "internal", "web", "media", "sample.webm"), "-t", "20", "-an",
		"-vf", "scale=640:-2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(dir, "seg%03d.ts"), filepath.Join(dir, "index.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.m3u8")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mediaOrigin serves dir on a local origin of its own (another port), with
// CORS for any page, as a CDN would.
func mediaOrigin(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// noNativeHLS makes the tab's pages report no native HLS, as Firefox and
// Chromium before native HLS do, so that the page plays it with hls.js.
func (tb *tab) noNativeHLS() {
	tb.t.Helper()
	tb.addInitScript(`(() => {
	const can = HTMLMediaElement.prototype.canPlayType;
	HTMLMediaElement.prototype.canPlayType = function (type) {
		return /mpegurl/i.test(type) ? "" : can.call(this, type);
	};
})();`)
}

const hlsLoadedJS = `performance.getEntriesByType('resource').some(e => e.name.endsWith('/static/vendor/hls.min.mjs'))`

// TestBrowserHLS: a party whose video is an HLS rendition on another
// origin listed in WATCH_PARTY_MEDIA_ORIGINS plays, through hls.js where
// the browser has no native HLS, and the host and a follower stay in step
// through play and seek. A party whose video is on an origin not listed
// shows the note instead of a player.
func TestBrowserHLS(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	media := mediaOrigin(t, makeHLS(t))
	other := mediaOrigin(t, t.TempDir()) // an origin the gateway does not allow
	s := sharedSystem(t)
	gw, _ := s.gateway("WATCH_PARTY_MEDIA_ORIGINS=" + media.URL)
	s.flusher("WATCH_PARTY_SCHEDULER_INTERVAL=300ms")
	base := "http://" + gw
	link := base + "/p/" + startParty(t, gw, "Host", media.URL+"/index.m3u8")
	br := newBrowser(t)

	host := br.newTab("host", 1280, 860)
	host.join(link, "Host")
	follower := br.newTab("follower (hls.js)", 800, 700)
	follower.noNativeHLS()
	follower.join(link, "Follower")
	for _, tb := range []*tab{host, follower} {
		tb.waitFor("the HLS video to load", 15*time.Second, `document.getElementById('video').readyState >= 3`,
			`({src: document.getElementById('video').currentSrc, note: document.getElementById('control-note').textContent})`)
	}
	var src string
	follower.eval(`document.getElementById('video').currentSrc`, &src)
	var usedHLSJS bool
	follower.eval(hlsLoadedJS, &usedHLSJS)
	if !usedHLSJS || len(src) < 5 || src[:5] != "blob:" {
		t.Fatalf("the follower without native HLS plays %q, hls.js loaded: %v; want hls.js and a MediaSource", src, usedHLSJS)
	}
	host.eval(`document.getElementById('video').currentSrc`, &src)
	t.Logf("the host (Chromium) plays %s", src)

	host.eval(`(document.getElementById('video').play(), true)`, nil)
	host.waitFor("a second of playback", 5*time.Second, `document.getElementById('video').currentTime > 1`, playerJS)
	waitInStep(t, "after play", 0.3, host, follower)
	host.eval(`(document.getElementById('video').currentTime = 9, true)`, nil)
	follower.waitFor("the seek to 9 s", 5*time.Second, `Math.abs(document.getElementById('video').currentTime - 9.5) < 1`, playerJS)
	waitInStep(t, "after seek", 0.3, host, follower)

	// A video on an origin the gateway does not list: a note, no player.
	blocked := br.newTab("blocked", 800, 700)
	blocked.join(base+"/p/"+startParty(t, gw, "Host", other.URL+"/index.m3u8"), "Blocked")
	blocked.waitFor("the note", 5*time.Second,
		`document.getElementById('control-note').textContent.includes('on another site')`, `document.getElementById('control-note').textContent`)
	var state struct {
		Src   string `json:"src"`
		HLSJS bool   `json:"hlsjs"`
	}
	blocked.eval(`({src: document.getElementById('video').currentSrc, hlsjs: `+hlsLoadedJS+`})`, &state)
	if state.Src != "" || state.HLSJS {
		t.Fatalf("a video on an origin not allowed: %+v; want no source and no hls.js", state)
	}
	for _, tb := range []*tab{host, follower, blocked} {
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("%s: uncaught exceptions or dialogs: %q", tb.name, p)
		}
	}
}
