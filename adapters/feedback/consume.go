package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/wire"
)

// ConsumerName is the durable JetStream consumer every replica shares: each
// outcome is delivered to one of them.
const ConsumerName = "arbiter-feedback"

// Consume feeds rec from the outcomes on <prefix>.outcome.> until ctx is
// done (then it returns nil). stream is what the publisher is given: its
// Prefix (default "arbiter"), the settings of the stream when the consumer
// is first to create it, and InProcess for an embedded server. With
// JetStream it reads the outcomes through the durable consumer
// ConsumerName on the stream holding the prefix: each outcome is
// acknowledged once counted, redelivered after a Redis failure, and
// counted once per event id (or stream sequence, for outcomes without an
// id). Without JetStream it subscribes with core NATS in the queue group
// ConsumerName (at most once). NATS being down at start or later only
// delays the statistics.
func Consume(ctx context.Context, natsURL string, stream events.Options, rec *Recorder, logger *slog.Logger) error {
	return ConsumeChecked(ctx, natsURL, stream, rec, nil, logger)
}

// ConsumeChecked is Consume with every outcome checked first (nil: none
// is): an outcome check refuses is acknowledged and not counted (and
// counted as refused); one it cannot check yet (the ledger unreachable) is
// redelivered.
func ConsumeChecked(ctx context.Context, natsURL string, stream events.Options, rec *Recorder, check Checker, logger *slog.Logger) error {
	if stream.Prefix == "" {
		stream.Prefix = events.DefaultPrefix
	}
	if logger == nil {
		logger = slog.Default()
	}
	log := logger.With("component", "feedback")
	c := &consumer{stream: stream, rec: rec, check: check, log: log}
	return events.KeepConsuming(ctx, natsURL, stream, "feedback", "outcomes", log, c.run)
}

type consumer struct {
	stream   events.Options // Prefix set
	rec      *Recorder
	check    Checker // nil: none
	log      *slog.Logger
	rejected atomic.Uint64
	refused  atomic.Uint64
	lastLog  atomic.Int64
}

// run consumes until ctx is done, or returns the error that prevented it.
func (c *consumer) run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	setup, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(setup); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return c.runCore(ctx, nc)
		}
		return err
	}
	name, err := js.StreamNameBySubject(setup, c.stream.Prefix+".outcome.x")
	if err != nil {
		// The publisher creates the stream too: whichever is first, the
		// settings are the same.
		if err := events.EnsureStream(setup, js, c.stream, c.log); err != nil {
			return err
		}
		name = c.stream.Stream
		if name == "" {
			name = events.StreamName(c.stream.Prefix)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(setup, name, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "Arbiter per-offer feedback statistics (Redis)",
		FilterSubject: c.stream.Prefix + ".outcome.>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("durable consumer %s on stream %s: %w", ConsumerName, name, err)
	}
	c.log.Info("feedback: counting outcomes", "stream", name, "consumer", ConsumerName)
	cc, err := cons.Consume(func(m jetstream.Msg) { c.handleJS(ctx, m) })
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	// Stop unsubscribed; the round trip makes sure the server has read the
	// unsubscription before Consume returns. Until then it still sees this
	// process's pull request as listening and may hand it an outcome that
	// nobody reads, which only comes back after AckWait (30 s) to the next
	// consumer: a replica restarted at once would count it half a minute
	// late. While disconnected there is nothing to wait for: the server
	// dropped the old connection's pull requests with it.
	if nc.IsConnected() {
		_ = nc.FlushTimeout(2 * time.Second)
	}
	return nil
}

func (c *consumer) handleJS(ctx context.Context, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return
	}
	ev, err := wire.ParseOutcome(c.stream.Prefix, m.Subject(), m.Data(), md.Timestamp)
	if err != nil {
		c.reject(err)
		_ = m.Term() // never redelivered: it will not parse better next time
		return
	}
	id := ev.ID
	if id == "" {
		id = m.Headers().Get(jetstream.MsgIDHeader)
	}
	if id == "" {
		id = "seq:" + md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c.check != nil {
		code, err := c.check.Check(rctx, ev, id)
		if err != nil {
			c.logLimited("feedback: cannot check outcome against the ledger; it will be redelivered", "err", err)
			_ = m.NakWithDelay(2 * time.Second)
			return
		}
		if code != "" {
			c.refuse(ev, code)
			_ = m.Ack()
			return
		}
	}
	if _, err := c.rec.Record(rctx, ev, id); err != nil {
		c.logLimited("feedback: cannot record outcome; it will be redelivered", "err", err)
		_ = m.NakWithDelay(2 * time.Second)
		return
	}
	_ = m.Ack()
}

// refuse counts an outcome the check refused.
func (c *consumer) refuse(ev *wire.OutcomeEvent, code string) {
	n := c.refused.Add(1)
	c.logLimited("feedback: outcome refused (not counted): "+code, "decision_id", ev.DecisionID, "offer_id", ev.OfferID,
		"refused_total", n)
}

func (c *consumer) runCore(ctx context.Context, nc *nats.Conn) error {
	c.log.Warn("feedback: the NATS server has no JetStream: counting live outcomes only, at most once")
	ch := make(chan *nats.Msg, 4096)
	sub, err := nc.ChanQueueSubscribe(c.stream.Prefix+".outcome.>", ConsumerName, ch)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			ev, err := wire.ParseOutcome(c.stream.Prefix, m.Subject, m.Data, time.Now())
			if err != nil {
				c.reject(err)
				continue
			}
			id := ev.ID
			if id == "" {
				id = m.Header.Get(jetstream.MsgIDHeader)
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if c.check != nil {
				code, err := c.check.Check(rctx, ev, id)
				if err != nil || code != "" {
					if code != "" {
						c.refuse(ev, code)
					} else {
						c.logLimited("feedback: cannot check outcome; lost (core NATS has no redelivery)", "err", err)
					}
					cancel()
					continue
				}
			}
			if _, err := c.rec.Record(rctx, ev, id); err != nil {
				c.logLimited("feedback: cannot record outcome; lost (core NATS has no redelivery)", "err", err)
			}
			cancel()
		}
	}
}

func (c *consumer) reject(err error) {
	n := c.rejected.Add(1)
	c.logLimited("feedback: outcome rejected (see docs/events.md for what is accepted)", "err", err, "rejected_total", n)
}

// logLimited logs at most once every 10 seconds.
func (c *consumer) logLimited(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := c.lastLog.Load()
	if now-last < int64(10*time.Second) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn(msg, args...)
}
