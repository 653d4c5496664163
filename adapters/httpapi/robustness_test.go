package httpapi

// Robustness of the HTTP layer against careless and hostile clients:
// browsers posting from other sites, oversized headers and bodies,
// compressed bodies.

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestCrossSitePostRefused: a POST a browser marks as coming from another
// site is refused 403, keys or not. Without keys (arbiter demo, --no-auth)
// any web page the operator or a colleague opened could otherwise post
// decisions (holding caps and budgets), outcomes (fake conversions in the
// experiments and learning) and reloads, as a "simple" request (a
// text/plain body or a form: the Content-Type is not checked) that needs
// no CORS preflight. The console (same origin) and clients that are not
// browsers (no Sec-Fetch-Site, no Origin) are let through; so are reads,
// which a browser does not let another site see.
func TestCrossSitePostRefused(t *testing.T) {
	h := newHarness(t, true, nil)
	const body = `{"customer_id":"c-1","placement":"checkout"}`
	cases := []struct {
		name    string
		method  string
		path    string
		headers []string
		refused bool
	}{
		{"server to server", "POST", "/v1/decide", nil, false},
		{"console (same origin)", "POST", "/v1/decide", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://arbiter"}, false},
		{"typed in by the user", "POST", "/v1/decide", []string{"Sec-Fetch-Site", "none"}, false},
		{"another site", "POST", "/v1/decide", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, true},
		{"a sibling site", "POST", "/v1/decide", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://shop.arbiter"}, true},
		{"old browser, other origin", "POST", "/v1/decide", []string{"Origin", "https://evil.example"}, true},
		{"old browser, sandboxed frame", "POST", "/v1/decide", []string{"Origin", "null"}, true},
		{"old browser, same origin", "POST", "/v1/decide", []string{"Origin", "http://arbiter"}, false},
		{"old browser, same origin, host in capitals", "POST", "/v1/decide", []string{"Origin", "http://ARBITER"}, false},
		{"outcomes from another site", "POST", "/v1/outcomes", []string{"Sec-Fetch-Site", "cross-site"}, true},
		{"reload from another site", "POST", "/v1/rules/reload", []string{"Sec-Fetch-Site", "cross-site"}, true},
		{"a read from another site", "GET", "/v1/rules", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := ""
			if tc.method == "POST" {
				b = body
				if tc.path != "/v1/decide" {
					b = "{}"
				}
			}
			r := h.do(tc.method, tc.path, b, tc.headers...)
			if !tc.refused {
				if r.status == 403 {
					t.Fatalf("%s %s: refused: %s", tc.method, tc.path, r.body)
				}
				return
			}
			if r.status != 403 {
				t.Fatalf("%s %s: %d, want 403: %s", tc.method, tc.path, r.status, r.body)
			}
			if code, _ := r.errCode(t); code != "forbidden" {
				t.Errorf("code %q, want forbidden: %s", code, r.body)
			}
		})
	}
	if n := h.engine.calls.Load(); n != 5 {
		t.Errorf("the engine decided %d times, want 5 (the requests let through)", n)
	}
}

// TestHeadersTooLarge: a request whose headers pass the limit (a
// checkout forwarding its cookies or tracing baggage) is 431 with a
// message that says the limit, as docs/api.md does; it said only "the
// request headers are too large", and the docs had no 431.
func TestHeadersTooLarge(t *testing.T) {
	h := newHarness(t, true, nil)
	big := strings.Repeat("a", MaxHeaderBytes)
	r := h.do("POST", "/v1/decide", `{}`, "Baggage", big)
	if r.status != 431 {
		t.Fatalf("%d %s, want 431", r.status, r.body)
	}
	code, _ := r.errCode(t)
	if code != "invalid_request" || !strings.Contains(string(r.body), strconv.Itoa(MaxHeaderBytes)+" bytes") {
		t.Errorf("the answer does not say the limit: %s", r.body)
	}
	if strings.Contains(string(r.body), "aaaa") {
		t.Errorf("the answer echoes the header: %s", r.body)
	}
	// Just under the limit is served.
	if r := h.do("POST", "/v1/decide", `{}`, "Baggage", big[:MaxHeaderBytes-512]); r.status != 200 {
		t.Errorf("headers under the limit: %d %s", r.status, r.body)
	}
}

// TestTooLargeRefusedWhileRead: a body over its route's limit is refused
// 413 while it is read. fasthttp read every body up to the largest limit
// (POST /v1/outcomes's 1 MiB) whatever the route, so anyone, without a
// key, could make the server hold 1 MiB per request on POST /v1/decide
// (limit 64 KiB) or any unknown path; a 5000-byte decide body without a
// key was read whole, then 401. A request refused whatever its body (no
// key, no route) is now answered before its body (TestRefusedBeforeBody);
// these are let through.
func TestTooLargeRefusedWhileRead(t *testing.T) {
	h := newHarness(t, true, func(o *Options) { o.APIKeys = []string{"k"} }) // --max-body 4096
	h.client.WriteBufferSize = 2 * MinOutcomesBody
	for _, c := range []struct {
		method, path string
		size, limit  int
	}{
		{"POST", "/v1/decide", 5000, 4096},
		{"POST", "/v1/decide?x=1", 5000, 4096},
		{"POST", "/v1/decide", MinOutcomesBody + 1000, 4096},
		{"GET", "/healthz", 5000, 4096},
		{"GET", "/v1/rules", 5000, 4096},
		{"POST", "/v1/outcomes", MinOutcomesBody + 1000, MinOutcomesBody},
	} {
		r := h.do(c.method, c.path, strings.Repeat("x", c.size), "Authorization", "Bearer k")
		if r.status != 413 {
			t.Errorf("%s %s with %d bytes, with its key: %d, want 413", c.method, c.path, c.size, r.status)
			continue
		}
		if want := strconv.Itoa(c.limit) + " bytes"; !strings.Contains(string(r.body), want) {
			t.Errorf("%s %s: %s, want the limit %q", c.method, c.path, r.body, want)
		}
	}
	// Without a key, the key is checked first, under the limit or over it.
	for _, size := range []int{5000, MinOutcomesBody + 1000} {
		if r := h.do("POST", "/v1/outcomes", strings.Repeat("x", size)); r.status != 401 {
			t.Errorf("POST /v1/outcomes with %d bytes, without a key: %d, want 401", size, r.status)
		}
	}
}

// TestCompressedBodySaysSo: a client that compresses its request bodies
// (an HTTP library's gzip option) was told "invalid character '\x1f'
// looking for beginning of value"; the answer now says the body is
// compressed and Arbiter reads bodies as sent.
func TestCompressedBodySaysSo(t *testing.T) {
	h := newHarness(t, true, nil)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(`{"customer_id":"c-1"}`))
	_ = w.Close()
	for _, path := range []string{"/v1/decide", "/v1/outcomes", "/v1/rules/reload"} {
		r := h.do("POST", path, gz.String(), "Content-Encoding", "gzip")
		code, _ := r.errCode(t)
		if r.status != 400 || code != "invalid_json" || !strings.Contains(string(r.body), "Content-Encoding: gzip") {
			t.Errorf("POST %s gzipped: %d %s, want 400 invalid_json saying the body is compressed", path, r.status, r.body)
		}
	}
	// A plain body with the header left over is read as it is.
	if r := h.do("POST", "/v1/decide", `{"customer_id":"c-1"}`, "Content-Encoding", "identity"); r.status != 200 {
		t.Errorf("Content-Encoding: identity: %d %s", r.status, r.body)
	}
}

// TestLocalOnly: a server without keys on loopback (arbiter demo) answers
// only requests addressed to this machine by a loopback name. Binding to
// 127.0.0.1 kept other machines out, not web pages: a page whose own name
// it makes resolve to 127.0.0.1 (DNS rebinding) is same-origin with the
// server for the browser, so it could read every profile, rule and
// budget and post decisions, outcomes and reloads (Sec-Fetch-Site says
// same-origin).
func TestLocalOnly(t *testing.T) {
	h := newHarness(t, true, func(o *Options) { o.LocalOnly = true })
	handler := h.srv.Handler()
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1", true},
		{"127.1.2.3:8080", true},
		{"localhost:8080", true},
		{"LocalHost:8080", true},
		{"console.localhost:8080", true},
		{"[::1]:8080", true},
		{"", true}, // not a browser: browsers always send Host
		{"rebind.evil.example:8080", false},
		{"127.0.0.1.evil.example:8080", false},
		{"localhost.evil.example", false},
		{"10.0.0.5:8080", false},
		{"[::2]:8080", false},
		{"127.0.0.1x:8080", false},
	} {
		for _, p := range []string{"/v1/rules", "/ui/", "/metrics"} {
			var req fasthttp.Request
			req.Header.SetMethod("GET")
			req.SetRequestURI(p)
			req.Header.SetHost(c.host)
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, nil, nil)
			handler(&ctx)
			if sc := ctx.Response.StatusCode(); (sc == 403) == c.ok {
				t.Errorf("GET %s with Host %q: %d %s", p, c.host, sc, ctx.Response.Body())
			}
		}
	}
	// Off (a server with keys, or not on loopback): any Host.
	h2 := newHarness(t, true, nil)
	if r := h2.do("GET", "/v1/rules", "", "Host", "rebind.evil.example"); r.status != 200 {
		t.Errorf("without LocalOnly: %d", r.status)
	}
}
