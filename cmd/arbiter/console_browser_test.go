package main

// The console in a real headless Chromium (chromedp), against the real
// server wiring (runServer: the API, the embedded Redis and NATS, the
// in-process ledger, the experiment counters), as the demo runs it. Each
// page loads with no console error; the playground's decision follows the
// cart; the experiments page updates after outcomes are posted; the key
// prompt asks once and retries with the key. A screenshot of each page is
// written to $ARBITER_SCREENSHOTS (default console/testdata/screenshots).
//
// The tests skip when no Chromium is found, except under CI (CI set),
// where they fail: .ci/run installs chromium.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/arbiterhq/arbiter/adapters/httpapi"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
)

// chromium finds the browser: $ARBITER_CHROMIUM, else chromium,
// chromium-browser, google-chrome on the PATH. None: the test skips, or
// fails under CI.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ARBITER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (chromium, chromium-browser, google-chrome or $ARBITER_CHROMIUM) and CI is set: .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("no Chromium found (set ARBITER_CHROMIUM or install chromium); the console's browser tests are skipped")
	return ""
}

// screenshotDir is where the pages' screenshots go.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARBITER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "console", "testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots in %s", abs)
	return abs
}

// startConsoleServer runs the server as the demo does (a copy of the
// example rules in rulesDir, 300 generated profiles, embedded Redis and
// NATS) on a free port, with keys (none: no auth), and returns its base
// URL.
func startConsoleServer(t *testing.T, keys []httpapi.APIKey, rulesDir string) string {
	t.Helper()
	var cfg serveConfig
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	newServeFlags(fset, &cfg)
	if err := fset.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.addr = "127.0.0.1:0"
	cfg.noAuth = len(keys) == 0
	copyDir(t, filepath.Join("..", "..", "examples", "checkout"), rulesDir)
	src := rulesSource{dir: rulesDir}
	generated := profilegen.Generate(1, 300, time.Now())
	preload := func() (io.ReadCloser, string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, p := range generated {
			if err := enc.Encode(p); err != nil {
				return nil, "", err
			}
		}
		return io.NopCloser(&b), "the generated profiles", nil
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runServer(ctx, cfg, keys, src, preload, func(info runInfo) { addr <- info.addr },
			stdio{In: strings.NewReader(""), Out: io.Discard, Err: logs}, logger)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case code := <-done:
		t.Fatalf("the server stopped with exit code %d:\n%s", code, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start in 60s:\n%s", logs.String())
	}
	return ""
}

// browser is a headless Chromium tab that records what the page logs as
// an error: console.error calls, uncaught exceptions, and the browser's
// own error entries (failed loads, CSP violations) except those allowed.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	errs     []string
	allow    func(entry string) bool
	expected []string // entries allowed once each (expect)
}

// expect allows one error entry containing s (a refusal the test causes).
func (b *browser) expect(s string) {
	b.mu.Lock()
	b.expected = append(b.expected, s)
	b.mu.Unlock()
}

func newBrowser(t *testing.T, allow func(string) bool) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx, allow: allow}
	// The first run starts the browser (with no deadline: a deadline on it
	// would stop the browser); the console is read from then on.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				where := m.URL
				if where != "" {
					where = fmt.Sprintf(" (%s:%d:%d)", m.URL, m.Line+1, m.Column+1)
				}
				b.record(m.String() + where)
			}
		}
	}()
	return b
}

func (b *browser) record(e string) {
	if b.allow != nil && b.allow(e) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.expected {
		if strings.Contains(e, x) {
			b.expected = append(b.expected[:i], b.expected[i+1:]...)
			return
		}
	}
	b.errs = append(b.errs, e)
}

// noErrors fails the test with every error the page logged since the last
// call. The console's messages arrive on their own goroutine: a round trip
// to the page first lets those logged before it in.
func (b *browser) noErrors(t *testing.T, page string) {
	t.Helper()
	b.do(t, "settle", chromedp.Evaluate[chromedp.Void](`0`))
	b.mu.Lock()
	errs := b.errs
	b.errs = nil
	b.mu.Unlock()
	for _, e := range errs {
		t.Errorf("%s page: %s", page, e)
	}
}

// do runs the steps, each bounded by a minute. On failure it says what
// the page shows and logged, and writes its screenshot as failure.png.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	err := chromedp.Do(ctx, steps...)
	if err == nil {
		return
	}
	b.mu.Lock()
	logged := strings.Join(b.errs, "\n  ")
	b.mu.Unlock()
	sctx, scancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer scancel()
	if png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(screenshotDir(t), "failure.png"), png, 0o644)
	}
	shown, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 1500)`))
	t.Fatalf("%s: %v\nthe page shows:\n%s\nthe page logged:\n  %s", what, err, shown, logged)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits, polling in the page, until the expression is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
}

// screenshot writes the viewport (1280×800, what a laptop shows) and the
// whole page.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	view, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	for file, data := range map[string][]byte{name + ".png": view, name + "-full.png": full} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST %s: %v in %s", url, err, b)
	}
	return m
}

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium(t)
	rulesDir := t.TempDir()
	base := startConsoleServer(t, nil, rulesDir)
	dir := screenshotDir(t)
	b := newBrowser(t, nil)

	// "/" redirects to the console; Rules is the first page.
	b.do(t, "rules page",
		chromedp.Navigate(base+"/"),
		waitJS(`document.querySelector('#rules-body[data-loaded="true"] #offers-table tbody tr') !== null`),
		waitJS(`document.querySelector('#ruleset-badge code') !== null`),
	)
	if loc := eval[string](t, b, `location.pathname + location.hash`); loc != "/ui/#/rules" {
		t.Errorf("/ led to %s, want /ui/#/rules", loc)
	}
	offers := eval[int](t, b, `document.querySelectorAll('#offers-table tbody tr[data-offer]').length`)
	active := eval[int](t, b, `document.querySelectorAll('#offers-table .pill.ok').length`)
	if offers < 10 || active == 0 || active == offers {
		t.Errorf("the rules page shows %d offers, %d active: want the example's offers, some active and some not", offers, active)
	}
	b.screenshot(t, dir, "1-rules")
	// The search narrows the offers.
	b.do(t, "rules search",
		chromedp.SendKeys(chromedp.CSS(`#rules-search`), "winback"),
		waitJS(`document.querySelectorAll('#offers-table tbody tr[data-offer]').length === 1`),
	)
	// The discounts as written: app_first_1000's amount per currency
	// ({USD: 10, EUR: 9, GBP: 8}), and a tier of percent (spend_and_save's
	// first tier made 10%, in the answer on its way to the page). And the
	// ledger down (GET /v1/budgets answers 503, as with Redis down): the
	// Budget column says so, rather than "–" as for an offer with no budget.
	b.do(t, "rules: discounts as written",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch;
			window.fetch = async (url, init) => {
				if (String(url).endsWith('/v1/budgets')) {
					return new Response(JSON.stringify({error: {code: 'ledger_unavailable', message: 'the ledger (Redis) did not answer in time; retry, and see /readyz'}}), {status: 503, headers: {'Content-Type': 'application/json'}});
				}
				const res = await real(url, init);
				if (!String(url).endsWith('/v1/rules') || !res.ok) return res;
				const r = await res.json();
				for (const o of r.offers) if (o.id === 'spend_and_save') o.discount.tiers[0] = {min_total: 100, percent: 10};
				return new Response(JSON.stringify(r), {status: res.status, headers: res.headers});
			};
			window.__realFetch = real;
			window.dispatchEvent(new HashChangeEvent('hashchange'));
		})()`),
		waitJS(`document.querySelector('#rules-body[data-loaded="true"] tr[data-offer="spend_and_save"]') !== null`),
		chromedp.Evaluate[chromedp.Void](`window.fetch = window.__realFetch`),
	)
	discounts := eval[map[string]string](t, b, `Object.fromEntries(Array.from(document.querySelectorAll('#offers-table tr[data-offer]')).map((tr) => [tr.dataset.offer, tr.children[4].textContent.replace(/\s+/g, ' ').trim()]))`)
	if d := discounts["spend_and_save"]; !strings.Contains(d, "10% from $100.00") || strings.Contains(d, "$10.00%") {
		t.Errorf("a tier of 10%% from $100 shows as %q", d)
	}
	if d := discounts["app_first_1000"]; !strings.Contains(d, "$10.00") || !strings.Contains(d, "€9.00") || !strings.Contains(d, "£8.00") {
		t.Errorf("an amount of {USD: 10, EUR: 9, GBP: 8} shows as %q: the amounts in euros and pounds are missing", d)
	}
	if budget := eval[string](t, b, `document.querySelector('#offers-table tr[data-offer="winback_20"] td.budget-cell').textContent`); !strings.Contains(budget, "unavailable") {
		t.Errorf("with GET /v1/budgets failing, winback_20's budget (10,000) shows %q: as if it had none", budget)
	}
	b.noErrors(t, "rules")

	// Playground: load a stored profile by id; the decision follows the cart.
	b.do(t, "playground",
		chromedp.Navigate(base+"/ui/#/playground"),
		waitJS(`document.querySelector('#decision[data-state="ok"]') !== null`),
		chromedp.SendKeys(chromedp.CSS(`#pg-customer`), "c-000004"),
		chromedp.Click(chromedp.CSS(`#pg-load`)),
		waitJS(`document.querySelector('#pg-profile').value.includes('"c-000004"')`),
		waitJS(`document.querySelector('#decision[data-state="ok"]') !== null && document.querySelector('#decision').textContent.includes('c-000004')`),
	)
	before := eval[string](t, b, `document.querySelector('#decision').dataset.signature`)
	b.screenshot(t, dir, "2-playground")
	// 16 pairs of shoes instead of 2: the decision changes.
	b.do(t, "playground: change the cart",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const q = document.querySelector('#pg-items tbody tr:first-child input[data-k="quantity"]');
			q.focus(); q.value = '16'; q.dispatchEvent(new Event('input', {bubbles: true}));
		})()`),
		waitJS(fmt.Sprintf(`document.querySelector('#decision').dataset.signature !== %q`, before)),
	)
	after := eval[string](t, b, `document.querySelector('#decision').dataset.signature`)
	if after == before {
		t.Errorf("the playground's decision did not change with the cart: %s", after)
	}
	t.Logf("playground, c-000004: 2 pairs of shoes %s; 16 pairs %s", before, after)
	b.screenshot(t, dir, "2-playground-big-cart")
	// The Why table fits its card at 1280×800: a long reason (this cart
	// puts shoes_buy2_get1 over the discount guardrail) wraps, rather than
	// push the Score column out of sight behind a scroll bar.
	whyFits := `(() => { const w = document.querySelector('#explain-table').closest('.table-wrap'); return w.scrollWidth <= w.clientWidth; })()`
	if !eval[bool](t, b, whyFits) {
		t.Errorf("the Why table is wider than its card: the Score column is out of sight (%s)",
			eval[string](t, b, `(() => { const w = document.querySelector('#explain-table').closest('.table-wrap'); return w.scrollWidth + 'px in ' + w.clientWidth + 'px'; })()`))
	}
	// The Why column says every reason the engine gives in words, and
	// colours those of an eligible offer that lost (its group, a cap, the
	// budget) as a warning: a decision whose explain holds one offer per
	// reason, the real answer with its offers replaced on the way.
	reasons := engineReasons(t)
	list, _ := json.Marshal(reasons)
	b.do(t, "playground: every reason in the Why column",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch;
			window.__realFetch = real;
			window.fetch = async (url, init) => {
				const res = await real(url, init);
				if (!String(url).includes('/v1/decide') || !res.ok) return res;
				const d = await res.json();
				d.explain.offers = `+string(list)+`.map((r) => ({id: 'why_' + r, chosen: false, reason: r}));
				// A rule error says where (the engine's file:line:col), and an
				// offer a variant changed says which.
				for (const o of d.explain.offers) {
					if (o.reason === 'error') o.error = 'offers/why.yaml:7:11: division by zero';
					if (o.reason === 'when') o.variant = 'why_exp/why_variant';
				}
				d.explain.segments = [{id: 'why_broken', matched: false, error: 'segments/why.yaml:3:9: profile.ltv is not a number'}];
				return new Response(JSON.stringify(d), {status: res.status, headers: res.headers});
			};
			const q = document.querySelector('#pg-items tbody tr:first-child input[data-k="quantity"]');
			q.focus(); q.value = '3'; q.dispatchEvent(new Event('input', {bubbles: true}));
		})()`),
		waitJS(`Array.from(document.querySelectorAll('#explain-table code')).some((c) => c.textContent.startsWith('why_'))`),
	)
	type why struct{ ID, Text, Class string }
	shown := eval[[]why](t, b, `Array.from(document.querySelectorAll('#explain-table tbody tr')).map((tr) => {
		const p = tr.querySelector('.why-result .pill');
		return {ID: tr.querySelector('code').textContent, Text: p ? p.textContent : '', Class: p ? p.className : ''};
	})`)
	byID := map[string]why{}
	for _, w := range shown {
		byID[w.ID] = w
	}
	warn := map[string]bool{engine.ReasonGroup: true, engine.ReasonCapPerCustomer: true, engine.ReasonCapTotal: true, engine.ReasonBudget: true}
	for _, r := range reasons {
		w, ok := byID["why_"+r]
		switch {
		case !ok:
			t.Errorf("reason %s: no row in the Why column (rows: %v)", r, shown)
		case w.Text == "" || w.Text == r || w.Text == "not chosen":
			t.Errorf("reason %s: the Why column shows %q; give it words in REASONS (console/assets/pages/playground.js)", r, w.Text)
		case warn[r] != strings.Contains(w.Class, "warn"):
			t.Errorf("reason %s (%q): its pill's class is %q; the warn colour is for group, cap_per_customer, cap_total and budget", r, w.Text, w.Class)
		}
	}
	if !eval[bool](t, b, whyFits) {
		t.Error("with every reason shown, the Why table is wider than its card: the Score column is out of sight")
	}
	shownText := eval[string](t, b, `document.querySelector('#decision').textContent`)
	for _, want := range []string{"offers/why.yaml:7:11: division by zero", "why_exp/why_variant", "segments/why.yaml:3:9: profile.ltv is not a number"} {
		if !strings.Contains(shownText, want) {
			t.Errorf("the decision does not show %q from its explain: a marketer cannot see what failed, or where", want)
		}
	}
	b.do(t, "playground: the real answers again",
		chromedp.Evaluate[chromedp.Void](`window.fetch = window.__realFetch`))
	// A cart in a currency the rules have no rate for: the offers whose
	// condition reads cart.total_base fail, and the Why column says where
	// (the explain's error, file:line:col), not only that they failed.
	b.do(t, "playground: a cart in Swiss francs",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const c = document.querySelector('#pg-currency');
			c.value = 'CHF'; c.dispatchEvent(new Event('input', {bubbles: true}));
		})()`),
		waitJS(`document.querySelector('#decision[data-state="ok"]') !== null && document.querySelector('#decision').textContent.includes('CHF')`),
	)
	if got := eval[string](t, b, `Array.from(document.querySelectorAll('#explain-table tbody tr')).map((tr) => tr.textContent.replace(/\s+/g, ' ')).join('\n')`); !regexp.MustCompile(`\.yaml:\d+:\d+`).MatchString(got) {
		t.Errorf("with a cart in CHF (no rate), the Why column names no file:line:col of the failing expressions:\n%s", got)
	}

	// A price emptied (or not a number, such as 12,50, which a number field
	// reads as empty) is not a price of 0: the page names the item's price.
	setPrice := func(v string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const p = document.querySelector('#pg-items tbody tr:first-child input[data-k="price"]');
			p.focus(); p.value = %q; p.dispatchEvent(new Event('input', {bubbles: true}));
		})()`, v))
	}
	b.do(t, "playground: a price emptied",
		setPrice(""),
		waitJS(`document.querySelector('#decision-error') !== null`),
	)
	if refusal := eval[string](t, b, `document.querySelector('#decision-error').textContent`); !strings.Contains(refusal, "cart.items[0].price") {
		t.Errorf("a cart item with no price shows %q, want the path cart.items[0].price", refusal)
	}
	b.do(t, "playground: the price again",
		setPrice("60.25"),
		waitJS(`document.querySelector('#decision[data-state="ok"]') !== null`),
	)

	// A bad profile value is refused with its JSON path, in the page (the
	// browser logs the 400).
	b.expect("status of 400")
	b.do(t, "playground: a bad profile",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const p = document.querySelector('#pg-profile');
			const m = JSON.parse(p.value); m.orders = 'many';
			p.value = JSON.stringify(m, null, 2); p.dispatchEvent(new Event('input', {bubbles: true}));
		})()`),
		waitJS(`document.querySelector('#decision-error') !== null`),
	)
	if refusal := eval[string](t, b, `document.querySelector('#decision-error').textContent`); !strings.Contains(refusal, "profile.orders") {
		t.Errorf("a profile with orders: \"many\" shows %q, want the path profile.orders", refusal)
	}
	b.noErrors(t, "playground")

	// Experiments: live, updated after outcomes are posted.
	sumConversions := `Array.from(document.querySelectorAll('[data-exp] td.conversions')).reduce((s, td) => s + Number(td.textContent.replace(/,/g, '')), 0)`
	b.do(t, "experiments page",
		chromedp.Navigate(base+"/ui/#/experiments"),
		waitJS(`document.querySelector('[data-exp] td.conversions') !== null`),
	)
	conv0 := eval[int](t, b, sumConversions)
	cart := `"cart":{"currency":"USD","items":[{"sku":"SHOE-1","category":"shoes","price":60.25,"quantity":2}]}`
	for i := 1; i <= 80; i++ {
		id := fmt.Sprintf("c-%06d", i)
		d := postJSON(t, base+"/v1/decide", fmt.Sprintf(`{"customer_id":%q,"placement":"checkout",%s}`, id, cart))
		if i%2 == 0 {
			postJSON(t, base+"/v1/outcomes", fmt.Sprintf(`{"decision_id":%q,"customer_id":%q,"type":"converted","value":120.5,"currency":"USD"}`, d["decision_id"], id))
		}
	}
	b.do(t, "experiments page: live update",
		waitJS(sumConversions+` > `+fmt.Sprint(conv0)),
		waitJS(`document.querySelector('[data-exp] svg.interval rect.ci') !== null`),
	)
	conv1 := eval[int](t, b, sumConversions)
	// What the page redraws every few seconds is not in a live region: a
	// screen reader would read every table out again at each refresh.
	if live := eval[string](t, b, `(() => { const l = document.querySelector('#exp-body').closest('[aria-live]'); return l ? l.tagName + '#' + l.id : ''; })()`); live != "" {
		t.Errorf("the experiments' tables, redrawn every 3 seconds, are inside the live region %s", live)
	}
	t.Logf("experiments: the conversions shown went from %d to %d without a reload", conv0, conv1)
	b.screenshot(t, dir, "3-experiments")
	b.noErrors(t, "experiments")

	// Budgets and learning.
	b.do(t, "budgets page",
		chromedp.Navigate(base+"/ui/#/budgets"),
		waitJS(`document.querySelector('#bl-body[data-loaded="true"] #budgets tbody tr[data-offer]') !== null`),
		waitJS(`document.querySelector('#learning') !== null`),
	)
	b.screenshot(t, dir, "4-budgets-learning")
	b.noErrors(t, "budgets and learning")

	// A reload that fails: the Rules page shows the error with
	// file:line:col, and the ruleset in force still serves.
	welcome := filepath.Join(rulesDir, "offers", "welcome.yaml")
	src, err := os.ReadFile(welcome)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), "segments: [new_customer]")
	if i < 0 {
		t.Fatal("offers/welcome.yaml no longer has segments: [new_customer]; change the test's typo")
	}
	line := 1 + strings.Count(string(src[:i]), "\n")
	broken := strings.Replace(string(src), "segments: [new_customer]", "segments: [new_custmer]", 1)
	if err := os.WriteFile(welcome, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(base+"/v1/rules/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("reloading broken rules: %d, want 422", res.StatusCode)
	}
	b.do(t, "rules page with the reload error",
		chromedp.Navigate(base+"/ui/#/rules"),
		waitJS(`document.querySelector('#reload-error') !== null && document.querySelector('#offers-table') !== null`),
	)
	where := fmt.Sprintf("offers/welcome.yaml:%d:", line)
	if shown := eval[string](t, b, `document.querySelector('#reload-error').textContent`); !strings.Contains(shown, where) || !strings.Contains(shown, "new_custmer") {
		t.Errorf("the reload error shows %q, want %sCOL and the unknown segment", shown, where)
	}
	b.screenshot(t, dir, "5-rules-reload-error")
	b.noErrors(t, "rules with a reload error")
}

// engineReasons reads the explain reasons the engine gives, the string
// constants Reason* of engine/api.go, so that a reason added there is
// checked in the console without a change here.
func engineReasons(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "engine", "api.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i >= len(vs.Values) {
				break
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "Reason") && lit.Kind == token.STRING {
				r, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, r)
			}
		}
		return false
	})
	if len(out) < 15 || !slices.Contains(out, engine.ReasonCapTotal) {
		t.Fatalf("engine/api.go: found the reasons %v; has the Reason* block moved?", out)
	}
	return out
}

func TestConsoleAsksForKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium(t)
	const key = "k-console-test-1"
	// A key with scope read only: what the console needs.
	base := startConsoleServer(t, []httpapi.APIKey{{Key: key, Scopes: httpapi.ScopeRead}}, t.TempDir())
	dir := screenshotDir(t)
	// The 401s that make the console ask are expected; nothing else is.
	b := newBrowser(t, func(e string) bool { return strings.Contains(e, "status of 401") })

	// The assets need no key.
	res, err := http.Get(base + "/ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/app.js with keys configured: %d, want 200 (the assets need no key)", res.StatusCode)
	}
	b.do(t, "the key prompt",
		chromedp.Navigate(base+"/ui/#/rules"),
		waitJS(`document.querySelector('#key-dialog').open`),
	)
	b.screenshot(t, dir, "0-key-prompt")
	// A wrong key is refused and asked for again; the right one is kept
	// for the tab and sent as Bearer (the rules load).
	b.do(t, "a wrong key",
		chromedp.SendKeys(chromedp.CSS(`#key-input`), "not-the-key"),
		chromedp.Click(chromedp.CSS(`#key-submit`)),
		waitJS(`document.querySelector('#key-dialog').open && !document.querySelector('#key-error').hidden`),
	)
	b.do(t, "the right key",
		chromedp.SendKeys(chromedp.CSS(`#key-input`), key),
		chromedp.Click(chromedp.CSS(`#key-submit`)),
		waitJS(`document.querySelector('#rules-body[data-loaded="true"] #offers-table') !== null`),
		waitJS(`!document.querySelector('#key-dialog').open`),
	)
	if stored := eval[string](t, b, `sessionStorage.getItem('arbiter.apiKey')`); stored != key {
		t.Errorf("sessionStorage holds %q, want the key", stored)
	}
	// Other pages use the kept key without asking again.
	b.do(t, "the key is kept",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/budgets'`),
		waitJS(`document.querySelector('#bl-body[data-loaded="true"] #budgets') !== null`),
	)
	if eval[bool](t, b, `document.querySelector('#key-dialog').open`) {
		t.Error("the console asked for the key again on another page")
	}
	if local := eval[string](t, b, `JSON.stringify(Object.keys(localStorage))`); local != "[]" {
		t.Errorf("localStorage holds %s: the key must stay in the tab (sessionStorage)", local)
	}
	b.noErrors(t, "key prompt")

	// Escape closes the dialog (the browser does it): the console takes it
	// as Cancel, rather than wait for ever for a key no dialog asks for.
	b.do(t, "escape the prompt",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`),
		chromedp.Reload(),
		waitJS(`document.querySelector('#key-dialog').open`),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#key-dialog').open`),
	)
	b.do(t, "the prompt escaped is as cancelled",
		waitJS(`!document.querySelector('#enter-key').hidden && document.querySelector('#page .banner.bad') !== null`),
	)
	b.do(t, "enter the key after the escape",
		chromedp.Click(chromedp.CSS(`#enter-key`)),
		waitJS(`document.querySelector('#key-dialog').open`),
		chromedp.SendKeys(chromedp.CSS(`#key-input`), key),
		chromedp.Click(chromedp.CSS(`#key-submit`)),
		waitJS(`document.querySelector('#bl-body[data-loaded="true"] #budgets') !== null`),
	)

	// Cancelled, the prompt stays away (the pages refresh every few
	// seconds) until "Enter API key".
	b.do(t, "cancel the prompt",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`),
		chromedp.Reload(),
		waitJS(`document.querySelector('#key-dialog').open`),
		chromedp.Click(chromedp.CSS(`#key-cancel`)),
		waitJS(`!document.querySelector('#enter-key').hidden && document.querySelector('#bl-body .banner.bad') !== null`),
	)
	if eval[bool](t, b, `document.querySelector('#key-dialog').open`) {
		t.Error("the console asked for the key again after Cancel")
	}
	b.do(t, "enter the key after all",
		chromedp.Click(chromedp.CSS(`#enter-key`)),
		waitJS(`document.querySelector('#key-dialog').open`),
		chromedp.SendKeys(chromedp.CSS(`#key-input`), key),
		chromedp.Click(chromedp.CSS(`#key-submit`)),
		waitJS(`document.querySelector('#bl-body[data-loaded="true"] #budgets') !== null`),
	)
	b.noErrors(t, "key prompt, cancelled")
}
