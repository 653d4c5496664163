package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleShowsMarkupAsText: what marketers write in the rules (an
// offer's title and message, a segment's description, a reload's error)
// and what a caller sends (a customer id) is shown as text, never read as
// HTML: the pages build their tables with innerHTML, so a value that
// escaped esc() would put an element (and, but for the CSP, a script)
// into the page of whoever opens the console, with their API key in the
// tab's sessionStorage.
func TestConsoleShowsMarkupAsText(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium(t)
	rulesDir := t.TempDir()
	base := startConsoleServer(t, nil, rulesDir)
	b := newBrowser(t, nil)

	const (
		title   = `<img id="xss-title" src="x">`
		message = `<b id="xss-message">bold</b> & "quoted" 'single'`
		descr   = `<svg id="xss-descr"></svg>`
		typo    = `<i id="xss-error">x</i>`
		custID  = `<img id="xss-customer" src=x>`
	)
	edit := func(file, old, new string) {
		t.Helper()
		path := filepath.Join(rulesDir, file)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), old) {
			t.Fatalf("%s no longer has %q; change the test", file, old)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reload := func(want int) {
		t.Helper()
		res, err := http.Post(base+"/v1/rules/reload", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("reload: %d, want %d", res.StatusCode, want)
		}
	}
	edit("offers/welcome.yaml", "title: Welcome! {{percent}}% off your first order", "title: '"+title+"'")
	edit("offers/welcome.yaml", "message: Your first order with us is {{percent}}% off - you save {{amount}} {{currency}}", "message: '"+strings.ReplaceAll(message, "'", "''")+"'")
	edit("segments/behaviour.yaml", "description: Shoes are among their top categories", "description: '"+descr+"'")
	reload(http.StatusOK)
	// A reload that fails on a segment name with markup in it: its error
	// quotes the name.
	edit("offers/welcome.yaml", "segments: [new_customer]", "segments: ['"+typo+"']")
	reload(http.StatusUnprocessableEntity)

	const injected = `document.querySelectorAll('#xss-title, #xss-message, #xss-descr, #xss-error, #xss-customer').length`
	b.do(t, "rules page",
		chromedp.Navigate(base+"/ui/#/rules"),
		waitJS(`document.querySelector('#reload-error') !== null && document.querySelector('#offers-table tr[data-offer="welcome_10"]') !== null`),
	)
	if n := eval[int](t, b, injected); n != 0 {
		t.Errorf("the rules page made %d elements of the rules' text", n)
	}
	row := eval[string](t, b, `document.querySelector('#offers-table tr[data-offer="welcome_10"]').textContent`)
	if !strings.Contains(row, title) {
		t.Errorf("the offer's title is not shown as written: %q", row)
	}
	if shown := eval[string](t, b, `document.querySelector('#segments-table').textContent`); !strings.Contains(shown, descr) {
		t.Errorf("the segment's description is not shown as written")
	}
	if shown := eval[string](t, b, `document.querySelector('#reload-error').textContent`); !strings.Contains(shown, typo) {
		t.Errorf("the reload error is not shown as written: %q", shown)
	}
	b.noErrors(t, "rules")

	// The playground: a customer id with markup, whose decision shows the
	// welcome offer's title and message (an unknown customer is new).
	b.do(t, "playground",
		chromedp.Navigate(base+"/ui/#/playground"),
		waitJS(`document.querySelector('#decision[data-state="ok"]') !== null`),
		chromedp.SendKeys(chromedp.CSS(`#pg-customer`), custID),
		waitJS(`document.querySelector('#decision[data-state="ok"]') !== null && document.querySelector('#decision').textContent.includes('xss-customer')`),
	)
	if n := eval[int](t, b, injected); n != 0 {
		t.Errorf("the playground made %d elements of a customer id or the offers' text", n)
	}
	if shown := eval[string](t, b, `document.querySelector('#decision').textContent`); !strings.Contains(shown, custID) {
		t.Errorf("the customer id is not shown as written: %.500q", shown)
	}
	b.noErrors(t, "playground")
}
