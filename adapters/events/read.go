package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arbiterhq/arbiter/redact"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ReadOptions configure ReadStream.
type ReadOptions struct {
	// Prefix of the subjects (default "arbiter").
	Prefix string
	// Since reads only the events stored in the last Since (0: all).
	Since time.Duration
	// Start, when set, reads only the events stored at or after it (it
	// takes precedence over Since).
	Start time.Time
	// Until, when set, stops at the first event stored after it.
	Until time.Time
	// Stream names the stream to read (default: the one that holds
	// <prefix>.>, see findStream).
	Stream string
	// Progress, when set, is called every few thousand events read with the
	// stream sequence reached and the stream's last sequence at start, and
	// once more at the end with both equal.
	Progress func(read, total uint64)
	// Now is the current time (for Since); nil: time.Now.
	Now func() time.Time
	// Name is the connection's name, as the NATS server shows it (default
	// "arbiter").
	Name string
	// Subject filters the events read (default <prefix>.>, or the whole of
	// the stream named by Stream), e.g. "arbiter.rules.reloaded".
	Subject string
}

// Message is one event read back from the stream.
type Message struct {
	Subject string
	Data    []byte
	// Stored is when the stream stored it.
	Stored time.Time
}

// ReadStream reads the stream holding <prefix>.> from its start (or from
// now - Since) up to its last event at the time of the call, and calls fn
// with every event, in stream order. It returns the stream's name. The
// server must have JetStream.
func ReadStream(ctx context.Context, url string, opts ReadOptions, fn func(Message)) (string, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Name == "" {
		opts.Name = "arbiter"
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.Name(opts.Name))
	if err != nil {
		return "", fmt.Errorf("connect to NATS at %s: %w", redact.URL(url), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	var stream jetstream.Stream
	if opts.Stream != "" {
		stream, err = js.Stream(ctx, opts.Stream)
		if err != nil {
			return "", fmt.Errorf("stream %s: %w (list the streams with `nats stream ls`; Arbiter's is the prefix upper-cased, e.g. ARBITER)", opts.Stream, err)
		}
	} else if stream, err = findStream(ctx, js, opts.Prefix); err != nil {
		return "", err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", stream.CachedInfo().Config.Name, err)
	}
	last := info.State.LastSeq
	cfg := jetstream.OrderedConsumerConfig{}
	switch {
	case opts.Subject != "":
		cfg.FilterSubjects = []string{opts.Subject}
	case opts.Stream == "": // the stream found by the prefix: its events
		cfg.FilterSubjects = []string{opts.Prefix + ".>"}
	}
	start := opts.Start
	if start.IsZero() && opts.Since > 0 {
		start = opts.Now().Add(-opts.Since)
	}
	if !start.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	if info.State.Msgs > 0 && (start.IsZero() || !info.State.LastTime.Before(start)) &&
		(opts.Until.IsZero() || !info.State.FirstTime.After(opts.Until)) {
		cons, err := stream.OrderedConsumer(ctx, cfg)
		if err != nil {
			return "", fmt.Errorf("stream %s: ordered consumer: %w", info.Config.Name, err)
		}
		var read uint64
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		err = readToEnd(rctx, cons, last, func(m jetstream.Msg, md *jetstream.MsgMetadata) {
			if !opts.Until.IsZero() && md.Timestamp.After(opts.Until) {
				stop() // the stream is in the order stored: nothing later is wanted
				return
			}
			fn(Message{Subject: m.Subject(), Data: m.Data(), Stored: md.Timestamp})
			read++
			if opts.Progress != nil && read%5000 == 0 {
				opts.Progress(md.Sequence.Stream, last)
			}
		})
		if err != nil && !(errors.Is(err, context.Canceled) && rctx.Err() != nil && ctx.Err() == nil) {
			return "", fmt.Errorf("stream %s: read: %w", info.Config.Name, err)
		}
	}
	if opts.Progress != nil {
		opts.Progress(last, last)
	}
	return info.Config.Name, nil
}

// readIdle is how long readToEnd waits for a message before it decides
// there are no more (nothing matched, or --since excluded the rest).
const readIdle = 2 * time.Second

// readToEnd reads cons in batches and calls fn for every message, until
// the message of stream sequence last (or the consumer has nothing
// pending), until no message came for readIdle, or until ctx is done.
func readToEnd(ctx context.Context, cons jetstream.Consumer, last uint64, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return err
	}
	defer it.Stop()
	activity := make(chan struct{}, 1)
	finished := make(chan struct{})
	defer close(finished)
	go func() { // the watchdog: stop the iterator when idle or canceled
		t := time.NewTimer(readIdle)
		defer t.Stop()
		for {
			select {
			case <-finished:
				return
			case <-activity:
				t.Reset(readIdle)
			case <-t.C:
				it.Stop()
				return
			case <-ctx.Done():
				it.Stop()
				return
			}
		}
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return err
		}
		select {
		case activity <- struct{}{}:
		default:
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		fn(m, md)
		if md.Sequence.Stream >= last || md.NumPending == 0 {
			return nil
		}
	}
}

// findStream finds the stream that holds <prefix>.>: the one named by
// StreamName(prefix), else whichever stream binds those subjects.
func findStream(ctx context.Context, js jetstream.JetStream, prefix string) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, StreamName(prefix))
	if err == nil {
		return s, nil
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return nil, fmt.Errorf("the NATS server has no JetStream: the events are not stored, so there is nothing to read back (%w)", err)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s: %w", StreamName(prefix), err)
	}
	name, err2 := js.StreamNameBySubject(ctx, prefix+".decision.x")
	if err2 != nil {
		return nil, fmt.Errorf("no JetStream stream holds %s.> (looked for %s): is Arbiter publishing with --nats pointing here, and is the prefix right?", prefix, StreamName(prefix))
	}
	return js.Stream(ctx, name)
}
