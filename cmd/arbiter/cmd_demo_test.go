package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The demo serves the example rules with an embedded Redis and NATS and no
// auth: a flag of serve that would change that is refused (exit 2, with
// the way to do it: arbiter serve), never ignored in silence, so that
// `arbiter demo --rules mine` does not serve the example shop instead.
func TestDemoRefusesServeOnlyFlags(t *testing.T) {
	// Cancelled: a demo that starts stops at once instead of serving.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"--rules", "mine"},
		{"--redis", "redis://127.0.0.1:6379/0"},
		{"--nats", "nats://127.0.0.1:4222"},
		{"--profiles", "customers.jsonl"},
		{"--api-keys-file", "keys"},
		{"--count", "-1"},
		{"--addr", "0.0.0.0:0"},
		{"--log-format", "xml"},
	} {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"demo", "--addr", "127.0.0.1:0", "--count", "1"}, args...), stdio{Out: &out, Err: &errb})
		if code != exitUsage || !strings.Contains(errb.String(), args[0]) || !strings.Contains(errb.String(), "Usage: arbiter demo") || out.Len() != 0 {
			t.Errorf("demo %v: exit %d, stdout %q, stderr %q; want exit 2 naming %s, with the help", args, code, out.String(), errb.String(), args[0])
		}
	}
}
