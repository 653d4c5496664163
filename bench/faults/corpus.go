package main

import (
	"fmt"
	"strconv"
	"strings"
)

// badReq is one kind of bad request, as the raw bytes sent on a fresh
// connection.
type badReq struct {
	name string
	raw  []byte
}

// httpReq builds a request with the suite's key (unless headers name an
// Authorization), a Content-Length (unless headers name one or a
// Transfer-Encoding) and Connection: close.
func httpReq(method, path string, headers []string, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, path)
	auth, length := false, false
	for _, h := range headers {
		l := strings.ToLower(h)
		if strings.HasPrefix(l, "authorization:") || h == "NO-AUTH" {
			auth = true
		}
		if strings.HasPrefix(l, "content-length:") || strings.HasPrefix(l, "transfer-encoding:") {
			length = true
		}
	}
	if !auth {
		b.WriteString("Authorization: Bearer " + apiKey + "\r\n")
	}
	for _, h := range headers {
		if h != "NO-AUTH" {
			b.WriteString(h + "\r\n")
		}
	}
	if !length && (body != "" || method == "POST") {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

const cartOK = `"cart":{"currency":"USD","items":[{"sku":"s","category":"shoes","price":50,"quantity":1}]}`

// corpus is the bad-input corpus: every kind of request a client or an
// attacker may send wrong. None of them may decide, count or publish
// anything, answer a 5xx, or echo a secret.
func corpus() []badReq {
	var out []badReq
	decide := func(name, body string, headers ...string) {
		out = append(out, badReq{"decide: " + name, httpReq("POST", "/v1/decide", append([]string{"Content-Type: application/json"}, headers...), body)})
	}
	outcome := func(name, body string) {
		out = append(out, badReq{"outcomes: " + name, httpReq("POST", "/v1/outcomes", []string{"Content-Type: application/json"}, body)})
	}
	raw := func(name, text string) { out = append(out, badReq{"http: " + name, []byte(text)}) }

	// Not JSON, or not an object.
	for name, body := range map[string]string{
		"empty body": "", "open brace": "{", "close brace": "}", "array": "[]", "null": "null", "string": `"x"`,
		"number": "123", "true": "true", "missing value": `{"customer_id":}`, "trailing comma": `{"customer_id":"c-1",}`,
		"single quotes": `{'customer_id':'c-1'}`, "NaN": `{"limit":NaN}`, "Infinity": `{"limit":Infinity}`,
		"comment": `{/* c */"customer_id":"c-1"}`, "BOM": "\ufeff{\"customer_id\":\"c-1\"}", "invalid UTF-8": "{\"customer_id\":\"c-\xff\xfe\"}",
		"unterminated string": `{"customer_id":"c-1`, "deep nesting": strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		"two documents": `{}{}`, "trailing garbage": `{"customer_id":"c-1"} x`, "bare key": `{customer_id:"c-1"}`,
		"lone backslash": `{"customer_id":"c\-1"}`, "bad unicode escape": `{"customer_id":"\u12"}`, "NUL byte": "{\"customer_id\":\"c-1\"}\x00",
		"deep object nesting": strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000),
	} {
		decide("not JSON: "+name, body)
	}
	// Wrong types and values.
	for name, body := range map[string]string{
		"customer_id number": `{"customer_id":42}`, "customer_id array": `{"customer_id":["c-1"]}`,
		"customer_id object": `{"customer_id":{"id":"c-1"}}`, "customer_id bool": `{"customer_id":true}`,
		"placement number": `{"placement":7}`, "channel array": `{"channel":["web"]}`,
		"limit string": `{"limit":"2"}`, "limit float": `{"limit":1.5}`, "limit negative": `{"limit":-1}`, "limit zero": `{"limit":0}`,
		"limit huge": `{"limit":99999999999999999999}`, "limit 1e309": `{"limit":1e309}`, "explain string": `{"explain":"yes"}`,
		"dry_run string": `{"dry_run":"true"}`, "now without dry_run": `{"now":"2026-11-27T10:00:00Z"}`,
		"now not a time": `{"dry_run":true,"now":"tomorrow"}`, "cart string": `{"cart":"full"}`, "cart array": `{"cart":[]}`,
		"items object": `{"cart":{"currency":"USD","items":{"sku":"s"}}}`, "price string": `{"cart":{"currency":"USD","items":[{"sku":"s","price":"50","quantity":1}]}}`,
		"price negative":          `{"cart":{"currency":"USD","items":[{"sku":"s","price":-5,"quantity":1}]}}`,
		"price 1e400":             `{"cart":{"currency":"USD","items":[{"sku":"s","price":1e400,"quantity":1}]}}`,
		"price 3 decimals in USD": `{"cart":{"currency":"USD","items":[{"sku":"s","price":1.234,"quantity":1}]}}`,
		"price decimals in JPY":   `{"cart":{"currency":"JPY","items":[{"sku":"s","price":1.5,"quantity":1}]}}`,
		"quantity zero":           `{"cart":{"currency":"USD","items":[{"sku":"s","price":5,"quantity":0}]}}`,
		"quantity negative":       `{"cart":{"currency":"USD","items":[{"sku":"s","price":5,"quantity":-1}]}}`,
		"quantity fraction":       `{"cart":{"currency":"USD","items":[{"sku":"s","price":5,"quantity":1.5}]}}`,
		"quantity 1e20":           `{"cart":{"currency":"USD","items":[{"sku":"s","price":5,"quantity":1e20}]}}`,
		"sku number":              `{"cart":{"currency":"USD","items":[{"sku":5,"price":5,"quantity":1}]}}`,
		"category array":          `{"cart":{"currency":"USD","items":[{"sku":"s","category":["a"],"price":5,"quantity":1}]}}`,
		"tags string":             `{"cart":{"currency":"USD","items":[{"sku":"s","price":5,"quantity":1,"tags":"sale"}]}}`,
		"context array":           `{"context":["a"]}`, "context string": `{"context":"x"}`, "context nested object": `{"context":{"a":{"b":1}}}`,
		"unknown field": `{"customer_id":"c-1","dryrun":true}`, "unknown cart field": `{"cart":{"currency":"USD","itemz":[]}}`,
		"unknown item field":     `{"cart":{"currency":"USD","items":[{"sku":"s","price":5,"quantity":1,"colour":"red"}]}}`,
		"price without currency": `{"cart":{"items":[{"sku":"s","price":5,"quantity":1}]}}`,
	} {
		decide(name, body)
	}
	// Ids with control characters, bidi overrides, lone surrogates, and too long.
	for name, id := range map[string]string{
		"NUL": `c-\u0000`, "BEL": `c-\u0007`, "newline": `c-\n1`, "unit separator": `c-\u001f`, "DEL": `c-\u007f`,
		"lone surrogate": `c-\ud800`, "bidi override": `c-\u202e1`, "CR LF injection": `c-1\r\nX-Injected: 1`,
		"10 000 characters": strings.Repeat("c", 10000), "empty": ``, "129 bytes": strings.Repeat("c", 129),
		"C1 control": `c-\u0085`, "bidi isolate": `c-\u2066`, "U+FFFD": `c-\ufffd`,
	} {
		decide("customer_id "+name, `{"customer_id":"`+id+`",`+cartOK+`}`)
	}
	// Currencies.
	for _, c := range []string{"usd", "XYZ", "US", "USDD", "", "AAA", "XAU", "BGN", "HRK", "U$D"} {
		decide("currency "+strconv.Quote(c), `{"customer_id":"c-1","cart":{"currency":"`+c+`","items":[{"sku":"s","price":5,"quantity":1}]}}`)
	}
	decide("currency number", `{"customer_id":"c-1","cart":{"currency":840,"items":[{"sku":"s","price":5,"quantity":1}]}}`)
	// Sizes.
	decide("body of 100 KB", `{"customer_id":"c-1","context":{"pad":"`+strings.Repeat("x", 100<<10)+`"}}`)
	decide("body of 4 MB", `{"customer_id":"c-1","context":{"pad":"`+strings.Repeat("x", 4<<20)+`"}}`)
	decide("1000 cart items, one bad", `{"cart":{"currency":"USD","items":[`+strings.Repeat(`{"sku":"s","price":1,"quantity":1},`, 999)+`{"sku":"s","price":-1,"quantity":1}]}}`)
	// Headers of a decide request (each with a bad body, so that even a
	// header the server tolerates decides nothing).
	decide("Idempotency-Key of 10 KB", `{"limit":0}`, "Idempotency-Key: "+strings.Repeat("k", 10<<10))
	decide("Idempotency-Key with a control character", `{"limit":0}`, "Idempotency-Key: a\x01b")
	decide("Content-Type text/plain", `{"limit":0}`, "Content-Type: text/plain")
	decide("Content-Encoding gzip, not gzipped", `{"limit":0}`, "Content-Encoding: gzip")
	decide("Expect 100-continue", `{"limit":0}`, "Expect: 100-continue")

	// Outcomes.
	for name, body := range map[string]string{
		"empty object": `{}`, "forged decision id": `{"decision_id":"dcs_01M8XS0000000000000000000000000000000000000000","customer_id":"c-1","type":"converted"}`,
		"decision id of 1 KB": `{"decision_id":"` + strings.Repeat("d", 1024) + `","type":"converted"}`,
		"unknown type":        `{"decision_id":"dcs_x","type":"bought"}`, "type number": `{"decision_id":"dcs_x","type":3}`,
		"value negative":         `{"decision_id":"dcs_x","type":"converted","value":-1,"currency":"USD"}`,
		"value without currency": `{"decision_id":"dcs_x","type":"converted","value":10}`,
		"currency XYZ":           `{"decision_id":"dcs_x","type":"converted","value":10,"currency":"XYZ"}`,
		"occurred_at in 3000":    `{"decision_id":"dcs_x","type":"converted","occurred_at":"3000-01-01T00:00:00Z"}`,
		"occurred_at not a time": `{"decision_id":"dcs_x","type":"converted","occurred_at":"yesterday"}`,
		"empty batch":            `{"outcomes":[]}`, "batch not an array": `{"outcomes":{}}`,
		"batch of 1001": `{"outcomes":[` + strings.TrimSuffix(strings.Repeat(`{"decision_id":"dcs_x","type":"impression"},`, 1001), ",") + `]}`,
		"unknown field": `{"decision_id":"dcs_x","type":"converted","amount":3}`, "dry run's id": `{"decision_id":"dry_01M8XS0000000000000000000000000000000000000000","type":"converted"}`,
	} {
		outcome(name, body)
	}

	// Malformed HTTP. The bodies are `[]` (not a request object): a
	// malformation the server tolerates still decides nothing.
	auth := "Authorization: Bearer " + apiKey + "\r\n"
	raw("Content-Length: abc", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: abc\r\nConnection: close\r\n\r\n[]")
	raw("Content-Length: -1", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: -1\r\nConnection: close\r\n\r\n[]")
	raw("Content-Length: 1e3", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 1e3\r\nConnection: close\r\n\r\n[]")
	raw("two different Content-Lengths", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 2\r\nContent-Length: 5\r\nConnection: close\r\n\r\n[]")
	raw("Content-Length above the limit, no body", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 99999999999\r\nConnection: close\r\n\r\n")
	raw("header line without a colon", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"this is not a header\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("header name with a space", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Bad Header: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("header with a NUL", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"X-A: a\x00b\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("header of 64 KB", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"X-Big: "+strings.Repeat("b", 64<<10)+"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("bad chunked encoding", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n[]\r\n0\r\n\r\n")
	raw("chunked and Content-Length", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Transfer-Encoding: chunked\r\nContent-Length: 2\r\nConnection: close\r\n\r\n2\r\n[]\r\n0\r\n\r\n")
	raw("unknown Transfer-Encoding", "POST /v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n[]")
	raw("garbage request line", "GARBAGE\r\n\r\n")
	raw("HTTP/9.9", "POST /v1/decide HTTP/9.9\r\nHost: x\r\n"+auth+"Content-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("no HTTP version", "POST /v1/decide\r\n\r\n")
	raw("binary junk", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03junk\r\n\r\n")
	raw("LF only line ends", "POST /v1/decide HTTP/1.1\nHost: x\n"+strings.TrimSuffix(auth, "\r\n")+"\nContent-Length: 2\nConnection: close\n\n[]")
	raw("request line of 100 KB", "GET /"+strings.Repeat("a", 100<<10)+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw("no Host header", "POST /v1/decide HTTP/1.1\r\n"+auth+"Content-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("absolute URI to elsewhere", "POST http://example.com/v1/decide HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("path with a bad escape", "POST /v1/decide%zz HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 2\r\nConnection: close\r\n\r\n[]")
	raw("path traversal", "POST /v1/../v1/decide/../../etc/passwd HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 2\r\nConnection: close\r\n\r\n[]")

	// Keys, methods, routes.
	out = append(out,
		badReq{"auth: no key", httpReq("POST", "/v1/decide", []string{"NO-AUTH"}, `{"customer_id":"c-1",`+cartOK+`}`)},
		badReq{"auth: wrong key", httpReq("POST", "/v1/decide", []string{"Authorization: Bearer wrong-key"}, `{"customer_id":"c-1",`+cartOK+`}`)},
		badReq{"auth: a password as the key", httpReq("POST", "/v1/decide", []string{"Authorization: Bearer " + redisPass}, `{"customer_id":"c-1",`+cartOK+`}`)},
		badReq{"auth: empty Bearer", httpReq("POST", "/v1/decide", []string{"Authorization: Bearer "}, `{"customer_id":"c-1",`+cartOK+`}`)},
		badReq{"auth: Basic", httpReq("POST", "/v1/decide", []string{"Authorization: Basic " + apiKey}, `{"customer_id":"c-1",`+cartOK+`}`)},
		badReq{"auth: key with a trailing control character", httpReq("POST", "/v1/decide", []string{"Authorization: Bearer " + apiKey + "\x01"}, `{"customer_id":"c-1",`+cartOK+`}`)},
		badReq{"method: GET /v1/decide", httpReq("GET", "/v1/decide", nil, "")},
		badReq{"method: PUT /v1/decide", httpReq("PUT", "/v1/decide", nil, `{"limit":0}`)},
		badReq{"method: DELETE /v1/budgets", httpReq("DELETE", "/v1/budgets", nil, "")},
		badReq{"method: unknown verb", httpReq("BREW", "/v1/decide", nil, `{"limit":0}`)},
		badReq{"route: unknown", httpReq("POST", "/v1/decidee", nil, `{"limit":0}`)},
		badReq{"route: rules reload, bad body", httpReq("POST", "/v1/rules/reload", nil, `{"allow_shrink":"yes"}`)},
	)
	return out
}
