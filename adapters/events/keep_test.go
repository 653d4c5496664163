package events

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestKeepConsumingRunsAgainAfterAFailure: a consumer whose run fails is
// run again (after the pause), the failure logged once with what it
// consumes; when the context ends, KeepConsuming returns nil; a URL it
// cannot use is an error naming the component, and nothing runs.
func TestKeepConsumingRunsAgainAfterAFailure(t *testing.T) {
	url := testNATS(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	second := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- KeepConsuming(ctx, url, Options{}, "test consumer", "things", log, func(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
			calls++
			if nc == nil || js == nil || !nc.IsConnected() {
				t.Errorf("run %d without a connection", calls)
			}
			if calls == 1 {
				return errors.New("no stream yet")
			}
			close(second)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	select {
	case <-second:
	case err := <-done:
		t.Fatalf("returned before running again: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("not run again within a minute")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("after the context ended: %v", err)
	}
	if calls != 2 {
		t.Fatalf("run %d times, want 2", calls)
	}
	if got := strings.Count(strings.Join(logs.lines(), "\n"), `msg="test consumer: cannot consume things yet; retrying" err="no stream yet"`); got != 1 {
		t.Fatalf("the failure logged %d times, want once:\n%s", got, strings.Join(logs.lines(), "\n"))
	}

	err := KeepConsuming(context.Background(), "nats://[::1", Options{}, "test consumer", "things", log, func(context.Context, *nats.Conn, jetstream.JetStream) error {
		t.Error("run with a URL that cannot be used")
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "test consumer: connect to NATS at ") {
		t.Fatalf("a URL that cannot be used: %v", err)
	}
}
