package main

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
)

// bad-input's "nothing changed" compares the stream's messages before and
// after: a stream that cannot be read must be an error, not 0 messages
// both times.
func TestStreamMessages(t *testing.T) {
	url, _ := eventstest.URL(t)
	js := eventstest.JetStream(t, url)
	prefix := eventstest.Prefix(t, url, "faults")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := streamMessages(ctx, js, prefix); err == nil {
		t.Fatalf("no stream: %d messages and no error", n)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName(prefix), Subjects: []string{prefix + ".>"},
		Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx, prefix+".decision.x", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := streamMessages(ctx, js, prefix); err != nil || n != 3 {
		t.Fatalf("streamMessages = %d, %v; want 3", n, err)
	}
}
