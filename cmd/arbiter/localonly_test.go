package main

import (
	"net/http"
	"testing"
)

// TestNoAuthOnLoopbackAnswersLoopbackNamesOnly: the demo's wiring (no
// keys, 127.0.0.1) refuses a request addressed by another name, as a page
// that made its own name resolve to 127.0.0.1 (DNS rebinding) sends it,
// and answers one addressed to 127.0.0.1 or localhost.
func TestNoAuthOnLoopbackAnswersLoopbackNamesOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server with an embedded Redis and NATS")
	}
	base := startConsoleServer(t, nil, t.TempDir())
	for host, want := range map[string]int{"": 200, "localhost": 200, "rebind.evil.example": 403} {
		req, err := http.NewRequest("GET", base+"/v1/rules", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET /v1/rules with Host %q: %d, want %d", host, res.StatusCode, want)
		}
	}
}
