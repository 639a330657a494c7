package e2e

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// unsignedToken is a JWT with sub and name whose signature no gateway
// accepts: enough for the page, which reads the claims unverified.
func unsignedToken(sub, name string, exp int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"sub":%q,"name":%q,"exp":%d}`, sub, name, exp)
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJl"
}

const storedIdentityJS = `JSON.parse(localStorage.getItem('watchparty.identity'))`

// TestBrowserTokenLinkAsksBeforeReplacingIdentity: opening the home page
// with ?token= of another user while signed in asks first; "Stay" keeps
// the stored identity, "Continue as" takes the link's. A link with a new
// token of the user already stored is taken without asking. The token
// leaves the address bar either way, and no alert or confirm is used.
func TestBrowserTokenLinkAsksBeforeReplacingIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	s := sharedSystem(t)
	gw, _ := s.gateway()
	base := "http://" + gw
	tb := newBrowser(t).newTab("alice", 1280, 860)
	tb.do(chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("identity-form")),
		chromedp.SendKeys(chromedp.ID("name"), "Alice"),
		chromedp.Click(chromedp.CSS("#identity-form button")),
		chromedp.WaitVisible(chromedp.ID("whoami")))
	exp := time.Now().Add(time.Hour).Unix()
	mallory := unsignedToken("mallory", "Mallory", exp)
	prompted := `document.getElementById('identity-prompt').open && document.getElementById('whoami').hidden`

	tb.do(chromedp.Navigate(base + "/?token=" + mallory))
	tb.waitFor("the prompt to switch identity", 5*time.Second, prompted, `document.body.innerText`)
	tb.screenshot(artifactsDir(t), "identity-prompt")
	tb.do(chromedp.Click(chromedp.ID("identity-keep")))
	tb.waitFor("Alice still signed in", 5*time.Second,
		`!document.getElementById('whoami').hidden && document.getElementById('whoami-name').textContent === 'Alice' && `+
			storedIdentityJS+`.user === 'Alice' && !document.getElementById('identity-prompt') && location.search === ''`,
		`[document.body.innerText, localStorage.getItem('watchparty.identity'), location.href]`)

	tb.do(chromedp.Navigate(base + "/?token=" + mallory))
	tb.waitFor("the prompt to switch identity", 5*time.Second, prompted, `document.body.innerText`)
	tb.do(chromedp.Click(chromedp.ID("identity-switch")))
	tb.waitFor("Mallory signed in", 5*time.Second,
		fmt.Sprintf(`document.getElementById('whoami-name').textContent === 'Mallory' && %s.token === %q && location.search === ''`,
			storedIdentityJS, mallory),
		`[document.body.innerText, localStorage.getItem('watchparty.identity'), location.href]`)

	renewed := unsignedToken("mallory", "Mallory", exp+60)
	tb.do(chromedp.Navigate(base + "/?token=" + renewed))
	tb.waitFor("the renewed token taken", 5*time.Second,
		fmt.Sprintf(`!document.getElementById('whoami').hidden && %s.token === %q`, storedIdentityJS, renewed),
		`[document.body.innerText, localStorage.getItem('watchparty.identity')]`)
	var asked bool
	if tb.eval(`!!document.getElementById('identity-prompt')`, &asked); asked {
		t.Fatalf("asked to switch to a renewed token of the same user")
	}
	if p := tb.problems(); len(p) > 0 {
		t.Errorf("uncaught exceptions or dialogs: %q", p)
	}
}

// TestBrowserPartyPageListensToPagehideOnce: a viewer who signs in on the
// party page has one pagehide and one pageshow listener on the window, so
// leaving the page closes the connection once.
func TestBrowserPartyPageListensToPagehideOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	s := sharedSystem(t)
	gw, _ := s.gateway()
	party := s.party("ONGOING", "host")
	tb := newBrowser(t).newTab("viewer", 1280, 860)
	tb.join("http://"+gw+"/p/"+party, "Viewer")
	for _, typ := range []string{"pagehide", "pageshow"} {
		js := fmt.Sprintf(`(getEventListeners(window)[%q] || []).length`, typ)
		if n := value(tb, chromedp.EvaluateAsDevTools[int](js)); n != 1 {
			t.Errorf("%d %s listeners on the window, want 1", n, typ)
		}
	}
}
