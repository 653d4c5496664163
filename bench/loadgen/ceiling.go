package loadgen

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// CeilingBody returns a fixed /v1/decide answer of exactly size bytes (at
// least the size of its skeleton, about 190): an answer of Arbiter's shape,
// padded in a field of its own. The ceiling server sends it to every
// request, so that the bytes on the wire match Arbiter's typical answer.
func CeilingBody(size int) []byte {
	const head = `{"decision_id":"dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V","customer_id":"c-000123","ruleset":"2f9c1a7e",` +
		`"segments":[],"actions":[],"experiments":[],"holdout":false,"degraded":[],"took_us":0,"pad":"`
	const tail = `"}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// Ceiling is a fasthttp server that answers POST /v1/decide with a fixed
// body, without reading it: the most any server could do over HTTP on this
// machine with this client. Arbiter's figures are read as ratios to it.
type Ceiling struct {
	srv  *fasthttp.Server
	ln   net.Listener
	body []byte
}

// StartCeiling listens on addr (loopback only; port 0 picks one) and
// serves the fixed answer of size bytes until Close.
func StartCeiling(addr string, size int) (*Ceiling, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: ceiling: %w", err)
	}
	c := &Ceiling{ln: ln, body: CeilingBody(size)}
	c.srv = &fasthttp.Server{
		Handler:            c.handle,
		Name:               "arbiter-bench-ceiling",
		ReadTimeout:        30 * time.Second,
		IdleTimeout:        time.Minute,
		MaxRequestBodySize: 64 << 10,
	}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *Ceiling) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != DecidePath {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString(`{"error":{"code":"not_found","message":"no such route"}}`)
		return
	}
	if !ctx.IsPost() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(c.body)
}

// Addr is the address the ceiling listens on.
func (c *Ceiling) Addr() string { return c.ln.Addr().String() }

// Close stops the server, waiting for open connections up to ctx's end.
func (c *Ceiling) Close(ctx context.Context) error {
	return c.srv.ShutdownWithContext(ctx)
}
