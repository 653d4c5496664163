package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
		stream, err = untilAnswered(ctx, func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, opts.Stream) })
		if err != nil {
			return "", fmt.Errorf("stream %s: %w (list the streams with `nats stream ls`; Arbiter's is the prefix upper-cased, e.g. ARBITER)", opts.Stream, err)
		}
	} else if stream, err = untilAnswered(ctx, func(ctx context.Context) (jetstream.Stream, error) { return findStream(ctx, js, opts.Prefix) }); err != nil {
		return "", err
	}
	info, err := untilAnswered(ctx, func(ctx context.Context) (*jetstream.StreamInfo, error) { return stream.Info(ctx) })
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
		cons, err := untilAnswered(ctx, func(ctx context.Context) (jetstream.Consumer, error) { return stream.OrderedConsumer(ctx, cfg) })
		if err != nil {
			return "", fmt.Errorf("stream %s: ordered consumer: %w", info.Config.Name, err)
		}
		var read uint64
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		err = readToEnd(rctx, cons, last, readLimits{idle: readIdle, patience: apiPatience}, func(m jetstream.Msg, md *jetstream.MsgMetadata) {
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

// readLimits are readToEnd's waits: idle, how long it waits for a message
// before it asks the server whether any are left (none: nothing more
// matched, or --since excluded the rest); patience, how long it waits on
// without a message while some are.
type readLimits struct{ idle, patience time.Duration }

// readIdle is ReadStream's readLimits.idle.
const readIdle = 2 * time.Second

// apiWait bounds one JetStream API request of a read, and apiPatience how
// long a read asks again when its requests go unanswered or its events
// stop coming while the server says some are left: a clustered stream
// whose leader just moved answers nothing for a moment (a request to it
// waited for the caller's whole deadline, the reports' ten minutes).
const (
	apiWait     = 5 * time.Second
	apiPatience = 30 * time.Second
)

// errStalled is the error of a read whose events stopped coming while the
// stream still held some for it.
var errStalled = errors.New("the stream stopped sending events it still holds")

// untilAnswered calls f, each time with at most apiWait, until it is
// answered, ctx is done or apiPatience is spent. Only an unanswered
// request is asked again (see unanswered); any other error, such as no
// such stream, is returned at once.
func untilAnswered[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	give := time.Now().Add(apiPatience)
	for {
		actx, cancel := context.WithTimeout(ctx, apiWait)
		v, err := f(actx)
		cancel()
		if err == nil || !unanswered(ctx, err) {
			return v, err
		}
		if time.Now().After(give) {
			return v, fmt.Errorf("no answer from the NATS server within %s (a clustered stream electing its leader, or a server down?): %w", apiPatience, err)
		}
		t := time.NewTimer(apiWait / 20)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-t.C:
		}
	}
}

// unanswered reports whether err is a request that found nobody to answer
// it or got no answer in time, while ctx still runs: worth asking again.
func unanswered(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || (errors.As(err, &apiErr) && apiErr.Code == 503 &&
		apiErr.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabled && apiErr.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabledForAccount)
}

// readToEnd reads cons in batches and calls fn for every message, until
// the message of stream sequence last (or the consumer has nothing
// pending), or until ctx is done. When no message came for lim.idle it
// asks the server: with nothing left for the consumer the read is
// complete; with some left (a stream whose leader moved stops sending
// for a moment) it waits on, and after lim.patience without a message it
// fails with errStalled rather than return part of the stream as if it
// were all.
func readToEnd(ctx context.Context, cons jetstream.Consumer, last uint64, lim readLimits, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return err
	}
	defer it.Stop()
	activity := make(chan struct{}, 1)
	finished := make(chan struct{})
	stalled := make(chan error, 1) // the watchdog's reason to stop, if an error
	defer close(finished)
	go func() { // the watchdog: stop the iterator when done, stalled or canceled
		t := time.NewTimer(lim.idle)
		defer t.Stop()
		quiet := time.Now()
		for {
			select {
			case <-finished:
				return
			case <-activity:
				quiet = time.Now()
				t.Reset(lim.idle)
			case <-t.C:
				ictx, cancel := context.WithTimeout(ctx, apiWait)
				info, err := cons.Info(ictx)
				cancel()
				switch {
				case err == nil && info.NumPending == 0:
					it.Stop() // nothing left that matches
					return
				case time.Since(quiet) >= lim.patience:
					pending := "an unknown number"
					if err == nil {
						pending = strconv.FormatUint(info.NumPending, 10)
					}
					stalled <- fmt.Errorf("%w: none came for %s with %s still to read (read it again)", errStalled, lim.patience, pending)
					it.Stop()
					return
				}
				t.Reset(lim.idle)
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
				select {
				case err := <-stalled:
					return err
				default:
				}
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
	if err2 != nil && unanswered(ctx, err2) {
		return nil, err2
	}
	if err2 != nil {
		return nil, fmt.Errorf("no JetStream stream holds %s.> (looked for %s): is Arbiter publishing with --nats pointing here, and is the prefix right?", prefix, StreamName(prefix))
	}
	return js.Stream(ctx, name)
}
