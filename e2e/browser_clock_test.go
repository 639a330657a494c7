package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// startParty creates a party of host for videoURL that starts now, and
// returns its id once the scheduler made it ONGOING.
func startParty(t *testing.T, gw, host, videoURL string) string {
	t.Helper()
	start := time.Now().UTC()
	code, created := api(t, gw, http.MethodPost, "/api/parties", host, map[string]any{
		"title": "Party of " + host, "video_url": videoURL,
		"start_time": start.Format(time.RFC3339Nano), "end_time": start.Add(time.Hour).Format(time.RFC3339Nano)})
	if code != http.StatusCreated {
		t.Fatalf("create party: %d %v", code, created)
	}
	id, _ := created["id"].(string)
	eventually(t, 10*time.Second, "the party to start", func() bool {
		_, p := api(t, gw, http.MethodGet, "/api/parties/"+id, host, nil)
		return p["status"] == "ONGOING"
	})
	return id
}

// waitInStep waits until the tabs' positions are within tolerance of each
// other, then checks that they stay so for a second.
func waitInStep(t *testing.T, what string, tolerance float64, tabs ...*tab) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, ps := spread(t, tabs...)
		if d < tolerance {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: positions still %.3f s apart after 5 s: %+v", what, d, ps)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, with the deadline above
	}
	for until := time.Now().Add(time.Second); time.Now().Before(until); time.Sleep(100 * time.Millisecond) {
		if d, ps := spread(t, tabs...); d >= tolerance {
			t.Fatalf("%s: positions %.3f s apart after being in step: %+v", what, d, ps)
		}
	}
}

// TestBrowserClockOffset runs viewers whose Date is 3 s ahead and 3 s
// behind: the app measures each one's offset to the server with pings and
// ages playback by the server's clock, so after a play, a seek and a late
// join every follower is within 0.3 s of the host.
func TestBrowserClockOffset(t *testing.T) {
	gw, base := browserSystem(t)
	link := base + "/p/" + startParty(t, gw, "Host", base+"/media/sample.webm")
	br := newBrowser(t)

	host := br.newTab("host", 1280, 860)
	host.join(link, "Host")
	ahead := br.newTab("ahead", 800, 700)
	ahead.shiftClock(3000)
	ahead.join(link, "Ahead")
	behind := br.newTab("behind", 800, 700)
	behind.shiftClock(-3000)
	behind.join(link, "Behind")
	for _, c := range []struct {
		tb   *tab
		want int // the server's clock minus the page's Date
	}{{host, 0}, {ahead, -3000}, {behind, 3000}} {
		c.tb.waitFor("the clock offset measured", 5*time.Second,
			fmt.Sprintf(`Math.abs(Number(document.getElementById('conn').dataset.clockOffsetMs) - (%d)) < 100`, c.want),
			`document.getElementById('conn').dataset.clockOffsetMs`)
		c.tb.waitFor("the video to load", 10*time.Second, `document.getElementById('video').readyState >= 3`, "")
	}
	all := []*tab{host, ahead, behind}

	host.eval(`(document.getElementById('video').play(), true)`, nil)
	host.waitFor("a second of playback", 5*time.Second, `document.getElementById('video').currentTime > 1`, playerJS)
	waitInStep(t, "after play", 0.3, all...)

	host.eval(`(document.getElementById('video').currentTime = 12, true)`, nil)
	for _, tb := range all[1:] {
		tb.waitFor("the seek to 12 s", 3*time.Second, `Math.abs(document.getElementById('video').currentTime - 12.5) < 1`, playerJS)
	}
	waitInStep(t, "after seek", 0.3, all...)

	// Late joiners, a moment into the play, take the welcome's playback
	// aged by the server's clock.
	late := []*tab{br.newTab("late ahead", 800, 700), br.newTab("late behind", 800, 700)}
	late[0].shiftClock(3000)
	late[1].shiftClock(-3000)
	for i, tb := range late {
		tb.join(link, fmt.Sprint("Late", i))
		tb.waitFor("the late joiner's video to play", 10*time.Second, `!document.getElementById('video').paused`, playerJS)
	}
	waitInStep(t, "after a late join", 0.3, append(all, late...)...)
	for _, tb := range append(all, late...) {
		var hls bool
		if tb.eval(hlsLoadedJS, &hls); hls {
			t.Errorf("%s: hls.js loaded for a party whose video is no HLS", tb.name)
		}
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("%s: uncaught exceptions or dialogs: %q", tb.name, p)
		}
	}
}
