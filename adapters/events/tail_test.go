package events

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// syncBuffer is a bytes.Buffer safe to write and read from two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	str := strings.TrimSuffix(s.b.String(), "\n")
	if str == "" {
		return nil
	}
	return strings.Split(str, "\n")
}

func TestTailJetStreamSinceAndFilter(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	js := testJetStream(t, url)
	if err := EnsureStream(ctx, js, Options{Prefix: prefix}, nil); err != nil {
		t.Fatal(err)
	}
	pub := func(subj, data string) {
		t.Helper()
		if _, err := js.Publish(ctx, prefix+"."+subj, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	pub("decision.checkout", `{"type":"decision","id":"d1"}`)
	pub("outcome.converted", "{\n  \"type\": \"outcome\",\n  \"id\": \"o1\"\n}")
	pub("decision.cart", `{"type":"decision","id":"d2"}`)

	tctx, cancel := context.WithCancel(ctx)
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Tail(tctx, url, &out, TailOptions{Prefix: prefix, Subject: prefix + ".decision.>", Since: time.Hour})
	}()
	waitFor(t, 10*time.Second, "the stored decisions", func() bool { return len(out.lines()) == 2 })
	pub("outcome.converted", `{"type":"outcome","id":"o2"}`)
	pub("decision.checkout", `not json`)
	waitFor(t, 10*time.Second, "the new decision", func() bool { return len(out.lines()) == 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Tail did not stop on cancel")
	}
	want := []string{
		`{"type":"decision","id":"d1"}`,
		`{"type":"decision","id":"d2"}`,
		`{"subject":"` + prefix + `.decision.checkout","data":"not json"}`,
	}
	got := out.lines()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %s, want %s", i, got[i], want[i])
		}
	}

	// Without --since: only what comes next; the multi-line JSON is one line.
	tctx, cancel = context.WithCancel(ctx)
	defer cancel()
	var out2 syncBuffer
	go func() { done <- Tail(tctx, url, &out2, TailOptions{Prefix: prefix, Notice: func(string) {}}) }()
	// The consumer starts asynchronously: publish until one arrives.
	waitFor(t, 10*time.Second, "a new event", func() bool {
		if len(out2.lines()) > 0 {
			return true
		}
		pub("outcome.converted", "{\n  \"id\": \"o3\"\n}")
		return false
	})
	for _, l := range out2.lines() {
		if l != `{"id":"o3"}` {
			t.Fatalf("line %q", l)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTailCoreNATS(t *testing.T) {
	url := coreServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	var notices syncBuffer
	go func() {
		done <- Tail(ctx, url, &out, TailOptions{Subject: "arbiter.outcome.*", Notice: func(s string) { _, _ = notices.Write([]byte(s + "\n")) }})
	}()
	waitFor(t, 10*time.Second, "an event", func() bool {
		if len(out.lines()) > 0 {
			return true
		}
		_ = nc.Publish("arbiter.decision.checkout", []byte(`{"id":"d"}`))
		_ = nc.Publish("arbiter.outcome.converted", []byte(`{"id":"o"}`))
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, l := range out.lines() {
		if l != `{"id":"o"}` {
			t.Fatalf("line %q", l)
		}
	}
	// The person at the terminal is told that nothing recorded is shown.
	if n := notices.lines(); len(n) != 1 || !strings.Contains(n[0], "following live events only (with core NATS)") {
		t.Errorf("notices %q, want one saying only live events are followed", n)
	}
}
