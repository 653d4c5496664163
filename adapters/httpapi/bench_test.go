package httpapi

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkDecide measures POST /v1/decide through fasthttp's in-memory
// listener (a client, the server, the real decoder, a stub engine that
// answers a fixed one-action decision): the HTTP layer's own cost.
func BenchmarkDecide(b *testing.B) {
	h := newHarness(b, true, func(o *Options) { o.Sink = nil })
	body := []byte(decideBody)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		res := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(res)
		req.SetRequestURI("http://arbiter/v1/decide")
		req.Header.SetMethod("POST")
		req.SetBody(body)
		for pb.Next() {
			if err := h.client.DoTimeout(req, res, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			if res.StatusCode() != 200 {
				b.Fatalf("status %d: %s", res.StatusCode(), res.Body())
			}
		}
	})
}

// BenchmarkDecideHandler is the handler alone, without a connection.
func BenchmarkDecideHandler(b *testing.B) {
	h := newHarness(b, true, func(o *Options) { o.Sink = nil })
	handler := h.srv.Handler()
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/v1/decide")
	req.SetBody([]byte(decideBody))
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatal(ctx.Response.StatusCode())
		}
	}
}
