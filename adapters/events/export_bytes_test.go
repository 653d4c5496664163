package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// An export of a stream of large events holds a bounded number of bytes
// at a time, whatever the number of events per pull: every pull asks the
// server for at most pullBytes of the largest message the server takes.
// It asked for 1000 messages a pull with no byte bound: with 600 KB
// events, 600 MB on their way to an export that writes one line at a
// time (and up to 64 GB for a server whose max_payload is 64 MiB).
func TestExportBoundsThePullsBytes(t *testing.T) {
	url, stop, err := Embedded(t.TempDir()) // its own server: 24 MB of events
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	prefix := testPrefix(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js := testJetStream(t, url)
	if err := EnsureStream(ctx, js, Options{Prefix: prefix}, nil); err != nil {
		t.Fatal(err)
	}
	const n, size = 40, 600 << 10
	pad := strings.Repeat("x", size)
	for i := range n {
		body := fmt.Sprintf(`{"type":"decision","id":"dcs_%d","pad":%q}`, 100000+i, pad)
		if _, err := js.Publish(ctx, prefix+".decision.checkout", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}

	// The pull requests, as the server gets them.
	spy, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	type pull struct {
		Batch    int `json:"batch"`
		MaxBytes int `json:"max_bytes"`
	}
	var mu sync.Mutex
	var pulls []pull
	if _, err := spy.Subscribe("$JS.API.CONSUMER.MSG.NEXT."+StreamName(prefix)+".>", func(m *nats.Msg) {
		var p pull
		if json.Unmarshal(m.Data, &p) == nil {
			mu.Lock()
			pulls = append(pulls, p)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}

	var out countingWriter
	st, err := Export(ctx, url, &out, ReadOptions{Prefix: prefix, Name: "export-bytes-test"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != n || out.lines != n {
		t.Fatalf("exported %d events (%d lines), want %d", st.Events, out.lines, n)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	bound := pullBytes(spy.MaxPayload())
	if bound < 2*size || bound > 64<<20 {
		t.Fatalf("pullBytes(%d) = %d: want room for two of the largest messages, and not more than 64 MiB", spy.MaxPayload(), bound)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pulls) == 0 {
		t.Fatal("no pull request seen")
	}
	t.Logf("%d pulls: %+v", len(pulls), pulls)
	for _, p := range pulls {
		held := p.MaxBytes
		if held <= 0 {
			held = p.Batch * size // what a pull without a byte bound may bring
		}
		if held > bound {
			t.Errorf("a pull asked for %d messages and max_bytes %d: up to %d MB of %d KB events on their way at once, want at most %d MB",
				p.Batch, p.MaxBytes, held>>20, size>>10, bound>>20)
		}
	}
}

// countingWriter counts the lines written to it and keeps none.
type countingWriter struct{ lines int }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.lines += bytes.Count(b, []byte{'\n'})
	return len(b), nil
}

var _ io.Writer = (*countingWriter)(nil)
