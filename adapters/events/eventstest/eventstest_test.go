package eventstest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
)

// TestPrefixLeavesNothingBehind: what a test makes under its prefix (the
// stream and the rulesets' object store) is gone when the test ends, on
// the real server (ARBITER_TEST_NATS_URL) as on the embedded one; the
// prefix is a subject token of its own each time.
func TestPrefixLeavesNothingBehind(t *testing.T) {
	url, _ := URL(t)
	js := JetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var prefix string
	t.Run("inner", func(t *testing.T) {
		prefix = Prefix(t, url, "ettest")
		if other := Prefix(t, url, "ettest"); other == prefix {
			t.Fatalf("two prefixes alike: %q", prefix)
		}
		opts := events.Options{Prefix: prefix}
		if err := events.EnsureStream(ctx, js, opts, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: events.RulesetsBucketName(prefix)}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Stream(ctx, events.StreamName(prefix)); err != nil {
			t.Fatalf("the stream made: %v", err)
		}
	})
	if _, err := js.Stream(ctx, events.StreamName(prefix)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the stream after the test: %v, want it deleted", err)
	}
	if _, err := js.ObjectStore(ctx, events.RulesetsBucketName(prefix)); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("the object store after the test: %v, want it deleted", err)
	}
}
