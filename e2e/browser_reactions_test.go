package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// watchFloatsJS records in window.floats what the page's reaction overlay
// held: the most floating reactions at once, how many came and went, the
// shortest time one stayed, and the emoji and animation of the last one.
const watchFloatsJS = `(() => {
	const layer = document.getElementById('reaction-layer');
	const born = new WeakMap();
	const w = window.floats = {max: 0, added: 0, removed: 0, minLifeMs: null, emoji: '', animation: ''};
	new MutationObserver((records) => {
		const now = performance.now();
		for (const r of records) {
			for (const n of r.addedNodes) {
				w.added++;
				born.set(n, now);
				w.emoji = n.textContent;
				w.animation = getComputedStyle(n).animationName;
			}
			for (const n of r.removedNodes) {
				w.removed++;
				const life = now - born.get(n);
				if (w.minLifeMs === null || life < w.minLifeMs) w.minLifeMs = life;
			}
		}
		w.max = Math.max(w.max, layer.childElementCount);
	}).observe(layer, {childList: true});
	return true;
})()`

// floats is window.floats, as watchFloatsJS keeps it.
type floats struct {
	Max       int      `json:"max"`
	Added     int      `json:"added"`
	Removed   int      `json:"removed"`
	MinLifeMS *float64 `json:"minLifeMs"`
	Emoji     string   `json:"emoji"`
	Animation string   `json:"animation"`
}

const floatsJS = `Object.assign({}, window.floats, {now: [...document.querySelectorAll('#reaction-layer .float')].map(e => e.textContent)})`

func (tb *tab) floats() floats {
	tb.t.Helper()
	var f floats
	tb.eval(`window.floats`, &f)
	return f
}

// resetFloats starts window.floats afresh once the overlay is empty.
func (tb *tab) resetFloats() {
	tb.t.Helper()
	tb.waitFor("the overlay to empty", 10*time.Second, `document.getElementById('reaction-layer').childElementCount === 0`, floatsJS)
	tb.eval(`(Object.assign(window.floats, {max: 0, added: 0, removed: 0, minLifeMs: null}), true)`, nil)
}

// reactionButton is the reaction bar's button for emoji, found by its
// accessible name.
func reactionButton(emoji string) string {
	return fmt.Sprintf(`#reactions button[aria-label="React with %s"]`, emoji)
}

// floodReactions sends n reactions from each client, all of them before
// reading any answer, and returns how many were acknowledged and how many
// refused as rate_limited; any other answer fails the test.
func floodReactions(t *testing.T, clients []*client, n int) (acked, limited int) {
	t.Helper()
	for _, c := range clients {
		for i := range n {
			c.send(map[string]string{"type": "reaction", "id": fmt.Sprintf("%s-r%d", c.user, i), "emoji": "🔥"})
		}
	}
	for _, c := range clients {
		open := map[string]bool{}
		for i := range n {
			open[fmt.Sprintf("%s-r%d", c.user, i)] = true
		}
		var own int
		for len(open) > 0 {
			f := c.next(15 * time.Second)
			if !open[f.ID] {
				continue
			}
			delete(open, f.ID)
			switch {
			case f.Type == "ack" && f.StreamID != "":
				acked++
				own++
			case f.Type == "error" && f.Code == "rate_limited":
				limited++
			default:
				t.Fatalf("%s: answer to a reaction: %s", c.user, f.Raw)
			}
		}
		if own == 0 || own == n {
			t.Fatalf("%s: %d of %d reactions sent at once accepted; want some but not all", c.user, own, n)
		}
	}
	return acked, limited
}

// TestBrowserReactions: a reaction clicked in one page floats over the
// video in every page of the party, rises, and is gone after its
// animation; the chat shows none. Over the rate limit the sender's page
// says so for a moment under the player; a flood from raw WebSockets is
// refused past the limit, and the page watching it never holds more than
// 40 floating reactions and still gets the chat that follows. With
// reduced motion a reaction fades in place.
func TestBrowserReactions(t *testing.T) {
	gw, base := browserSystem(t)
	artifacts := artifactsDir(t)
	partyID := startParty(t, gw, "Host", base+"/media/sample.webm")
	link := base + "/p/" + partyID
	br := newBrowser(t)
	ann := br.newTab("ann", 1280, 860)
	ann.join(link, "Ann")
	ben := br.newTab("ben", 390, 844)
	ben.join(link, "Ben")
	both := []*tab{ann, ben}
	for _, tb := range both {
		tb.waitFor("the reaction buttons", 5*time.Second,
			`[...document.querySelectorAll('#reactions button')].every(b => !b.disabled)`, `document.getElementById('reactions').outerHTML`)
		tb.eval(watchFloatsJS, nil)
	}

	// Ann clicks 🎉: it floats in both pages, then goes when its animation ends.
	ann.do(chromedp.Click(chromedp.CSS(reactionButton("🎉"))))
	for _, tb := range both {
		tb.waitFor("a floating 🎉", 5*time.Second,
			`[...document.querySelectorAll('#reaction-layer .float')].some(e => e.textContent === '🎉')`, floatsJS)
	}
	ben.checkAccessibility("a phone's party page with a floating reaction")
	for _, tb := range both {
		tb.waitFor("the 🎉 to go", 10*time.Second, `window.floats.removed === 1`, floatsJS)
		f := tb.floats()
		if f.Added != 1 || f.Emoji != "🎉" || f.Animation != "reaction-rise" || f.MinLifeMS == nil || *f.MinLifeMS < 2000 {
			t.Fatalf("%s: the overlay after one 🎉: %+v; want one 🎉 that rose (reaction-rise) for its 2.4 s", tb.name, f)
		}
	}
	ann.say("after the reaction")
	for _, tb := range both {
		tb.waitChat("Ann", "after the reaction")
		assertChat(t, tb, "after the reaction")
	}

	// Ann clicks 🔥 fifteen times at once: past the burst of 10 her page
	// says so under the player, briefly, and the chat stays clean.
	before := ann.text("#control-note")
	ann.eval(fmt.Sprintf(`(() => { const b = document.querySelector(%q); for (let i = 0; i < 15; i++) b.click(); return true; })()`,
		reactionButton("🔥")), nil)
	ann.waitFor("the slow-down note", 5*time.Second,
		`document.getElementById('control-note').textContent.includes('too many reactions')`, `document.getElementById('control-note').textContent`)
	ann.waitFor("the note to come back", 10*time.Second,
		fmt.Sprintf(`document.getElementById('control-note').textContent === %q`, before), `document.getElementById('control-note').textContent`)
	ben.waitFor("Ann's 🔥", 5*time.Second, `window.floats.added > 1 && window.floats.emoji === '🔥'`, floatsJS)
	assertChat(t, ann, "after the reaction")

	// Eight raw clients send 20 reactions each at once: each is refused
	// past its burst, and Ben's page holds at most 40 of what is accepted.
	ben.resetFloats()
	var flooders []*client
	for i := range 8 {
		c := dial(t, gw, partyID, fmt.Sprintf("flooder-%d", i))
		c.nextOf("welcome", 10*time.Second)
		flooders = append(flooders, c)
	}
	acked, limited := floodReactions(t, flooders, 20)
	t.Logf("flood: %d reactions accepted, %d rate_limited", acked, limited)
	ben.waitFor("the flood's reactions", 10*time.Second, fmt.Sprintf(`window.floats.added >= %d`, min(acked, 40)), floatsJS)
	ben.screenshot(artifacts, "party-reactions-flood")
	ben.waitFor("the flood's reactions to go", 10*time.Second,
		`window.floats.added === window.floats.removed && document.getElementById('reaction-layer').childElementCount === 0`, floatsJS)
	f := ben.floats()
	t.Logf("ben's overlay during the flood: %d floating reactions at most, %d shown in all", f.Max, f.Added)
	if f.Max > 40 {
		t.Fatalf("ben: %d floating reactions at once, want at most 40: %+v", f.Max, f)
	} else if acked >= 60 && f.Max != 40 {
		t.Fatalf("ben: at most %d floating reactions at once during a burst of %d; want the cap of 40 reached", f.Max, acked)
	}
	flooders[0].send(map[string]string{"type": "chat", "id": "after-flood", "text": "still here"})
	for _, tb := range both {
		tb.waitChat("flooder-0", "still here")
		assertChat(t, tb, "after the reaction", "still here")
	}

	// With reduced motion, a reaction fades in place instead of rising.
	ctx, cancel := context.WithTimeout(ben.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}); err != nil {
		t.Fatalf("ben: emulate reduced motion: %v", err)
	}
	ben.resetFloats()
	ben.do(chromedp.Click(chromedp.CSS(reactionButton("👍"))))
	ben.waitFor("the 👍 to come and go", 10*time.Second, `window.floats.added === 1 && window.floats.removed === 1`, floatsJS)
	if f := ben.floats(); f.Emoji != "👍" || f.Animation != "reaction-fade" {
		t.Fatalf("ben: with reduced motion the overlay saw %+v; want a 👍 that fades (reaction-fade)", f)
	}

	for _, tb := range both {
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("%s: uncaught exceptions or dialogs: %q", tb.name, p)
		}
	}
}

// assertChat fails unless tb's chat list is exactly texts: no reaction
// and no notice about one.
func assertChat(t *testing.T, tb *tab, texts ...string) {
	t.Helper()
	var got []string
	tb.eval(`[...document.querySelectorAll('#messages li')].map(li => li.classList.contains('system') ? 'system: ' + li.textContent : li.querySelector('.text').textContent)`, &got)
	if fmt.Sprint(got) != fmt.Sprint(texts) {
		t.Fatalf("%s: chat is %q, want %q", tb.name, got, texts)
	}
}
