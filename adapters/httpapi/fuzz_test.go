package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzDecide sends random bodies to POST /v1/decide (and /v1/outcomes,
// /v1/rules/reload):
// the answer is never a 500 and never a panic, and always JSON.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{decideBody, `{}`, `{"limit": 0}`, `{"cart": {"items": [{"price": -1}]}}`,
		`{"dry_run": true, "now": "x"}`, `[`, `{"context": {"a": [1, "b", true, null]}}`, "\xff", `{"outcomes": []}`,
		`{"decision_id": "d", "offer_id": "o", "type": "converted", "value": 1e308, "currency": "JPY"}`,
		`{"outcomes": [{"decision_id": "dcs_01M8XS0000000000000000000000000000000000000000", "type": "cancelled", "occurred_at": "2026-11-27T10:00:00Z", "id": "o-1"}]}`,
		`{"decision_id": "d", "type": "converted", "occurred_at": "9999-12-31T23:59:59Z"}`} {
		f.Add([]byte(s))
	}
	h := newHarness(f, true, nil)
	handler := h.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/decide", "/v1/outcomes", "/v1/rules/reload"} {
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
