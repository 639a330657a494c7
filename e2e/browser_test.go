package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// player is a page's video element at a moment (the machine's clock in ms,
// read through performance, which a page's shifted Date does not touch).
type player struct {
	T      float64 `json:"t"`
	Pos    float64 `json:"pos"`
	Paused bool    `json:"paused"`
}

const playerJS = `(() => { const v = document.getElementById('video');
	return {t: performance.timeOrigin + performance.now(), pos: v.currentTime, paused: v.paused}; })()`

func (tb *tab) player() player {
	tb.t.Helper()
	var p player
	tb.eval(playerJS, &p)
	return p
}

// spread is how far apart the tabs' positions are, each projected to the
// moment of the first sample (all tabs share this machine's clock).
func spread(t *testing.T, tabs ...*tab) (float64, []player) {
	t.Helper()
	ps := make([]player, len(tabs))
	for i, tb := range tabs {
		ps[i] = tb.player()
	}
	lo, hi := 1e9, -1e9
	for _, p := range ps {
		pos := p.Pos
		if !p.Paused {
			pos += (ps[0].T - p.T) / 1000
		}
		lo, hi = min(lo, pos), max(hi, pos)
	}
	return hi - lo, ps
}

// chatLine is one rendered chat message.
type chatLine struct {
	Who     string `json:"who"`
	Text    string `json:"text"`
	Pending bool   `json:"pending"`
	Failed  bool   `json:"failed"`
}

const chatJS = `Array.from(document.querySelectorAll('#messages li.msg:not(.system)')).map(li => ({
	who: li.querySelector('.who').textContent, text: li.querySelector('.text').textContent,
	pending: li.classList.contains('pending'), failed: li.classList.contains('failed')}))`

func (tb *tab) chats() []chatLine {
	tb.t.Helper()
	var out []chatLine
	tb.eval(chatJS, &out)
	return out
}

func (tb *tab) waitChat(who, text string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("chat %q from %s", text, who), 10*time.Second,
		fmt.Sprintf(`(%s).some(m => m.who === %q && m.text === %q && !m.pending)`, chatJS, who, text), chatJS)
}

func (tb *tab) say(text string) {
	tb.t.Helper()
	tb.do(chromedp.SendKeys(chromedp.ID("chat-input"), text+kb.Enter))
}

func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.waitFor("the connection to be live", 20*time.Second,
		`document.getElementById('conn').dataset.state === 'open'`, `document.getElementById('conn').textContent`)
}

// join opens a party link as a new viewer named name and waits until it
// is connected.
func (tb *tab) join(link, name string) {
	tb.t.Helper()
	tb.join0(link, name)
	tb.waitLive()
}

// join0 opens a party link and signs in as name.
func (tb *tab) join0(link, name string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("identity-form")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.CSS("#identity-form button")))
}

// TestBrowserWatchParty drives the web app in headless Chromium against
// two gateways behind a load balancer, a flusher, Redis and PostgreSQL.
func TestBrowserWatchParty(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	artifacts := artifactsDir(t)
	s := sharedSystem(t)
	gwA, _ := s.gateway()
	gwB, procB := s.gateway()
	s.flusher("WATCH_PARTY_SCHEDULER_INTERVAL=300ms", "WATCH_PARTY_FLUSH_INTERVAL=1s")
	lb := newBalancer(t, gwA, gwB)
	base := "http://" + lb.addr()
	br := newBrowser(t)

	// The host signs in on the home page and creates a party that starts now.
	lb.preferBackend(0)
	alice := br.newTab("alice", 1280, 860)
	alice.do(chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("identity-form")),
		chromedp.SendKeys(chromedp.ID("name"), "Alice"),
		chromedp.Click(chromedp.CSS("#identity-form button")),
		chromedp.WaitVisible(chromedp.ID("create-form")),
		chromedp.SetValue(chromedp.ID("title"), "Friday premiere"))
	video := value(alice, chromedp.Value(chromedp.ID("video")))
	if video != base+"/media/sample.webm" {
		t.Fatalf("default video URL %q, want the sample served by the gateway", video)
	}
	alice.do(chromedp.Click(chromedp.CSS("#create-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("created")))
	link := value(alice, chromedp.Value(chromedp.ID("created-link")))
	if !strings.HasPrefix(link, base+"/p/") {
		t.Fatalf("share link %q", link)
	}
	alice.waitFor("the new party in the list", 20*time.Second,
		`document.querySelector('#ongoing a, #upcoming a') && document.querySelector('#ongoing a, #upcoming a').textContent === 'Friday premiere'`,
		`document.getElementById('app').innerText`)
	alice.screenshot(artifacts, "home")
	alice.do(chromedp.Click(chromedp.ID("created-open")))
	alice.waitLive()

	// Bob joins through gateway A and Carol, on a phone, through gateway B.
	bob := br.newTab("bob", 1280, 860)
	bob.join(link, "Bob")
	lb.preferBackend(1)
	carol := br.newTab("carol", 390, 844)
	carol.join(link, "Carol")
	lb.preferBackend(0)
	eventually(t, 5*time.Second, "viewers on A=2, B=1", func() bool {
		return scrapeMetric(t, gwA, "watch_party_ws_connections", nil) == 2 &&
			scrapeMetric(t, gwB, "watch_party_ws_connections", nil) == 1
	})
	all := []*tab{alice, bob, carol}
	for _, tb := range all {
		tb.waitFor("3 viewers", 5*time.Second, `document.getElementById('viewers').textContent === '3'`,
			`document.getElementById('viewers').textContent`)
		tb.waitFor("the video to load", 10*time.Second, `document.getElementById('video').readyState >= 3`, "")
	}

	// The host presses play: the others play within a second, in step.
	start := time.Now()
	alice.eval(`(document.getElementById('video').play(), true)`, nil)
	for _, tb := range []*tab{bob, carol} {
		tb.waitFor("the video to play", time.Second, `!document.getElementById('video').paused`, playerJS)
	}
	t.Logf("followers playing %v after the host pressed play", time.Since(start).Round(time.Millisecond))
	alice.waitFor("half a second of playback", 5*time.Second, `document.getElementById('video').currentTime > 0.5`, playerJS)
	if d, ps := spread(t, all...); d > 0.5 {
		t.Fatalf("positions %v apart after play: %+v", d, ps)
	}

	// The host seeks, then pauses: the others follow.
	alice.eval(`(document.getElementById('video').currentTime = 15, true)`, nil)
	for _, tb := range []*tab{bob, carol} {
		tb.waitFor("the seek to 15 s", 2*time.Second, `Math.abs(document.getElementById('video').currentTime - 15.3) < 0.6`, playerJS)
	}
	alice.waitFor("playback past 16 s", 5*time.Second, `document.getElementById('video').currentTime > 16`, playerJS)
	alice.eval(`(document.getElementById('video').pause(), true)`, nil)
	for _, tb := range []*tab{bob, carol} {
		tb.waitFor("the pause", time.Second, `document.getElementById('video').paused`, playerJS)
	}
	eventually(t, 2*time.Second, "paused positions to agree", func() bool { d, _ := spread(t, all...); return d < 0.5 })
	hostPaused := alice.player().Pos

	// A viewer without control presses play and seeks: nobody else moves,
	// and their own player is put back.
	bob.eval(`(document.getElementById('video').play(), true)`, nil)
	bob.waitFor("the refusal note", 2*time.Second, `document.getElementById('control-note').textContent.includes('Only the host')`, "")
	bob.waitFor("bob's player paused again", 2*time.Second, `document.getElementById('video').paused`, playerJS)
	bob.eval(`(document.getElementById('video').currentTime = 3, true)`, nil)
	bob.waitFor("bob's player back at the host's position", 3*time.Second,
		fmt.Sprintf(`Math.abs(document.getElementById('video').currentTime - %f) < 0.3`, hostPaused), playerJS)
	for _, tb := range []*tab{alice, carol} {
		if p := tb.player(); !p.Paused || p.Pos < hostPaused-0.3 || p.Pos > hostPaused+0.3 {
			t.Fatalf("%s moved after a non-host's play and seek: %+v (host paused at %.2f)", tb.name, p, hostPaused)
		}
	}

	// Chat, with the sender's name; markup shows as text and runs nothing.
	bob.say("hello from bob")
	for _, tb := range all {
		tb.waitChat("Bob", "hello from bob")
	}
	const xss = `<img src=x onerror=alert(1)>`
	carol.say(xss)
	for _, tb := range all {
		tb.waitChat("Carol", xss)
		var imgs int
		tb.eval(`document.querySelectorAll('#messages img').length`, &imgs)
		if imgs != 0 {
			t.Fatalf("%s: the chat rendered markup (%d img elements)", tb.name, imgs)
		}
	}

	// The host deletes a chat (over REST; the page has no moderation
	// controls): it leaves every page, and every page says who is muted.
	bob.say("spam to delete")
	for _, tb := range all {
		tb.waitChat("Bob", "spam to delete")
	}
	var spamID string
	carol.eval(`[...document.querySelectorAll('#messages li')].find(li => li.querySelector('.text').textContent === 'spam to delete').dataset.eventId`, &spamID)
	partyPath := "/api/parties/" + path.Base(link)
	_, p := api(t, lb.addr(), http.MethodGet, partyPath, "anyone", nil)
	host, _ := p["host_user_id"].(string)
	for _, action := range []map[string]any{
		{"type": "delete", "target_event_id": spamID},
		{"type": "mute", "target_user_id": "nobody", "duration_s": 60},
	} {
		if status, out := api(t, lb.addr(), http.MethodPost, partyPath+"/moderation", host, action); status != http.StatusOK {
			t.Fatalf("%v by the host %q: %d %v", action, host, status, out)
		}
	}
	for _, tb := range all {
		tb.waitFor("the deleted chat to go", 5*time.Second, `!(`+chatJS+`).some(m => m.text === 'spam to delete')`, chatJS)
		tb.waitFor("the mute notice", 5*time.Second,
			`[...document.querySelectorAll('#messages li.system')].some(li => li.textContent.startsWith('nobody is muted until'))`, "")
	}

	// Likes: the total everywhere; a second like by the same user counts once.
	alice.do(chromedp.Click(chromedp.ID("like")))
	for _, tb := range all {
		tb.waitFor("1 like", 5*time.Second, `document.getElementById('likes').textContent === '1'`, `document.getElementById('likes').textContent`)
	}
	bob.do(chromedp.Click(chromedp.ID("like")))
	for _, tb := range all {
		tb.waitFor("2 likes", 5*time.Second, `document.getElementById('likes').textContent === '2'`, `document.getElementById('likes').textContent`)
	}

	// A late joiner, about a second after the play, starts at the host's
	// position, not at the position the play was pressed at. Dave's page is
	// open with his name typed before the play, so he joins soon after it.
	dave := br.newTab("dave", 1280, 860)
	dave.do(chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("identity-form")),
		chromedp.SendKeys(chromedp.ID("name"), "Dave"))
	alice.eval(`(document.getElementById('video').play(), true)`, nil)
	alice.waitFor("0.7 s of playback", 5*time.Second,
		fmt.Sprintf(`document.getElementById('video').currentTime > %f`, hostPaused+0.7), playerJS)
	joinAt := time.Now()
	dave.do(chromedp.Click(chromedp.CSS("#identity-form button")))
	dave.waitLive()
	t.Logf("late joiner connected %v after pressing join, %.2f s into the play",
		time.Since(joinAt).Round(time.Millisecond), alice.player().Pos-hostPaused)
	dave.waitFor("the late joiner's video to play", 5*time.Second, `!document.getElementById('video').paused`, playerJS)
	if d, ps := spread(t, alice, dave); d > 0.5 {
		t.Fatalf("late joiner %v from the host: %+v", d, ps)
	}
	for _, tb := range append(all, dave) {
		tb.waitFor("4 viewers", 5*time.Second, `document.getElementById('viewers').textContent === '4'`, `document.getElementById('viewers').textContent`)
	}
	alice.screenshot(artifacts, "party-host")
	carol.screenshot(artifacts, "party-phone")
	dave.close()
	for _, tb := range all {
		tb.waitFor("3 viewers after a leave", 5*time.Second, `document.getElementById('viewers').textContent === '3'`, `document.getElementById('viewers').textContent`)
	}

	// Carol's gateway stops while she cannot reach another one; chats go on
	// without her, she writes one herself, then she reaches gateway A.
	lb.hold()
	procB.Signal(syscall.SIGTERM)
	carol.waitFor("the connection to be lost", 10*time.Second,
		`document.getElementById('conn').dataset.state === 'reconnecting'`, `document.getElementById('conn').textContent`)
	missed := []string{"missed one", "missed two", "missed three"}
	for _, m := range missed {
		alice.say(m)
	}
	bob.waitChat("Alice", missed[2])
	carol.say("written while cut off")
	carol.waitFor("the pending mark", 2*time.Second,
		`(`+chatJS+`).some(m => m.text === 'written while cut off' && m.pending)`, chatJS)
	if code, err := procB.Wait(15 * time.Second); err != nil || code != 0 {
		t.Fatalf("gateway B after SIGTERM: exit %d, %v", code, err)
	}
	lb.resume()
	carol.waitLive()
	carol.waitChat("Alice", missed[2])
	carol.waitChat("Carol", "written while cut off")
	alice.waitChat("Carol", "written while cut off")
	assertOnceInOrder(t, carol, append([]string{"hello from bob", xss}, missed...))
	for _, tb := range all {
		assertOnceInOrder(t, tb, []string{"written while cut off"})
	}
	carol.screenshot(artifacts, "party-phone-resumed")

	// The host ends the party: every page says so.
	alice.do(chromedp.Click(chromedp.ID("end")), chromedp.Click(chromedp.ID("end")))
	for _, tb := range all {
		tb.waitFor("the end banner", 15*time.Second,
			`!document.getElementById('banner').hidden && document.getElementById('banner').textContent.includes('ended')`,
			`document.getElementById('banner').textContent`)
	}
	alice.screenshot(artifacts, "party-ended")

	for _, tb := range append(all, dave) {
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("%s: uncaught exceptions or dialogs: %q", tb.name, p)
		}
	}
	entries, _ := os.ReadDir(artifacts)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Logf("screenshots in %s: %s", filepath.Clean(artifacts), strings.Join(names, " "))
}

// assertOnceInOrder fails unless every text is in tb's chat exactly once,
// in the order given.
func assertOnceInOrder(t *testing.T, tb *tab, texts []string) {
	t.Helper()
	var got []string
	for _, c := range tb.chats() {
		got = append(got, c.Text)
	}
	last := -1
	for _, want := range texts {
		i := slices.Index(got, want)
		if i < 0 || slices.Index(got[i+1:], want) >= 0 || i < last {
			t.Fatalf("%s: want %q once, after the ones before it; chat is %q", tb.name, want, got)
		}
		last = i
	}
}

// TestBrowserScheduledParty opens a party before it starts: the page
// counts down, connects once the scheduler makes it ONGOING, shows a
// refused message where it was written, and a finished party's page says
// it has ended.
func TestBrowserScheduledParty(t *testing.T) {
	_, base := browserSystem(t, "WATCH_PARTY_CHAT_RATE=0.2", "WATCH_PARTY_CHAT_BURST=1")
	br := newBrowser(t)
	viewer := br.newTab("viewer", 1280, 860)
	start := time.Now().Add(5 * time.Second).UTC()
	body := fmt.Sprintf(`{"title":"Later","video_url":%q,"start_time":%q,"end_time":%q}`,
		base+"/media/sample.webm", start.Format(time.RFC3339Nano), start.Add(time.Hour).Format(time.RFC3339Nano))
	resp, err := http.Post(base+"/api/parties?user=host", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || created.Status != "SCHEDULED" {
		t.Fatalf("create: %d %+v %v", resp.StatusCode, created, err)
	}

	viewer.join0(base+"/p/"+created.ID, "Viewer")
	viewer.waitFor("the countdown", 3*time.Second,
		`!document.getElementById('countdown').hidden && document.getElementById('countdown').textContent.includes('starts in')`,
		`document.getElementById('countdown').textContent`)
	if state := viewer.text("#conn"); state != "Waiting for the start" {
		t.Fatalf("connection state during the countdown: %q", state)
	}
	viewer.waitLive()
	if time.Now().Before(start) {
		t.Fatalf("connected before the start time")
	}
	viewer.waitFor("the countdown to go", time.Second, `document.getElementById('countdown').hidden`, "")

	// Over the chat rate limit: the refusal shows on the message itself.
	viewer.say("first")
	viewer.waitChat("Viewer", "first")
	viewer.say("second, too soon")
	viewer.waitFor("the refusal in place", 5*time.Second,
		`(`+chatJS+`).some(m => m.text === 'second, too soon' && m.failed) && `+
			`document.querySelector('#messages li.failed .note').textContent.includes('too fast')`, chatJS)

	// The host ends it; a page opened afterwards says so at once.
	req, _ := http.NewRequest(http.MethodPost, base+"/api/parties/"+created.ID+"/end?user=host", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("end: %v %v", resp, err)
	}
	resp.Body.Close()
	viewer.waitFor("the end banner", 10*time.Second, `document.getElementById('banner').textContent.includes('ended')`, "")
	late := br.newTab("late", 1280, 860)
	late.join0(base+"/p/"+created.ID, "Late")
	late.waitFor("the end banner", 5*time.Second, `document.getElementById('banner').textContent.includes('ended')`,
		`document.body.innerText`)
	for _, tb := range []*tab{viewer, late} {
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("%s: uncaught exceptions or dialogs: %q", tb.name, p)
		}
	}
}
