package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
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
		if noJetStream(err) {
			return "", noJetStreamError(err)
		}
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
		// One name for every attempt: an attempt answered too late made
		// the consumer that the next one updates, not another.
		cfg.NamePrefix = "arbiter_read_" + randomHex(8)
		cons, err := untilAnswered(ctx, func(ctx context.Context) (jetstream.Consumer, error) { return stream.OrderedConsumer(ctx, cfg) })
		if err != nil {
			return "", fmt.Errorf("stream %s: ordered consumer: %w", info.Config.Name, err)
		}
		var read uint64
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		// A pull brings at most pullBytes: the stream's events may be as large
		// as the server takes (max_payload, up to 64 MiB), and 1000 of them
		// a pull held up to 64 GB.
		maxMsg := max(nc.MaxPayload(), int64(info.Config.MaxMsgSize))
		err = readToEnd(rctx, cons, last, readLimits{idle: readIdle, patience: apiPatience, bytes: pullBytes(maxMsg)}, func(m jetstream.Msg, md *jetstream.MsgMetadata) {
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
// without a message while some are; and bytes, the most it keeps on its
// way from the server (pulled and not yet read; 0: minPullBytes), which
// must be at least twice the largest message (pullBytes).
type readLimits struct {
	idle, patience time.Duration
	bytes          int
}

// readIdle is ReadStream's readLimits.idle.
const readIdle = 2 * time.Second

// apiWait bounds one JetStream API request of a read, and apiPatience how
// long a read asks again when its requests go unanswered or its events
// stop coming while the server says some are left: a clustered stream
// whose leader just moved leaves a request unanswered now and then (one
// waited for its caller's whole deadline; without one, as the commands
// call it, it failed after nats.go's default 5 s).
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

// unanswered reports whether err is a request that got no answer in time,
// or JetStream's "temporarily unavailable", while ctx still runs: worth
// asking again. "No responders" is not: every server of a JetStream
// cluster answers its API, even while a stream has no leader, so nobody
// answering means a server without JetStream.
func unanswered(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		(errors.As(err, &apiErr) && apiErr.Code == 503 &&
			apiErr.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabled && apiErr.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabledForAccount)
}

// readToEnd reads cons in pulls of at most lim.bytes and calls fn for
// every message, until the message of stream sequence last (or the
// consumer has nothing pending), or until ctx is done. When no message came for lim.idle (time
// spent in fn does not count) it asks the server: when the consumer has
// nothing left and has delivered nothing fn has not had, the read is
// complete; otherwise (a stream whose leader moved stops sending for a
// moment) it waits on, and after lim.patience without a message it fails
// with errStalled rather than return part of the stream as if it were all.
func readToEnd(ctx context.Context, cons jetstream.Consumer, last uint64, lim readLimits, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	if lim.bytes <= 0 {
		lim.bytes = minPullBytes
	}
	// Bounded in bytes, not in messages: as many small events as fit, and
	// a few large ones.
	it, err := cons.Messages(jetstream.PullMaxBytes(lim.bytes))
	if err != nil {
		return err
	}
	defer it.Stop()
	w := &readWatch{cons: cons, it: it, lim: lim, activity: make(chan struct{}, 1), finished: make(chan struct{}), stalled: make(chan error, 1)}
	defer close(w.finished)
	go w.run(ctx)
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				select {
				case err := <-w.stalled:
					return err
				default:
				}
				return ctx.Err()
			}
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		w.busy.Store(true)
		fn(m, md)
		w.seen.Store(&seenMark{consumer: md.Consumer, seq: md.Sequence.Consumer})
		w.busy.Store(false)
		select {
		case w.activity <- struct{}{}:
		default:
		}
		if md.Sequence.Stream >= last || md.NumPending == 0 {
			return nil
		}
	}
}

// readWatch is readToEnd's watchdog: it ends the read when the server has
// nothing more for it, and fails it when the stream stalls.
type readWatch struct {
	cons     jetstream.Consumer
	it       jetstream.MessagesContext
	lim      readLimits
	busy     atomic.Bool              // the reader is in fn: the time is the caller's, not the stream's
	seen     atomic.Pointer[seenMark] // the last message fn got
	activity chan struct{}            // a message went through fn
	finished chan struct{}            // readToEnd returned
	stalled  chan error               // why the watchdog stopped the read, when it failed it
}

func (w *readWatch) run(ctx context.Context) {
	t := time.NewTimer(w.lim.idle)
	defer t.Stop()
	quiet := time.Now() // since when no message came
	for {
		select {
		case <-w.finished:
			return
		case <-ctx.Done():
			w.it.Stop()
			return
		case <-w.activity:
			quiet = time.Now()
			t.Reset(w.lim.idle)
			continue
		case <-t.C:
		}
		if w.busy.Load() {
			quiet = time.Now()
			t.Reset(w.lim.idle)
			continue
		}
		info, moved, err := w.pending(ctx)
		select {
		case <-w.finished:
			return
		default:
		}
		if moved || w.busy.Load() {
			quiet = time.Now()
			t.Reset(w.lim.idle)
			continue
		}
		switch {
		case ctx.Err() != nil:
			w.it.Stop()
			return
		case err == nil && info.NumPending == 0 && w.allSeen(info):
			w.it.Drain() // nothing left that matches, nothing on its way
			return
		case time.Since(quiet) >= w.lim.patience:
			left := "an unknown number"
			if err == nil {
				left = strconv.FormatUint(info.NumPending, 10)
			}
			e := fmt.Errorf("%w: none came for %s with %s still to read (read it again)", errStalled, w.lim.patience, left)
			if err != nil {
				e = fmt.Errorf("%w; asked what was left, the server: %v", e, err)
			}
			w.stalled <- e
			w.it.Stop()
			return
		}
		t.Reset(w.lim.idle)
	}
}

// seenMark is the last message readToEnd's fn got: the consumer that
// delivered it (an ordered consumer is made again after a gap, under a new
// name) and its delivery sequence.
type seenMark struct {
	consumer string
	seq      uint64
}

// allSeen reports whether fn has had every message the consumer of info
// delivered: none is in the iterator's buffer or on its way.
func (w *readWatch) allSeen(info *jetstream.ConsumerInfo) bool {
	if info.Delivered.Consumer == 0 {
		return true
	}
	m := w.seen.Load()
	return m != nil && m.consumer == info.Name && info.Delivered.Consumer <= m.seq
}

// pending asks the server what the consumer has left, for at most apiWait:
// an ordered consumer that is being reset holds its lock for as long as
// the reset takes, so Info is asked aside. moved: a message came
// meanwhile (the answer, if any, is then stale).
func (w *readWatch) pending(ctx context.Context) (info *jetstream.ConsumerInfo, moved bool, err error) {
	ictx, cancel := context.WithTimeout(ctx, apiWait)
	defer cancel()
	type answer struct {
		info *jetstream.ConsumerInfo
		err  error
	}
	res := make(chan answer, 1)
	go func() {
		i, err := w.cons.Info(ictx)
		res <- answer{i, err}
	}()
	select {
	case a := <-res:
		info, err = a.info, a.err
	case <-ictx.Done():
		err = ictx.Err()
	case <-w.activity:
		return nil, true, nil
	case <-w.finished:
		return nil, false, context.Canceled
	}
	select {
	case <-w.activity:
		return nil, true, nil
	default:
	}
	return info, false, err
}

// noJetStream reports whether err says the server has no JetStream (for
// the account).
func noJetStream(err error) bool {
	return errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) || errors.Is(err, nats.ErrNoResponders)
}

// noJetStreamError is what a read says when the server has no JetStream.
func noJetStreamError(err error) error {
	return fmt.Errorf("the NATS server has no JetStream: the events are not stored, so there is nothing to read back (%w)", err)
}

// findStream finds the stream that holds <prefix>.>: the one named by
// StreamName(prefix), else whichever stream binds those subjects.
func findStream(ctx context.Context, js jetstream.JetStream, prefix string) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, StreamName(prefix))
	if err == nil {
		return s, nil
	}
	if noJetStream(err) {
		return nil, noJetStreamError(err)
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

// pullBytes is what a read keeps on its way at most, in its pulls and the
// client's buffer, from a server whose largest message is maxMsg bytes:
// 8 MiB, or room for two of the largest messages with their headers and
// subjects (nats.go asks for at least half of it in a pull, and a message
// larger than a pull's max_bytes would stall the read).
func pullBytes(maxMsg int64) int {
	return int(max(minPullBytes, 2*(maxMsg+pullOverhead)))
}

// minPullBytes and pullOverhead: see pullBytes.
const (
	minPullBytes = 8 << 20
	pullOverhead = 64 << 10
)

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}
