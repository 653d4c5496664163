package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzDecide sends random bodies to POST /v1/decide (and /v1/outcomes):
// the answer is never a 500 and never a panic, and always JSON.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{decideBody, `{}`, `{"limit": 0}`, `{"cart": {"items": [{"price": -1}]}}`,
		`{"dry_run": true, "now": "x"}`, `[`, `{"context": {"a": [1, "b", true, null]}}`, "\xff", `{"outcomes": []}`,
		`{"decision_id": "d", "offer_id": "o", "type": "converted", "value": 1e308, "currency": "JPY"}`} {
		f.Add([]byte(s))
	}
	h := newHarness(f, true, nil)
	handler := h.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/decide", "/v1/outcomes"} {
			var ctx fasthttp.RequestCtx
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI(path)
			req.SetBody(body)
			ctx.Init(&req, nil, nil)
			handler(&ctx)
			if sc := ctx.Response.StatusCode(); sc >= 500 && sc != 503 {
				t.Fatalf("%s: %d for %q: %s", path, sc, body, ctx.Response.Body())
			}
			if !json.Valid(ctx.Response.Body()) {
				t.Fatalf("%s: not JSON: %s", path, ctx.Response.Body())
			}
		}
	})
}
