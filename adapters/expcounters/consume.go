package expcounters

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/redact"
	"github.com/arbiterhq/arbiter/wire"
)

// ConsumerName is the durable JetStream consumer the replicas share.
const ConsumerName = "arbiter-experiments"

// Consume counts the decision and outcome events of the stream holding
// <prefix>.> into c until ctx is done (then it returns nil), through the
// durable consumer ConsumerName: each event is acknowledged once counted,
// redelivered after a Redis failure, and counted once (by its stream
// sequence). It needs JetStream; NATS being down only delays the counters.
func Consume(ctx context.Context, natsURL string, stream events.Options, c *Counters, logger *slog.Logger) error {
	if stream.Prefix == "" {
		stream.Prefix = events.DefaultPrefix
	}
	if logger == nil {
		logger = slog.Default()
	}
	log := logger.With("component", "experiment counters")
	nc, err := nats.Connect(natsURL, stream.InProcessOption(), nats.Name("arbiter experiment counters"), nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.Timeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("experiment counters: connect to NATS at %s: %w", redact.URL(natsURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("experiment counters: %w", err)
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Second): // retry pause, not synchronisation
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if !nc.IsConnected() {
			continue
		}
		err := run(ctx, js, stream, c, log)
		if ctx.Err() != nil {
			return nil
		}
		if attempt%30 == 0 {
			log.Warn("experiment counters: cannot consume events yet; retrying", "err", err)
		}
	}
}

func run(ctx context.Context, js jetstream.JetStream, stream events.Options, c *Counters, log *slog.Logger) error {
	setup, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name, err := js.StreamNameBySubject(setup, stream.Prefix+".decision.x")
	if err != nil {
		if err := events.EnsureStream(setup, js, stream, log); err != nil {
			return err
		}
		name = stream.Stream
		if name == "" {
			name = events.StreamName(stream.Prefix)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(setup, name, jetstream.ConsumerConfig{
		Durable:        ConsumerName,
		Description:    "Arbiter live experiment counters (Redis), for GET /v1/experiments",
		FilterSubjects: []string{stream.Prefix + ".decision.>", stream.Prefix + ".outcome.converted"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxDeliver:     -1,
		MaxAckPending:  1000,
	})
	if err != nil {
		return fmt.Errorf("durable consumer %s on stream %s: %w", ConsumerName, name, err)
	}
	log.Info("experiment counters: counting", "stream", name, "consumer", ConsumerName)
	cc, err := cons.Consume(func(m jetstream.Msg) { handle(ctx, c, stream.Prefix, m) })
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}

func handle(ctx context.Context, c *Counters, prefix string, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return
	}
	ev := Event{Stream: md.Stream, Sequence: md.Sequence.Stream, Stored: md.Timestamp}
	if strings.HasPrefix(m.Subject(), prefix+".decision.") {
		ev.Decision, err = wire.ParseDecisionEvent(m.Data())
	} else {
		ev.Outcome, err = wire.ParseOutcome(prefix, m.Subject(), m.Data(), md.Timestamp)
	}
	if err != nil {
		_ = m.Term() // it will not parse better next time
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Record(rctx, ev); err != nil {
		_ = m.NakWithDelay(2 * time.Second)
		return
	}
	_ = m.Ack()
}
