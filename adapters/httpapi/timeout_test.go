package httpapi

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/metrics"
)

// TestStalledRequestIs408: a request that stops half way (its headers not
// finished) on a keep-alive connection, until the read timeout, is
// answered 408, not 400: the client was slow, its request was not
// malformed.
func TestStalledRequestIs408(t *testing.T) {
	m := metrics.New()
	srv, err := New(Options{Rules: newStubRules(t, "v1", true, m), Engine: &stubEngine{}, Logger: quietLog(), Metrics: m,
		ReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.srv.Shutdown() }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// a first request, answered; then half of a second one, and silence
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/rules HTTP/1.1\r\nHost: a\r\nAccept: app"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c) // until the server closes the connection
	answers := strings.Split(string(b), "HTTP/1.1 ")
	if len(answers) != 3 || !strings.HasPrefix(answers[1], "200") || !strings.HasPrefix(answers[2], "408") {
		t.Fatalf("answers %q, want 200 then 408", b)
	}
	if !strings.Contains(answers[2], `"code":"request_timeout"`) {
		t.Errorf("408 body: %q", answers[2])
	}
}
