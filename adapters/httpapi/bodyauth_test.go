package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/metrics"
)

// tcpServer serves New(o) on a loopback TCP port and returns its address.
func tcpServer(t *testing.T, o Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// rawAnswer sends head (a request's line and headers, "\r\n"-separated,
// without the blank line) and then body, and reads the answer. With
// bodyFirst false the body is not sent until an answer came: the answer
// must come from the headers alone. The read is bounded, so that a server
// waiting for a body it was told of fails the test rather than hangs it.
func rawAnswer(t *testing.T, addr, head, body string, bodyFirst bool) (*http.Response, string, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := head + "\r\n\r\n"
	if bodyFirst {
		msg += body
	}
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: no answer from the headers alone (%v): the server waits for the body", strings.SplitN(head, "\r\n", 2)[0], err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	// The server then closes the connection: the body it was told of, never
	// read, is not taken for a request.
	_, err = br.ReadByte()
	return res, string(b), err == io.EOF
}

// TestRefusedBeforeBody: a request that is refused whatever its body (no
// or a wrong API key, a key without the route's scope, an unknown route, a
// foreign Host on a loopback-only server) is answered from its headers,
// before its body is read: a client without a key could make the server
// read and hold 1 MiB (POST /v1/outcomes) per request, and --max-body on
// the others, before the 401. The answer is the one a small body gets
// (status, JSON error, WWW-Authenticate), and the connection closes.
func TestRefusedBeforeBody(t *testing.T) {
	rl := newStubRules(t, "v1", true, metrics.New())
	base := func(o *Options) Options {
		o.Rules, o.Engine, o.Logger, o.Sink = rl, &stubEngine{}, quietLog(), &memSink{}
		return *o
	}
	keyed := tcpServer(t, base(&Options{Keys: []APIKey{{Key: "k-all"}, {Key: "k-read", Scopes: ScopeRead}}, MaxBody: 1 << 20}))
	local := tcpServer(t, base(&Options{LocalOnly: true, MaxBody: 1 << 20}))
	// At every route's limit (MaxBody 1 MiB here): a server that reads a
	// body before the checks waits for it, and fails the test.
	const big = MinOutcomesBody
	for _, c := range []struct {
		name, addr, method, path, headers string
		status                            int
		code                              string
	}{
		{"outcomes, no key", keyed, "POST", "/v1/outcomes", "", 401, "unauthorized"},
		{"outcomes, wrong key", keyed, "POST", "/v1/outcomes", "Authorization: Bearer k-nope\r\n", 401, "unauthorized"},
		{"outcomes, key of another length", keyed, "POST", "/v1/outcomes", "Authorization: Bearer k\r\n", 401, "unauthorized"},
		{"outcomes, not Bearer", keyed, "POST", "/v1/outcomes", "Authorization: Basic azphbGw6\r\n", 401, "unauthorized"},
		{"outcomes written otherwise", keyed, "POST", "/v1//outcomes?x=1", "", 401, "unauthorized"},
		{"outcomes, absolute form", keyed, "POST", "http://arbiter/v1/outcomes", "", 401, "unauthorized"},
		{"outcomes, escaped", keyed, "POST", "/%761/outcomes", "", 401, "unauthorized"},
		{"outcomes, Expect 100-continue", keyed, "POST", "/v1/outcomes", "Expect: 100-continue\r\n", 401, "unauthorized"},
		{"decide, no key", keyed, "POST", "/v1/decide", "", 401, "unauthorized"},
		{"reload, no key", keyed, "POST", "/v1/rules/reload", "", 401, "unauthorized"},
		{"rules, no key", keyed, "GET", "/v1/rules", "", 401, "unauthorized"},
		{"unknown /v1/ route, no key", keyed, "POST", "/v1/nowhere", "", 404, "not_found"},
		{"outcomes, read key", keyed, "POST", "/v1/outcomes", "Authorization: Bearer k-read\r\n", 403, "forbidden"},
		{"reload, read key", keyed, "POST", "/v1/rules/reload", "Authorization: Bearer k-read\r\n", 403, "forbidden"},
		{"outcomes, wrong method", keyed, "PUT", "/v1/outcomes", "Authorization: Bearer k-all\r\n", 405, "method_not_allowed"},
		{"outcomes, cross-site", keyed, "POST", "/v1/outcomes", "Authorization: Bearer k-all\r\nSec-Fetch-Site: cross-site\r\n", 403, "forbidden"},
		{"loopback only, foreign Host", local, "POST", "/v1/outcomes", "", 403, "forbidden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			host := "127.0.0.1"
			if c.addr == local && strings.Contains(c.name, "foreign") {
				host = "rebind.evil.example"
			}
			head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json", c.method, c.path, host, c.headers)
			for _, framing := range []string{fmt.Sprintf("Content-Length: %d", big), "Transfer-Encoding: chunked"} {
				res, body, closed := rawAnswer(t, c.addr, head+"\r\n"+framing, "", false)
				if res.StatusCode != c.status || !strings.Contains(body, `"code":"`+c.code+`"`) {
					t.Fatalf("%s: %d %s, want %d %s", framing, res.StatusCode, body, c.status, c.code)
				}
				if !closed || !res.Close {
					t.Errorf("%s: the connection stays open (Connection: %q) with an unread body in it", framing, res.Header.Get("Connection"))
				}
				// The same answer as a small body gets, read whole.
				smallHead := strings.Replace(head, "Expect: 100-continue\r\n", "", 1) + "\r\nConnection: close\r\nContent-Length: 2"
				small, smallBody, _ := rawAnswer(t, c.addr, smallHead, "{}", true)
				if small.StatusCode != res.StatusCode || smallBody != body ||
					small.Header.Get("WWW-Authenticate") != res.Header.Get("WWW-Authenticate") || small.Header.Get("Allow") != res.Header.Get("Allow") {
					t.Errorf("%s: %d %v %s; with a small body: %d %v %s", framing, res.StatusCode, res.Header, body, small.StatusCode, small.Header, smallBody)
				}
			}
		})
	}
	// A request that is let through is read as before: a body over the
	// headers' worth with a key, sent after its headers.
	pad := strings.Repeat(" ", maxUncheckedBody)
	res, body, _ := rawAnswer(t, keyed, fmt.Sprintf("POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k-all\r\nConnection: close\r\nContent-Length: %d",
		len(decideBody)+len(pad)), decideBody+pad, true)
	if res.StatusCode != 200 || !strings.Contains(body, `"decision_id"`) {
		t.Errorf("a decide with its key and a %d-byte body: %d %s", len(decideBody)+len(pad), res.StatusCode, body)
	}
}
