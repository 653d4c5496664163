// Package events publishes Arbiter's decision, outcome and reload events to
// NATS (JetStream when the server has it, core NATS otherwise), reads them
// back for `arbiter events tail` and `arbiter experiments report`, and runs
// an embedded NATS server for the demo and the tests.
//
// The events are encoded by package wire (wire.Message: their JSON, id and
// subject). The hot path only ever touches Publisher.Publish, which never
// blocks: a bounded buffer sits between it and one publisher goroutine
// that publishes with acknowledgements and resends what was not
// acknowledged.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/redact"
	"github.com/arbiterhq/arbiter/wire"
)

// Defaults of Options.
const (
	DefaultPrefix   = "arbiter"
	DefaultBuffer   = 65536
	DefaultInFlight = 4096
	// AckEvery: of the events sent in a burst to a single server's
	// stream, every AckEvery-th (and the last) asks JetStream for an
	// acknowledgement, which covers those before it on the connection. In
	// a NATS cluster every event asks for its own.
	AckEvery          = 64
	DefaultMaxAge     = 7 * 24 * time.Hour
	DefaultDuplicates = 2 * time.Minute
	DefaultAckTimeout = 5 * time.Second
)

// Options configure a Publisher. Zero values take the defaults.
type Options struct {
	// Prefix of every subject (default "arbiter"): events go to
	// <prefix>.decision.<placement>, <prefix>.outcome.<type> and
	// <prefix>.rules.reloaded.
	Prefix string
	// Stream is the JetStream stream created on <prefix>.> when missing
	// (default: StreamName(Prefix), "ARBITER" for the default prefix).
	Stream string
	// Buffer bounds the events waiting between Publish and the publisher
	// goroutine (default 65536). When it is full, Publish drops the event
	// and counts it in Stats().Dropped.
	Buffer int
	// InFlight bounds the events taken from the buffer that are published
	// and not yet acknowledged, or waiting for NATS to come back (default
	// 4096). They count in Stats().Buffered.
	InFlight int
	// MaxAge is the stream's retention: older events are deleted (default 7
	// days). Used only when the stream is created.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size; the oldest events go first
	// (default 0: no limit). Used only when the stream is created.
	MaxBytes int64
	// Duplicates is the stream's deduplication window: an event published
	// again with the same id within it is stored once (default 2 minutes).
	// Used only when the stream is created.
	Duplicates time.Duration
	// AsyncPersist creates the stream with JetStream's asynchronous
	// persistence (PersistMode async: its file store writes to disk in
	// batches, in the background, and acknowledges an event once it holds
	// it in memory). For an embedded server's stream, which lives only as
	// long as the process (serve's store directory is a new temporary one
	// each time), it loses nothing. Used only when the stream is created.
	AsyncPersist bool
	// Memory creates the stream in the server's memory (JetStream's
	// MemoryStorage) instead of files: for an embedded server, whose stream
	// lives only as long as the process anyway, it saves the file store's
	// block buffers and writes. Give MaxBytes with it: the oldest events
	// go first once the stream holds that much. Used only when the stream
	// is created.
	Memory bool
	// Replicas of the stream in a NATS cluster. 0: 1 when the stream is
	// created, and an existing stream is left as it is. N > 0 (serve
	// --stream-replicas): the stream is created with N, and an existing
	// stream with another count is updated to N (JetStream moves or adds
	// the copies); a count the cluster cannot place is a *ReplicasError.
	Replicas int
	// Linger, when positive, holds an event that finds the publisher idle
	// for up to this long before it is sent, with the events that arrive
	// meanwhile (up to AckEvery of them): the publisher goroutine, the
	// connection and the server then wake once for a batch instead of once
	// for every event. Decisions do not wait for it (Publish never does);
	// their events reach the stream up to Linger later. 0: send at once.
	Linger time.Duration
	// AckTimeout is how long an event may wait for its acknowledgement
	// before it is sent again (default 5s).
	AckTimeout time.Duration
	// ReconnectWait is the pause between reconnection attempts (default 1s).
	ReconnectWait time.Duration
	// Name is the NATS connection's name (default "arbiter").
	Name string
	// InProcess, when set, connects to a server in this process without a
	// socket (an *EmbeddedNATS): the URL is then only named in logs.
	InProcess nats.InProcessConnProvider
	// Logger receives connection changes, stream creation and (at most every
	// 10 s) drops; nil: slog.Default().
	Logger *slog.Logger
	// Stored, when set, is called with each event the stream acknowledged
	// having stored (an acknowledgement covers the events sent before it
	// on its connection), once, in the order stored (the order published,
	// but for an event parked after a 409, which is stored after the events
	// behind it: see parkedMsg), by the publisher goroutine and before the
	// event's message is released: it must copy what it keeps, and return
	// at once. The embedded server's live counters count the
	// decisions from it (expcounters.Published).
	Stored func(e *wire.Message)
}

func (o *Options) setDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Stream == "" {
		o.Stream = StreamName(o.Prefix)
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.InFlight <= 0 {
		o.InFlight = DefaultInFlight
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Duplicates <= 0 {
		o.Duplicates = DefaultDuplicates
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = time.Second
	}
	if o.Name == "" {
		o.Name = "arbiter"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// InProcessOption is the nats.Connect option of o.InProcess: connect to
// that server without a socket, or, when it is nil, nothing.
func (o Options) InProcessOption() nats.Option {
	if o.InProcess == nil {
		return func(*nats.Options) error { return nil }
	}
	return nats.InProcessServer(o.InProcess)
}

// StreamName is the default stream name for a subject prefix: the prefix
// upper-cased, with every character that is not a letter, a digit, '-' or
// '_' replaced by '_' ("arbiter" gives "ARBITER").
func StreamName(prefix string) string {
	b := []byte(strings.ToUpper(prefix))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// StreamConfig is the configuration of the stream the Publisher creates
// when it is missing.
func StreamConfig(o Options) jetstream.StreamConfig {
	o.setDefaults()
	return jetstream.StreamConfig{
		Name:        o.Stream,
		Description: "Arbiter decision, outcome and reload events",
		Subjects:    []string{o.Prefix + ".>"},
		Storage:     storage(o.Memory),
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      o.MaxAge,
		MaxBytes:    nonZero(o.MaxBytes),
		MaxMsgs:     -1,
		Duplicates:  o.Duplicates,
		Replicas:    o.Replicas,
		PersistMode: persistMode(o.AsyncPersist),
	}
}

func storage(memory bool) jetstream.StorageType {
	if memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func persistMode(async bool) jetstream.PersistModeType {
	if async {
		return jetstream.AsyncPersistMode
	}
	return jetstream.DefaultPersistMode
}

func nonZero(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Stats are the Publisher's counters, for the metrics.
type Stats struct {
	// Published counts events acknowledged by JetStream (or, on a server
	// without JetStream, handed to the connection).
	Published uint64
	// Buffered is the number of events waiting now: in the buffer, in
	// flight, or held while NATS is unreachable.
	Buffered uint64
	// Dropped counts events lost: the buffer was full, the publisher was
	// closed, or the server refused the event for good (too large).
	Dropped uint64
	// Truncated counts decision events published without their request
	// ("request_truncated": true) because they would have exceeded the
	// stream's max_msg_size or the server's max_payload.
	Truncated uint64
	// Resent counts events sent again because no acknowledgement covered
	// them (the connection dropped, or none came within the ack timeout).
	// JetStream stores such an event once when it comes back within the
	// stream's duplicate window; after it, an event that the stream had
	// stored before its acknowledgement was lost is stored twice, so the
	// duplicates in a stream are never more than this.
	Resent uint64
	// Parked is the number of events waiting apart now, after a cluster's
	// stream answered that their id was in process (parkedMsg); they count
	// in Buffered too.
	Parked uint64
}

// Publisher publishes events to NATS. It is the sink of the HTTP API
// (httpapi.Sink); all its methods are safe for concurrent use.
type Publisher struct {
	opts Options
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream

	ch    chan *wire.Message
	wake  chan struct{} // connection state changed
	full  chan struct{} // AckEvery events wait in ch (ends a linger)
	stop  chan struct{} // Close was called
	abort chan struct{} // Close's context ended: give up
	done  chan struct{} // the publisher goroutine has returned

	closeOnce sync.Once
	closed    atomic.Bool
	// gate: its gateClosed bit is set by Close; its other bits count the
	// Publish calls that found it open and have not yet put their event in
	// ch (or dropped it). Close waits for them before it counts what is
	// left, so that no event enters ch after it has been counted and
	// emptied: serve closes the publisher while requests that outlived the
	// shutdown timeout still publish.
	gate atomic.Uint64
	// closedLog: the first event published after Close has been logged.
	closedLog atomic.Bool
	// beforeSend, when set (tests only), is called by Publish between its
	// check of the gate and its send.
	beforeSend func()
	// firstConn: the first connection is counted in conns. NewPublisher
	// counts it when Connect returns connected, and nats.go then also
	// calls the connect handler for it, later, from its own goroutine:
	// counted twice, the publisher took the second count for a new
	// connection and resent everything it had sent on the first
	// (TestPublisherParksAnEventWhoseIdIsInProcess saw it, one run in
	// about ten).
	firstConn atomic.Bool
	conns     atomic.Uint64 // (re)connections so far

	published atomic.Uint64
	dropped   atomic.Uint64
	truncated atomic.Uint64
	resent    atomic.Uint64
	lastTrunc atomic.Int64 // unix nanos of the last truncation log

	// noRetry goes with every publish that asks for an acknowledgement:
	// nats.go does not send it again by itself when the stream does not
	// answer (no responders). Its retry, 250 ms later, found a stream back
	// and was acknowledged for the plain publishes before it that had found
	// none; and it read a message the publisher had meanwhile resent,
	// recycled and rewritten. The publisher resends, after a pause.
	noRetry []jetstream.PublishOpt

	rulesets rulesetKeeper // KeepRuleset
	inflight atomic.Int64
	parked   atomic.Int64 // len of run's parked
	lastDrop atomic.Int64 // unix nanos of the last drop log
	loggedAt atomic.Uint64
}

// CheckURL checks that url names NATS servers: one URL or several,
// comma-separated, each nats://, tls://, ws://, wss:// or a bare
// HOST:PORT. The NATS client tries any other scheme as NATS, so that a
// Redis URL given for NATS (the two swapped) would only ever be "not
// reachable yet" while the events it should carry piled up and were
// dropped.
func CheckURL(url string) error {
	for _, u := range strings.Split(url, ",") {
		u = strings.TrimSpace(u)
		scheme, _, ok := strings.Cut(u, "://")
		if !ok {
			continue
		}
		switch strings.ToLower(scheme) {
		case "nats", "tls", "ws", "wss":
			continue
		}
		return fmt.Errorf("NATS URL %q: %q is not a NATS scheme: write nats://HOST:4222 (or tls://, ws://, wss://)", redact.URL(u), scheme)
	}
	return nil
}

// NewPublisher connects to the NATS server at url and starts the publisher
// goroutine. It does not wait for the server: when NATS is down, it returns
// at once and the events wait in the buffer until the connection is made.
// ctx is not kept; the error is non-nil only for an unusable url or
// options.
func NewPublisher(ctx context.Context, url string, opts Options) (*Publisher, error) {
	opts.setDefaults()
	p := &Publisher{
		opts:  opts,
		log:   opts.Logger.With("component", "events"),
		ch:    make(chan *wire.Message, opts.Buffer),
		wake:  make(chan struct{}, 1),
		full:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		abort: make(chan struct{}),
		done:  make(chan struct{}),

		noRetry: []jetstream.PublishOpt{jetstream.WithRetryAttempts(0)},
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckURL(url); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url,
		opts.InProcessOption(),
		nats.Name(opts.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.Timeout(2*time.Second),
		// No hidden second buffer: while disconnected, publishing fails at
		// once and the events stay in ours, in order.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) {
			p.log.Info("events: connected to NATS", "url", redact.URL(url))
			if p.firstConn.CompareAndSwap(false, true) {
				p.conns.Add(1)
			}
			p.poke()
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			p.log.Info("events: reconnected to NATS", "url", redact.URL(url))
			p.conns.Add(1)
			p.poke()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !p.closed.Load() {
				p.log.Warn("events: disconnected from NATS; events are buffered", "url", redact.URL(url), "err", err)
			}
			p.poke()
		}),
		nats.ClosedHandler(func(*nats.Conn) { p.poke() }),
	)
	if err != nil {
		return nil, fmt.Errorf("events: connect to NATS at %q: %w", redact.URL(url), err)
	}
	if nc.IsConnected() {
		if p.firstConn.CompareAndSwap(false, true) {
			p.conns.Add(1)
		}
	} else {
		p.log.Warn("events: NATS not reachable yet; events are buffered until it is", "url", redact.URL(url))
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4*opts.InFlight),
		jetstream.WithPublishAsyncTimeout(opts.AckTimeout),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("events: JetStream context: %w", err)
	}
	p.nc, p.js = nc, js
	go p.run()
	return p, nil
}

// Publish queues e for publication on e.Subject(prefix) and returns at
// once. When the buffer is full (NATS has been unreachable for long, or is
// too slow), the event is dropped and counted. After Close (requests still
// in flight at the shutdown timeout), the event is dropped, counted, and
// the first such drop logged. e must not be changed after the call.
func (p *Publisher) Publish(e *wire.Message) {
	if e == nil {
		return
	}
	if p.gate.Add(1)&gateClosed != 0 {
		p.gate.Add(^uint64(0))
		p.dropClosed(e)
		return
	}
	if p.beforeSend != nil {
		p.beforeSend()
	}
	select {
	case p.ch <- e:
		if p.opts.Linger > 0 && len(p.ch) >= AckEvery {
			select {
			case p.full <- struct{}{}:
			default:
			}
		}
	default:
		p.drop(1, "event buffer full")
		e.Release()
	}
	p.gate.Add(^uint64(0))
}

// gateClosed is the bit of Publisher.gate that Close sets.
const gateClosed = 1 << 63

// dropClosed counts e, published after Close, as dropped, and logs the
// first such event (there may be one for every request that outlived the
// shutdown timeout).
func (p *Publisher) dropClosed(e *wire.Message) {
	total := p.dropped.Add(1)
	if p.closedLog.CompareAndSwap(false, true) {
		p.log.Warn("events: an event published after the publisher closed (a request still running at the shutdown timeout); dropped, and so are any after it",
			"subject", e.Subject(p.opts.Prefix), "dropped_total", total)
	}
	e.Release()
}

// drop counts n lost events and logs at most once every 10 seconds.
func (p *Publisher) drop(n uint64, why string) {
	total := p.dropped.Add(n)
	now := time.Now().UnixNano()
	last := p.lastDrop.Load()
	if now-last < int64(10*time.Second) || !p.lastDrop.CompareAndSwap(last, now) {
		return
	}
	since := total - p.loggedAt.Swap(total)
	p.log.Error("events: events dropped", "reason", why, "dropped_since_last_log", since,
		"dropped_total", total, "buffer", p.opts.Buffer)
}

// Stats returns the counters.
func (p *Publisher) Stats() Stats {
	in := p.inflight.Load()
	if in < 0 {
		in = 0
	}
	return Stats{
		Published: p.published.Load(),
		Buffered:  uint64(len(p.ch)) + uint64(in),
		Dropped:   p.dropped.Load(),
		Truncated: p.truncated.Load(),
		Resent:    p.resent.Load(),
		Parked:    uint64(max(p.parked.Load(), 0)),
	}
}

// Connected reports whether the connection to NATS is up now (for
// readiness checks; events are buffered while it is not).
func (p *Publisher) Connected() bool { return p.nc.IsConnected() }

// Close stops accepting events, publishes what is buffered and closes the
// connection. It waits for the acknowledgements at most until ctx is done;
// then the events still waiting are counted as dropped and the error says
// how many.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.gate.Or(gateClosed)
		p.closed.Store(true)
		close(p.stop)
	})
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		select {
		case <-p.abort:
		default:
			close(p.abort)
		}
		<-p.done
		err = ctx.Err()
	}
	p.nc.Close()
	// A Publish that found the gate open before Close shut it may not have
	// put its event in ch yet: it does at once (it never waits), and the
	// event must be counted below, not left in ch after it.
	for p.gate.Load() != gateClosed {
		runtime.Gosched()
	}
	left := uint64(max(p.inflight.Swap(0), 0))
	p.parked.Store(0)
	for drained := false; !drained; {
		select {
		case e := <-p.ch:
			e.Release()
			left++
		default:
			drained = true
		}
	}
	if left > 0 {
		p.dropped.Add(left)
		if err == nil {
			err = errors.New("publisher stopped")
		}
		return fmt.Errorf("events: %d events not published: %w", left, err)
	}
	return nil
}

func (p *Publisher) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// errCodeDuplicateInProcess is JetStream's answer (409) to an event whose
// id the stream's leader is storing at that moment, from an earlier copy:
// whether it is stored is not known yet, and the nats-server's own tests
// ask again a moment later.
const errCodeDuplicateInProcess jetstream.ErrorCode = 10158

// outMsg is an encoded event on its way: fut is nil until it has been sent
// since the last reset.
type outMsg struct {
	msg *nats.Msg
	ev  *wire.Message // what msg was made of (Fit cuts a decision's request)
	fut jetstream.PubAckFuture
	gen uint64 // the connection it was sent on
}

// streamLimits is what the publisher must know of the stream to send
// events without an acknowledgement each.
type streamLimits struct {
	// ackEvery: 1 when the stream may refuse an event for reasons of its
	// own (DiscardNew limits, per-subject limits), since a plain publish
	// it refuses gets no answer, and when it lives in a NATS cluster
	// (clustered); else AckEvery. It becomes 1 after a refusal other than
	// for size, until the stream is set up again.
	ackEvery int
	// maxMsgSize: an event of about this size or more always asks for an
	// acknowledgement, so that a refusal is seen (0: no limit).
	maxMsgSize int
	// fit is the most bytes a message (headers and data) may have: the
	// smaller of the stream's max_msg_size and the server's max_payload (0:
	// no limit known). A decision event that would exceed it is sent
	// without its request.
	fit int
	// duplicates is the stream's duplicate window: a parked event is asked
	// again once it has passed (parkedMsg).
	duplicates time.Duration
}

type mode int

const (
	modeUnknown mode = iota
	modeJetStream
	modeCore
)

// run is the publisher goroutine: it owns the queue of encoded events, in
// order, and the connection's state.
func (p *Publisher) run() {
	defer close(p.done)
	var (
		q        []outMsg // in order; q[:sent] have been sent and wait for their acks
		sent     int
		ready    bool // connected, and the stream ensured (or core mode)
		md       = modeUnknown
		limits   streamLimits
		setupGen uint64
		// setupFailed: set-up attempts failed in a row; setUp: one has
		// succeeded since the publisher started (setupWait).
		setupFailed int
		setUp       bool
		closing     bool
		retry       *time.Timer
		rc          recycler
		// lingering: the unsent events of q wait for linger to fire
		// (Options.Linger) before they are sent.
		lingering bool
		linger    *time.Timer
		// pauseUntil: the stream is not set up again (and the queue not
		// resent) before then: after a failed set-up, or an answer that
		// stored nothing. A deadline, not a timer started again at every
		// turn of the loop: under load an event arrives every few
		// milliseconds, and such a timer never fired while the load lasted.
		pauseUntil time.Time
		// parked: events the stream answered 409 "in process" for, taken
		// out of q so that the events after them go on; each is asked
		// again at its own time (parkedMsg).
		parked    []parkedMsg
		parkTimer *time.Timer
	)
	defer func() {
		if retry != nil {
			retry.Stop()
		}
		if linger != nil {
			linger.Stop()
		}
		if parkTimer != nil {
			parkTimer.Stop()
		}
	}()
	var sinceAck int
	reset := func() { // nothing in flight any more: send everything again
		p.resent.Add(uint64(sent))
		for i := range q[:sent] {
			q[i].fut = nil
		}
		for i := range parked { // asked again at their time, on the new set-up
			parked[i].fut = nil
		}
		sent, sinceAck = 0, 0
		ready = false
	}
	pop := func() { // q[0] is done with: acknowledged, published or dropped
		rc.putMsg(q[0].msg)
		q[0].ev.Release() // its bytes too (a pooled decision message)
		q[0] = outMsg{}
		q = q[1:]
		if sent > 0 {
			sent--
		}
		p.inflight.Add(-1)
	}
	// sinceAck counts the messages sent without asking for an
	// acknowledgement since the last one that did.
	rewind := func() { // send again everything not acknowledged (the ids make it idempotent)
		p.resent.Add(uint64(sent))
		for i := range q[:sent] {
			q[i].fut = nil
		}
		sent, sinceAck = 0, 0
	}
	for {
		// Close's context has ended: give up before anything that may
		// wait on the server (a select below may have picked another ready
		// case over the abort).
		select {
		case <-p.abort:
			return
		default:
		}
		// (Re)connect: ensure the stream after every new connection.
		if gen := p.conns.Load(); gen != setupGen && p.nc.IsConnected() {
			reset()
			setupGen = gen
			pauseUntil = time.Time{}
			setupFailed = 0
		}
		if !ready && p.nc.IsConnected() && !time.Now().Before(pauseUntil) {
			var err error
			md, limits, err = p.setup(setupFailed, setUp)
			if err != nil {
				setupFailed++
				pauseUntil = time.Now().Add(p.opts.ReconnectWait)
				p.log.Warn("events: cannot set up the JetStream stream; retrying", "stream", p.opts.Stream, "err", err)
			} else {
				ready, setupFailed, setUp = true, 0, true
			}
		}
		// Send what has not been sent, on the connection the stream was
		// set up for.
		if lingering && (len(q)-sent >= AckEvery || closing) {
			lingering = false
			linger.Stop()
		}
		for ready && !lingering && sent < len(q) && p.conns.Load() == setupGen {
			m := &q[sent]
			p.fit(m, limits.fit)
			if md == modeCore {
				if err := p.nc.PublishMsg(m.msg); err != nil {
					if p.droppedForSize(err, m.msg) {
						pop()
						continue
					}
					ready = false
					pauseUntil = time.Now().Add(p.opts.ReconnectWait)
					break
				}
				p.published.Add(1)
				pop()
				continue
			}
			// JetStream acknowledges only the messages that ask for it: every
			// AckEvery-th, and the last one waiting. Those between go as
			// plain publishes on the same connection, which a single
			// server's stream stores in order, so the acknowledgement of a
			// later one says they were processed; when it does not come,
			// all are sent again and the stream drops the duplicates by id.
			// In a cluster every message asks (clustered).
			plain := sent < len(q)-1 && sinceAck < limits.ackEvery-1 &&
				(limits.maxMsgSize <= 0 || len(m.msg.Data)+len(m.msg.Subject)+256 < limits.maxMsgSize)
			var fut jetstream.PubAckFuture
			var err error
			if plain {
				err = p.nc.PublishMsg(m.msg)
			} else {
				fut, err = p.js.PublishMsgAsync(m.msg, p.noRetry...)
			}
			if err != nil {
				if p.droppedForSize(err, m.msg) {
					rc.putMsg(m.msg)
					m.ev.Release()
					q = removeAt(q, sent)
					p.inflight.Add(-1)
					continue
				}
				reset()
				pauseUntil = time.Now().Add(p.opts.ReconnectWait)
				break
			}
			m.fut, m.gen = fut, setupGen
			sent++
			if plain {
				sinceAck++
			} else {
				sinceAck = 0
			}
		}
		// The parked events whose time has come are asked again.
		if ready && len(parked) > 0 && p.conns.Load() == setupGen {
			now := time.Now()
			for i := 0; i < len(parked); i++ {
				pm := &parked[i]
				if pm.fut != nil || now.Before(pm.next) {
					continue
				}
				p.fit(&pm.outMsg, limits.fit) // the server may be another one now
				var fut jetstream.PubAckFuture
				var err error
				if md == modeCore { // the server lost JetStream: as any event now
					err = p.nc.PublishMsg(pm.msg)
				} else {
					fut, err = p.js.PublishMsgAsync(pm.msg, p.noRetry...)
				}
				if p.droppedForSize(err, pm.msg) {
					parked = p.unpark(&rc, parked, i)
					i--
					continue
				}
				if err != nil {
					reset()
					pauseUntil = now.Add(p.opts.ReconnectWait)
					break
				}
				if md == modeCore {
					p.published.Add(1)
					parked = p.unpark(&rc, parked, i)
					i--
					continue
				}
				pm.fut, pm.gen = fut, setupGen
				pm.tries++
				p.resent.Add(1)
			}
		}
		// Plain publishes with no acknowledged one after them (the last
		// message was dropped as too large): send them again.
		if ready && md == modeJetStream && sent > 0 && q[sent-1].fut == nil {
			rewind()
			continue
		}
		if closing && len(q) == 0 && len(p.ch) == 0 && len(parked) == 0 {
			return
		}

		var (
			in     <-chan *wire.Message
			okCh   <-chan *jetstream.PubAck
			errCh  <-chan error
			timerC <-chan time.Time
		)
		var lingerC <-chan time.Time
		var fullC <-chan struct{}
		room := p.opts.InFlight - len(parked) // what q may hold
		if len(q) < room && !lingering {
			in = p.ch
		}
		if lingering {
			lingerC, fullC = linger.C, p.full
		}
		acked := -1 // the first message waiting for an acknowledgement
		for i := range q[:sent] {
			if q[i].fut != nil {
				acked = i
				break
			}
		}
		if acked >= 0 {
			okCh, errCh = q[acked].fut.Ok(), q[acked].fut.Err()
		}
		if !ready && p.nc.IsConnected() {
			timerC = arm(&retry, pauseUntil)
		}
		// The first parked event in flight, and the next time one is due.
		var (
			parkOk  <-chan *jetstream.PubAck
			parkErr <-chan error
			parkC   <-chan time.Time
			pi      = -1
			due     time.Time
		)
		for i := range parked {
			switch {
			case parked[i].fut != nil:
				if pi < 0 {
					pi = i
					parkOk, parkErr = parked[i].fut.Ok(), parked[i].fut.Err()
				}
			case due.IsZero() || parked[i].next.Before(due):
				due = parked[i].next
			}
		}
		if !due.IsZero() && ready {
			parkC = arm(&parkTimer, due)
		}
		stop := p.stop
		if closing {
			stop = nil
		}
		select {
		case e := <-in:
			if p.opts.Linger > 0 && ready && sent == len(q) && !closing {
				// The first event after a pause: wait for more.
				lingering = true
				if linger == nil {
					linger = time.NewTimer(p.opts.Linger)
				} else {
					linger.Reset(p.opts.Linger)
				}
			}
			q = p.appendEvent(&rc, q, e)
			q = p.takeWaiting(&rc, q, room) // what is there, without another select
		case <-okCh:
			// The acknowledgement covers the events before it only when they
			// went on the same connection.
			if q[0].gen != q[acked].gen {
				rewind()
				continue
			}
			p.published.Add(uint64(acked + 1))
			for range acked + 1 {
				p.stored(q[0].ev)
				pop()
			}
		case err := <-errCh:
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDuplicateInProcess && limits.ackEvery == 1 {
				// Every event in flight asks for its own acknowledgement (a
				// cluster's stream): the ones after this one go on, and it
				// waits apart (parkedMsg).
				m := q[acked]
				m.fut = nil
				q = removeAt(q, acked)
				sent--
				now := time.Now()
				parked = append(parked, parkedMsg{outMsg: m, since: now, wait: p.opts.ReconnectWait, next: now.Add(p.opts.ReconnectWait)})
				p.parked.Store(int64(len(parked)))
				// One warning when the first waits apart (a stall can leave
				// many ids in process at once), the others at debug.
				level := slog.LevelDebug
				if len(parked) == 1 {
					level = slog.LevelWarn
				}
				p.log.Log(context.Background(), level, "events: the stream answers that an event's id is in process (409); the events after it go on, and it is asked again after a growing pause, until the stream's duplicate window clears the id",
					"id", m.msg.Header.Get(jetstream.MsgIDHeader), "parked", len(parked))
				continue
			}
			if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDuplicateInProcess {
				// An earlier copy of the event (sent before a resend) is
				// still being stored: ask again once the stream knows whether
				// it was, after a pause.
				p.log.Debug("events: an event's earlier copy is still being stored; resending after a pause", "pending", len(q))
				reset()
				pauseUntil = time.Now().Add(p.opts.ReconnectWait)
				continue
			}
			if errors.As(err, &apiErr) && apiErr.Code >= 400 && apiErr.Code < 500 {
				p.log.Error("events: JetStream refused an event; dropped", "subject", q[acked].msg.Subject, "err", err)
				p.dropped.Add(1)
				if apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum || limits.ackEvery == 1 {
					// Refused for its size (plain publishes are well under
					// it), or no plain publish is in flight: those before it
					// were stored.
					p.published.Add(uint64(acked))
					for i := range acked + 1 {
						if i < acked {
							p.stored(q[0].ev)
						}
						pop()
					}
					continue
				}
				rc.putMsg(q[acked].msg)
				q[acked].ev.Release()
				q = removeAt(q, acked)
				sent--
				p.inflight.Add(-1)
				// Plain publishes went before it or after it, and whatever
				// refused it may have refused them too: they go again, each
				// asking for its own acknowledgement, as does everything
				// until the stream is set up again.
				rewind()
				limits.ackEvery = 1
				continue
			}
			if !p.closed.Load() || p.nc.IsConnected() {
				p.log.Warn("events: publication not acknowledged; resending in order", "err", err, "pending", len(q))
			}
			// Nothing stored (no stream, no resources, no ack in time):
			// resend after a pause, not at once and again (a full
			// JetStream answered 503 to every resend, 170,000 events a
			// second and as many log lines).
			reset()
			pauseUntil = time.Now().Add(p.opts.ReconnectWait)
		case <-parkOk:
			pm := parked[pi]
			p.published.Add(1)
			p.stored(pm.ev)
			id := pm.msg.Header.Get(jetstream.MsgIDHeader)
			parked = p.unpark(&rc, parked, pi)
			level := slog.LevelDebug // one line when the last of them is stored
			if len(parked) == 0 {
				level = slog.LevelInfo
			}
			p.log.Log(context.Background(), level, "events: a parked event was stored", "id", id,
				"tries", pm.tries, "waited", time.Since(pm.since).Round(time.Millisecond), "parked", len(parked))
		case err := <-parkErr:
			pm := &parked[pi]
			pm.fut = nil
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.Code >= 400 && apiErr.Code < 500 && apiErr.ErrorCode != errCodeDuplicateInProcess {
				p.log.Error("events: JetStream refused an event; dropped", "subject", pm.msg.Subject, "err", err)
				p.dropped.Add(1)
				parked = p.unpark(&rc, parked, pi)
				continue
			}
			// Still in process, or no answer: ask again after twice the
			// pause, or once the duplicate window has passed the id, when
			// that comes first.
			pm.wait = min(2*pm.wait, max(maxParkWait, p.opts.ReconnectWait))
			pm.next = pm.nextAsk(time.Now(), limits.duplicates+p.opts.ReconnectWait)
			p.log.Debug("events: a parked event is still refused; asking again after a pause", "id", pm.msg.Header.Get(jetstream.MsgIDHeader),
				"err", err, "tries", pm.tries, "pause", pm.wait)
		case <-parkC:
		case <-p.wake:
			if !p.nc.IsConnected() {
				reset()
			}
		case <-timerC:
		case <-fullC:
			lingering = false
			linger.Stop()
			q = p.takeWaiting(&rc, q, room) // the burst goes now
		case <-lingerC:
			lingering = false
			q = p.takeWaiting(&rc, q, room) // what came meanwhile goes with it
		case <-stop:
			closing = true
		case <-p.abort:
			return
		}
	}
}

// arm sets *t to fire at deadline (at once when it has passed), making
// it the first time, and returns its channel.
func arm(t **time.Timer, deadline time.Time) <-chan time.Time {
	wait := max(time.Until(deadline), 0)
	if *t == nil {
		*t = time.NewTimer(wait)
	} else {
		(*t).Reset(wait)
	}
	return (*t).C
}

// stored hands e, which the stream stored, to Options.Stored.
func (p *Publisher) stored(e *wire.Message) {
	if p.opts.Stored != nil && e != nil {
		p.opts.Stored(e)
	}
}

// takeWaiting appends to q the events waiting in p.ch, while q is
// shorter than room (InFlight less the parked events).
func (p *Publisher) takeWaiting(rc *recycler, q []outMsg, room int) []outMsg {
	for len(q) < room {
		select {
		case e := <-p.ch:
			q = p.appendEvent(rc, q, e)
		default:
			return q
		}
	}
	return q
}

// appendEvent appends e to q.
func (p *Publisher) appendEvent(rc *recycler, q []outMsg, e *wire.Message) []outMsg {
	m := rc.msg(rc.subject(p.opts.Prefix, e))
	m.Data = e.JSON
	setHeader(m.Header, jetstream.MsgIDHeader, e.ID)
	setHeader(m.Header, wire.ExposureHeader, e.Exposure)
	p.inflight.Add(1)
	return rc.push(q, outMsg{msg: m, ev: e})
}

// recycler keeps what the publisher goroutine would otherwise allocate for
// every event: the nats.Msg of an event that is done with and its header,
// the array the queue lives in, the subjects. It belongs to that goroutine.
type recycler struct {
	free     []*nats.Msg
	back     []outMsg // the array q lives in, to its capacity
	subjects map[subjectKey]string
}

type subjectKey struct{ kind, key string }

// maxSubjects bounds the subjects a recycler remembers (the placements
// and outcome types of a ruleset; more only in a test).
const maxSubjects = 1024

// maxFreeMsgs bounds the messages a recycler keeps for reuse: more than
// are in flight at 10,000 events a second with an acknowledgement every
// AckEvery, fewer than a full InFlight after NATS was away.
const maxFreeMsgs = 512

// subject returns the clean subject of e under prefix.
func (rc *recycler) subject(prefix string, e *wire.Message) string {
	k := subjectKey{e.Kind, e.Key}
	if s, ok := rc.subjects[k]; ok {
		return s
	}
	s := cleanSubject(e.Subject(prefix))
	if rc.subjects == nil || len(rc.subjects) >= maxSubjects {
		rc.subjects = make(map[subjectKey]string)
	}
	// e's strings live until it is released (wire.MessagePool): the key
	// is a copy.
	rc.subjects[subjectKey{strings.Clone(k.kind), strings.Clone(k.key)}] = s
	return s
}

// msg returns a message on subject with a header that holds at most the
// id and exposure headers of an earlier event, their slices kept for
// reuse (appendEvent sets or deletes both).
func (rc *recycler) msg(subject string) *nats.Msg {
	n := len(rc.free)
	if n == 0 {
		return nats.NewMsg(subject)
	}
	m := rc.free[n-1]
	rc.free[n-1] = nil
	rc.free = rc.free[:n-1]
	h := m.Header
	*m = nats.Msg{Subject: subject, Header: h}
	return m
}

// putMsg takes back m, whose event has been acknowledged, published or
// dropped: neither the connection nor a JetStream future holds it any
// more (a plain publish copies it into the connection's buffer; an
// asynchronous one keeps it until its future is done).
func (rc *recycler) putMsg(m *nats.Msg) {
	if m == nil || len(rc.free) >= maxFreeMsgs {
		return
	}
	m.Data = nil // the event's bytes are not ours to keep
	for k, v := range m.Header {
		if k != jetstream.MsgIDHeader && k != wire.ExposureHeader || len(v) != 1 {
			delete(m.Header, k)
		}
	}
	rc.free = append(rc.free, m)
}

// setHeader sets the one value of h's key k to v, in the slice it has
// when it has one (a recycled message's), or deletes k when v is "".
func setHeader(h nats.Header, k, v string) {
	switch vs := h[k]; {
	case v == "":
		delete(h, k)
	case len(vs) == 1:
		vs[0] = v
	default:
		h[k] = []string{v}
	}
}

// push appends m to q, which lives in rc.back. When q has reached the end
// of the array and the front of the array is free (its events were done
// with), q moves to the front instead of to a new array.
func (rc *recycler) push(q []outMsg, m outMsg) []outMsg {
	if len(q) == cap(q) {
		if cap(rc.back) >= 2*len(q)+1 {
			n := copy(rc.back, q)
			clear(rc.back[n:])
			q = rc.back[:n]
		} else {
			nb := make([]outMsg, len(q), max(2*len(q), 64))
			copy(nb, q)
			rc.back = nb[:cap(nb)]
			q = nb
		}
	}
	return append(q, m)
}

// fit makes m at most max bytes, headers included, when it is a decision
// event that is larger: it goes without its request (wire.Message.Fit).
// An event that is still too large is left to the server, which refuses
// it (dropped and counted).
func (p *Publisher) fit(m *outMsg, max int) {
	if max <= 0 || m.ev == nil || m.ev.RequestAt <= 0 {
		return
	}
	room := max - headerSize(m.msg.Header)
	if len(m.msg.Data) <= room {
		return
	}
	m.ev.Fit(room)
	m.msg.Data = m.ev.JSON
	total := p.truncated.Add(1)
	now := time.Now().UnixNano()
	if last := p.lastTrunc.Load(); now-last >= int64(10*time.Second) && p.lastTrunc.CompareAndSwap(last, now) {
		p.log.Warn("events: a decision event exceeded the stream's message size; published without its request (request_truncated)",
			"subject", m.msg.Subject, "max_bytes", max, "truncated_total", total)
	}
}

// headerSize is the size of h as NATS sends it ("NATS/1.0\r\n", a line
// per value, an empty line); 0 without headers.
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// maxMessage is the smaller of a and b that is positive (0: neither is).
func maxMessage(a, b int) int {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

// setupMost is the longest a set-up attempt waits for the server's
// answers, and the first set-up's time.
const setupMost = 5 * time.Second

// setupWait is how long a set-up attempt's JetStream requests wait for the
// server, after failed attempts in a row, once a set-up has succeeded, on
// a connection whose round trip (a core PING, answered by the server
// itself whatever its JetStream is doing) took rtt: ten round trips (a
// set-up asks three to five questions), at least 1 s and at most 5 s, for
// six failures in a row (about twelve seconds with the reconnect waits
// between, longer than a cluster's elections take); then twice as long
// each time, up to 5 s. Never more than the 5 s every attempt had before.
//
// Why short: a cluster electing a leader drops the JetStream API requests
// it has no leader for, and an attempt sent just before the election ends
// waits its whole time. In the fault suite's nats-cluster, 5 s attempts
// resumed the events 6-16 s after the kill of the stream's leader, 1 s
// attempts 5-8 s (RELIABILITY.md). Why in round trips: a server far away
// gets time in proportion. Why a PING: a JetStream answer's time includes
// the server's queue of API requests, and one slow answer would have made
// every later attempt long; scaled by a whole set-up's time (the first
// creates the cluster's stream), the events resumed 7-10 s after the kill.
func setupWait(failed int, rtt time.Duration) time.Duration {
	w := min(max(time.Second, 10*rtt), setupMost)
	for i := 6; i <= failed && w < setupMost; i++ {
		w *= 2
	}
	return min(w, setupMost)
}

// setup finds out whether the server has JetStream and, if so, creates the
// stream when it is missing. The first set-up (setUp false) waits up to
// setupMost for the server; later ones, setupWait.
func (p *Publisher) setup(failed int, setUp bool) (mode, streamLimits, error) {
	limits := streamLimits{ackEvery: AckEvery}
	ctx, cancel := context.WithTimeout(context.Background(), setupMost)
	defer cancel()
	// A hung server must not hold Close past its context: the calls below
	// end when Close gives up.
	go func() {
		select {
		case <-p.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	jsCtx := ctx // the JetStream requests' (the goroutine above reads ctx)
	if setUp {
		pinged := time.Now()
		if err := p.nc.FlushWithContext(ctx); err != nil {
			return modeUnknown, limits, fmt.Errorf("NATS round trip: %w", err)
		}
		var cancelJS context.CancelFunc
		jsCtx, cancelJS = context.WithTimeout(ctx, setupWait(failed, time.Since(pinged)))
		defer cancelJS()
	}
	if _, err := p.js.AccountInfo(jsCtx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			p.log.Warn("events: the NATS server has no JetStream; publishing with core NATS (no persistence, no acknowledgements)")
			limits.fit = int(p.nc.MaxPayload())
			return modeCore, limits, nil
		}
		return modeUnknown, limits, fmt.Errorf("JetStream account info: %w", err)
	}
	if err := EnsureStream(jsCtx, p.js, p.opts, p.log); err != nil {
		var re *ReplicasError
		if !errors.As(err, &re) || re.Existing == 0 {
			return modeUnknown, limits, err
		}
		// The stream exists: publish to it as it is, and say so.
		p.log.Error("events: "+err.Error()+"; publishing to the stream as it is", "stream", re.Stream)
	}
	s, err := p.js.Stream(jsCtx, p.opts.Stream)
	if err != nil {
		return modeUnknown, limits, fmt.Errorf("look up stream %s: %w", p.opts.Stream, err)
	}
	info := s.CachedInfo()
	cfg := info.Config
	switch {
	case cfg.Discard == jetstream.DiscardNew || cfg.MaxMsgsPerSubject > 0 || cfg.DiscardNewPerSubject:
		limits.ackEvery = 1 // it may refuse an event silently: ask for every acknowledgement
	case clustered(p.nc, info):
		limits.ackEvery = 1
	}
	if cfg.MaxMsgSize > 0 {
		limits.maxMsgSize = int(cfg.MaxMsgSize)
	}
	limits.duplicates = cfg.Duplicates
	limits.fit = maxMessage(limits.maxMsgSize, int(p.nc.MaxPayload()))
	return modeJetStream, limits, nil
}

// droppedForSize reports whether err is nats.go's refusal to send msg at
// all (larger than the server's max payload, even after fit, or a subject
// it cannot send), and if so logs and counts msg as dropped: sending it
// again would be refused the same way.
func (p *Publisher) droppedForSize(err error, msg *nats.Msg) bool {
	if !errors.Is(err, nats.ErrMaxPayload) && !errors.Is(err, nats.ErrBadSubject) {
		return false
	}
	p.log.Error("events: event larger than the server's max payload; dropped", "subject", msg.Subject, "bytes", len(msg.Data), "err", err)
	p.dropped.Add(1)
	return true
}

// clustered reports whether the stream lives in a NATS cluster, where a
// publish that asks for no acknowledgement is lost without a word while
// the stream has no leader (its node was killed, an election is under
// way) or its leader changes, and a later publish that asks for one is
// acknowledged all the same once a leader is back: the acknowledgement
// does not cover the publishes before it there. On a single server the
// stream takes a connection's publishes in order for as long as the
// connection lasts, and a new connection is a new sequence (outMsg.gen).
func clustered(nc *nats.Conn, info *jetstream.StreamInfo) bool {
	if nc.ConnectedClusterName() != "" || info == nil {
		return true
	}
	return info.Config.Replicas > 1 || info.Cluster != nil && info.Cluster.Name != ""
}

// ReplicasError is a stream replica count the NATS server refused: more
// than the cluster has JetStream nodes, or a count on a single server.
type ReplicasError struct {
	Stream         string
	Want, Existing int // Existing: 0 when the stream was being created
	Err            error
}

func (e *ReplicasError) Error() string {
	what := "create stream " + e.Stream + " with " + strconv.Itoa(e.Want) + " replicas"
	if e.Existing > 0 {
		what = "change stream " + e.Stream + " from " + strconv.Itoa(e.Existing) + " to " + strconv.Itoa(e.Want) + " replicas"
	}
	return what + ": " + e.Err.Error() + ": give --stream-replicas at most the number of JetStream servers in the NATS cluster (1 on a single server), or change the stream yourself: nats stream edit " + e.Stream + " --replicas N"
}

func (e *ReplicasError) Unwrap() error { return e.Err }

// isPlacementErr reports whether err is the server's refusal to place a
// stream's replicas.
func isPlacementErr(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.ErrorCode(10005) || // no suitable peers for placement
		api.ErrorCode == jetstream.ErrorCode(10074) || // replicas > 1 not supported in non-clustered mode
		api.ErrorCode == jetstream.ErrorCode(10052)) // insufficient resources
}

// isSubjectOverlap reports whether err is the server's "subjects overlap
// with an existing stream" (JSStreamSubjectOverlapErr, 10065, which
// nats.go has no name for).
func isSubjectOverlap(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jetstream.ErrorCode(10065)
}

// EnsureStream creates the stream of opts (see StreamConfig) when no stream
// of that name exists. An existing stream is left as it is (an operator
// may have changed its limits), except its replica count when
// opts.Replicas asks for one: then it is updated to it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, opts Options, log *slog.Logger) error {
	want := opts.Replicas
	opts.setDefaults()
	if s, err := js.Stream(ctx, opts.Stream); err == nil {
		return ensureReplicas(ctx, js, s, want, log)
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up stream %s: %w", opts.Stream, err)
	}
	cfg := StreamConfig(opts)
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		// "Subjects overlap": another replica's create of the same stream
		// still under way (nats-server 2.9.10), or another stream on
		// these subjects (then the look-up fails and the error stands).
		nameInUse := errors.Is(err, jetstream.ErrStreamNameAlreadyInUse)
		if nameInUse || isSubjectOverlap(err) {
			if s, lerr := js.Stream(ctx, opts.Stream); lerr == nil {
				return ensureReplicas(ctx, js, s, want, log)
			}
			if nameInUse {
				return nil
			}
		}
		if isPlacementErr(err) {
			return &ReplicasError{Stream: cfg.Name, Want: cfg.Replicas, Err: err}
		}
		return fmt.Errorf("create stream %s on %s: %w", cfg.Name, cfg.Subjects[0], err)
	}
	if log != nil {
		log.Info("events: created JetStream stream", "stream", cfg.Name, "subjects", cfg.Subjects,
			"max_age", cfg.MaxAge, "max_bytes", cfg.MaxBytes, "duplicates", cfg.Duplicates, "replicas", cfg.Replicas)
	}
	return nil
}

// ensureReplicas updates an existing stream to want replicas (want > 0)
// when it has another count.
func ensureReplicas(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, want int, log *slog.Logger) error {
	if want <= 0 {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("look up stream: %w", err)
	}
	cfg := info.Config
	if cfg.Replicas == want {
		return nil
	}
	had := cfg.Replicas
	cfg.Replicas = want
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		if isPlacementErr(err) {
			return &ReplicasError{Stream: cfg.Name, Want: want, Existing: had, Err: err}
		}
		return fmt.Errorf("change stream %s from %d to %d replicas: %w", cfg.Name, had, want, err)
	}
	if log != nil {
		log.Info("events: stream replicas changed", "stream", cfg.Name, "from", had, "to", want)
	}
	return nil
}

// cleanSubject makes a subject NATS accepts whatever a placement or outcome
// type holds: whitespace, '*' and '>' become '_', and empty tokens "_".
func cleanSubject(s string) string {
	bad := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '*' || c == '>' || c == 0x7f || (c == '.' && (i == 0 || i == len(s)-1 || s[i-1] == '.')) {
			bad = true
			break
		}
	}
	if !bad {
		return s
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		b := []byte(t)
		for j, c := range b {
			if c <= ' ' || c == '*' || c == '>' || c == 0x7f {
				b[j] = '_'
			}
		}
		if len(b) == 0 {
			b = []byte("_")
		}
		toks[i] = string(b)
	}
	return strings.Join(toks, ".")
}
