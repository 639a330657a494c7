package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian installs Chromium; CHROMIUM overrides it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		// Not a skip: the browser tests are part of the suite.
		t.Fatalf("the browser tests need Chromium at %s (set CHROMIUM to another path): %v; "+
			"install it with `apt-get install -y chromium` (scripts/deps.sh does)", path, err)
	}
	return path
}

// browser is one headless Chromium process; each tab opened with newTab
// has a browser context of its own (its own storage and connections), so
// tabs are independent viewers.
type browser struct {
	t   testing.TB
	ctx context.Context
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // as root Chromium refuses to start with its sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 860),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &browser{t: t, ctx: ctx}
}

// tab is one page in a browser context of its own. It records uncaught
// exceptions and dialogs (alert, confirm) so a test can assert there were
// none.
type tab struct {
	t     testing.TB
	name  string
	ctx   context.Context
	close context.CancelFunc // closes the tab

	mu         sync.Mutex
	exceptions []string
	dialogs    []string
}

func (b *browser) newTab(name string, width, height int64) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	tb := &tab{t: b.t, name: name, ctx: ctx, close: cancel}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		b.t.Fatalf("%s: open tab: %v", name, err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.mu.Lock()
			tb.exceptions = append(tb.exceptions, msg)
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
				continue
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			b.t.Logf("%s console %s: %s", name, ev.Type, strings.Join(parts, " "))
		}
	}()
	tb.do(chromedp.EmulateViewport(width, height))
	return tb
}

// do runs actions with a deadline, failing the test on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v; the page shows: %s", tb.name, err, tb.describe())
	}
}

// value runs an action that returns a value, with a deadline.
func value[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v; the page shows: %s", tb.name, err, tb.describe())
	}
	return v
}

// describe is the page's address and visible text, for failure messages.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
	defer cancel()
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return fmt.Sprintf("%s %q", url, text)
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (tb *tab) eval(js string, out any) {
	tb.t.Helper()
	raw := value(tb, chromedp.Evaluate[[]byte](js))
	if out == nil {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		tb.t.Fatalf("%s: decode %s: %v", tb.name, raw, err)
	}
}

// waitFor evaluates a JavaScript boolean expression every 50 ms until it
// holds, failing the test with what after timeout, and the last value of
// show (an expression describing the state) for the failure message.
func (tb *tab) waitFor(what string, timeout time.Duration, cond, show string) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		// A page still loading may not have the elements yet: false.
		tb.eval("(() => { try { return !!("+cond+"); } catch { return false; } })()", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var state any
			if show != "" {
				tb.eval(show, &state)
			}
			b, _ := json.Marshal(state)
			tb.t.Fatalf("%s: timed out after %v waiting for %s; state: %s", tb.name, timeout, what, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	var s string
	tb.eval(fmt.Sprintf("document.querySelector(%q).textContent", sel), &s)
	return s
}

// screenshot writes the page as name.png to the artifacts directory.
func (tb *tab) screenshot(dir, name string) string {
	tb.t.Helper()
	png := value(tb, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	return path
}

// problems lists uncaught exceptions and dialogs seen in the tab.
func (tb *tab) problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append(append([]string(nil), tb.exceptions...), tb.dialogs...)
}

// artifactsDir is $WP_ARTIFACTS when set (kept after the run), else a
// directory under the test's temporary directory.
func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("WP_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shiftClock makes every later page of the tab see a Date that runs
// shiftMs ahead (negative: behind) of the machine's clock, as on a
// device whose clock is wrong. performance.now() and timeOrigin keep the
// true time, which is what the tests measure positions by.
func (tb *tab) shiftClock(shiftMs int) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => {
	const shift = %d, RealDate = Date;
	class ShiftedDate extends RealDate {
		constructor(...a) { if (a.length === 0) super(RealDate.now() + shift); else super(...a); }
		static now() { return RealDate.now() + shift; }
	}
	globalThis.Date = ShiftedDate;
})();`, shiftMs)
	tb.addInitScript(js)
}

// addInitScript runs js in every later page of the tab before its own
// scripts.
func (tb *tab) addInitScript(js string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		tb.t.Fatalf("%s: add a script to every page: %v", tb.name, err)
	}
}

var axeSource = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "internal", "web", "npm", "node_modules", "axe-core", "axe.min.js"))
})

// axeViolation is one rule axe-core found broken, with the elements.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// checkAccessibility runs axe-core (pinned in internal/web/npm, installed by
// scripts/deps.sh) on the tab's page as it is now and fails the test on
// any serious or critical violation; lesser ones are logged.
func (tb *tab) checkAccessibility(what string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatalf("axe-core is not installed (run scripts/deps.sh; it runs npm ci in internal/web/npm): %v", err)
	}
	// Through DevTools, which the page's Content-Security-Policy does not govern.
	tb.eval("(() => { "+string(src)+"\n; return true; })()", nil)
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](
		`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: axe-core on %s: %v", tb.name, what, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal(raw, &vs); err != nil {
		tb.t.Fatalf("%s: axe-core's answer: %v", tb.name, err)
	}
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target)+" "+n.HTML)
		}
		msg := fmt.Sprintf("%s: %s: axe-core %s (%s): %s\n\t%s", tb.name, what, v.ID, v.Impact, v.Help, strings.Join(where, "\n\t"))
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Error(msg)
		} else {
			tb.t.Log(msg)
		}
	}
}

// browserSystem skips the test with -short; else it starts a system for a
// browser to drive: a gateway with the extra settings and a flusher whose
// scheduler looks every 300 ms. It returns the gateway's address and base
// URL.
func browserSystem(t *testing.T, extra ...string) (gw, base string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	s := sharedSystem(t)
	gw, _ = s.gateway(extra...)
	s.flusher("WATCH_PARTY_SCHEDULER_INTERVAL=300ms")
	return gw, "http://" + gw
}
