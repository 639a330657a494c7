package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// msgJS is the chat message element whose text is text.
func msgJS(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#messages li.msg')].find(li => li.querySelector('.text') && li.querySelector('.text').textContent === %q)`, text)
}

// moderate takes action (a data-action: delete, mute-600, kick, ban, …)
// from the menu of the message text.
func (tb *tab) moderate(text, action string) {
	tb.t.Helper()
	button := fmt.Sprintf(`%s.querySelector('.mod-actions button[data-action=%q]')`, msgJS(text), action)
	tb.waitFor(fmt.Sprintf("the %s action on %q", action, text), 5*time.Second, button, chatJS)
	tb.eval(fmt.Sprintf(`(() => { const b = %s; b.closest('details').open = true; b.click(); return true; })()`, button), nil)
}

// moderateByKeyboard takes action on the message text with the keyboard
// alone: focus the menu, Enter opens it, Tab to the action, Enter.
func (tb *tab) moderateByKeyboard(text, action string) {
	tb.t.Helper()
	button := fmt.Sprintf(`%s.querySelector('.mod-actions button[data-action=%q]')`, msgJS(text), action)
	tb.waitFor(fmt.Sprintf("the %s action on %q", action, text), 5*time.Second, button, chatJS)
	var open bool
	tb.eval(fmt.Sprintf(`(() => { const d = %s.querySelector('.mod-actions'); d.querySelector('summary').focus(); return d.open; })()`, msgJS(text)), &open)
	if !open {
		tb.do(chromedp.KeyEvent(kb.Enter))
	}
	for range 10 {
		var on bool
		tb.eval(fmt.Sprintf(`document.activeElement === %s`, button), &on)
		if on {
			tb.do(chromedp.KeyEvent(kb.Enter))
			return
		}
		tb.do(chromedp.KeyEvent(kb.Tab))
	}
	tb.t.Fatalf("%s: the %s action on %q is not reachable with Tab", tb.name, action, text)
}

const modPanelJS = `(() => { const p = document.getElementById('mod-panel'); return {hidden: p.hidden,
	mods: [...document.querySelectorAll('#mod-mods li:not(.empty) span')].map(s => s.textContent),
	banned: [...document.querySelectorAll('#mod-banned li:not(.empty) span')].map(s => s.textContent),
	muted: [...document.querySelectorAll('#mod-muted li:not(.empty) span')].map(s => s.textContent)}; })()`

// TestBrowserModeration: the host appoints a moderator from the chat; the
// moderator deletes a chat (gone for everyone), is refused acting on
// another moderator, and mutes a viewer (whose next chat is marked
// refused); the host bans the viewer, whose page says so and stays away,
// then unbans from the moderation panel, and the viewer joins again.
// Viewers see no controls.
func TestBrowserModeration(t *testing.T) {
	gw, base := browserSystem(t)
	artifacts := artifactsDir(t)
	link := base + "/p/" + startParty(t, gw, "Host", base+"/media/sample.webm")
	br := newBrowser(t)
	// The host signs in on the home page; axe-core checks it before and after.
	host := br.newTab("host", 1280, 900)
	host.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("identity-form")))
	host.checkAccessibility("the home page's sign-in")
	host.do(chromedp.SendKeys(chromedp.ID("name"), "Host"), chromedp.Click(chromedp.CSS("#identity-form button")),
		chromedp.WaitVisible(chromedp.ID("create-form")))
	host.checkAccessibility("the home page")
	host.do(chromedp.Navigate(link))
	host.waitLive()
	mod := br.newTab("mod", 1280, 900)
	mod.join(link, "Mod")
	viewer := br.newTab("viewer", 390, 844)
	viewer.join(link, "Viewer")
	all := []*tab{host, mod, viewer}

	host.waitFor("the host's panel", 5*time.Second, `!document.getElementById('mod-panel').hidden`, modPanelJS)
	mod.say("mod here")
	viewer.say("spam one")
	for _, tb := range all {
		tb.waitChat("Viewer", "spam one")
		tb.waitChat("Mod", "mod here")
	}
	for _, tb := range []*tab{mod, viewer} {
		var n int
		tb.eval(`document.querySelectorAll('.mod-actions').length + (document.getElementById('mod-panel').hidden ? 0 : 1)`, &n)
		if n != 0 {
			t.Fatalf("%s sees moderation controls before being a moderator", tb.name)
		}
	}

	// The host appoints Mod from Mod's message, with the keyboard.
	host.moderateByKeyboard("mod here", "moderator_add")
	mod.waitFor("the moderator's panel", 5*time.Second, `!document.getElementById('mod-panel').hidden`, modPanelJS)
	host.waitFor("Mod in the host's list", 5*time.Second, `(`+modPanelJS+`).mods.includes('Mod')`, modPanelJS)

	// A moderator who loads the page again learns its role from the welcome.
	mod.do(chromedp.Reload())
	mod.waitLive()
	mod.waitFor("the moderator's panel after a reload", 5*time.Second, `!document.getElementById('mod-panel').hidden`, modPanelJS)
	mod.waitChat("Viewer", "spam one")
	mod.screenshot(artifacts, "party-moderator-reloaded")

	// Mod deletes the viewer's chat: gone everywhere.
	mod.moderate("spam one", "delete")
	for _, tb := range all {
		tb.waitFor("the deleted chat to go", 5*time.Second, `!(`+chatJS+`).some(m => m.text === 'spam one')`, chatJS)
	}

	// A moderator may not act on another moderator: the refusal is shown.
	viewer.say("spam two")
	host.moderate("spam two", "moderator_add")
	viewer.waitFor("the viewer's panel", 5*time.Second, `!document.getElementById('mod-panel').hidden`, modPanelJS)
	mod.moderate("spam two", "mute-600")
	mod.waitFor("the refusal", 5*time.Second,
		`[...document.querySelectorAll('#messages li.refused')].some(li => li.textContent.includes('mute Viewer') && li.textContent.includes('not allowed'))`,
		`document.getElementById('messages').innerText`)
	host.moderate("spam two", "moderator_remove")
	viewer.waitFor("the viewer's controls to go", 5*time.Second,
		`document.getElementById('mod-panel').hidden && !document.querySelector('.mod-actions')`, modPanelJS)

	// Mod mutes the viewer for 10 minutes: the viewer's next chat is refused.
	mod.moderate("spam two", "mute-600")
	for _, tb := range all {
		tb.waitFor("the mute notice", 5*time.Second,
			`[...document.querySelectorAll('#messages li.system')].some(li => li.textContent.startsWith('Viewer is muted until'))`, "")
	}
	host.waitFor("Viewer in the muted list", 5*time.Second, `(`+modPanelJS+`).muted.some(m => m.startsWith('Viewer until'))`, modPanelJS)
	viewer.say("am I muted")
	viewer.waitFor("the chat marked refused", 5*time.Second,
		`(`+chatJS+`).some(m => m.text === 'am I muted' && m.failed) && `+msgJS("am I muted")+`.querySelector('.note').textContent.includes('muted')`, chatJS)

	// The host bans the viewer: banned banner, and no reconnection.
	host.moderate("spam two", "ban")
	viewer.waitFor("the banned banner", 5*time.Second,
		`document.getElementById('banner').textContent.includes('banned') && document.getElementById('conn').dataset.state === 'removed'`,
		`document.body.innerText`)
	host.waitFor("2 viewers", 5*time.Second, `document.getElementById('viewers').textContent === '2'`, `document.getElementById('viewers').textContent`)
	host.waitFor("Viewer in the banned list", 5*time.Second, `(`+modPanelJS+`).banned.includes('Viewer')`, modPanelJS)
	host.eval(`(`+msgJS("mod here")+`.querySelector('details').open = true, true)`, nil)
	host.checkAccessibility("the host's party page, a message's actions open")
	host.screenshot(artifacts, "party-host-moderation")
	host.eval(`(`+msgJS("mod here")+`.querySelector('details').open = false, true)`, nil)
	mod.checkAccessibility("a moderator's party page")
	viewer.checkAccessibility("a banned viewer's phone")
	for until := time.Now().Add(1500 * time.Millisecond); time.Now().Before(until); time.Sleep(100 * time.Millisecond) {
		if st := viewer.text("#conn"); st != "Removed" {
			t.Fatalf("the banned viewer's page went on to %q", st)
		}
	}

	// The host unbans from the panel; the viewer joins again.
	host.do(chromedp.Click(chromedp.CSS(`#mod-banned button[data-action=unban][data-user=Viewer]`)))
	host.waitFor("the banned list to empty", 5*time.Second, `(`+modPanelJS+`).banned.length === 0`, modPanelJS)
	viewer.do(chromedp.Click(chromedp.ID("rejoin")))
	viewer.waitLive()
	host.waitFor("3 viewers", 5*time.Second, `document.getElementById('viewers').textContent === '3'`, `document.getElementById('viewers').textContent`)

	for _, tb := range all {
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("%s: uncaught exceptions or dialogs: %q", tb.name, p)
		}
	}
}
