package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/redact"
)

// retryPause is how long KeepConsuming waits before running a consumer
// again.
const retryPause = 2 * time.Second

// KeepConsuming runs a durable consumer of the stream until ctx is done:
// what the live experiment counters and the feedback consumer have in
// common. It connects to NATS at natsURL (through stream.InProcess for the
// embedded server; the connection is named "arbiter " + component and
// reconnects for ever) and calls run while connected: at once, then 2 s
// after each return (the connection lost, the stream deleted, a server
// without JetStream yet). A failed run is logged at warn, the first and
// every 30th, as "<component>: cannot consume <what> yet; retrying". It
// returns nil when ctx is done, or an error naming component when natsURL
// cannot be used at all.
func KeepConsuming(ctx context.Context, natsURL string, stream Options, component, what string, log *slog.Logger,
	run func(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error) error {
	nc, err := nats.Connect(natsURL, stream.InProcessOption(), nats.Name("arbiter "+component), nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.Timeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("%s: connect to NATS at %s: %w", component, redact.URL(natsURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("%s: %w", component, err)
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retryPause): // retry pause, not synchronisation
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if !nc.IsConnected() {
			continue
		}
		err := run(ctx, nc, js)
		if ctx.Err() != nil {
			return nil
		}
		if attempt%30 == 0 {
			log.Warn(component+": cannot consume "+what+" yet; retrying", "err", err)
		}
	}
}
