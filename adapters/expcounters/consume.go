package expcounters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/wire"
)

// ConsumerName is the stem of the counters' durable JetStream consumers
// (readers), and the name of the one the replicas of the versions before
// 2026-12-06 shared, which read whole events: a fleet's new consumers
// start where it had acknowledged to.
const ConsumerName = "arbiter-experiments"

// Batches: the consumer counts up to MaxBatch events in one script call,
// waiting at most MaxWait after the first for the batch to fill (so that
// under load one call counts hundreds of events, and at a trickle an
// event is counted within MaxWait).
const (
	MaxBatch = 256
	MaxWait  = 20 * time.Millisecond
)

// Consume counts the decision and outcome events of the stream holding
// <prefix>.> into c until ctx is done (then it returns nil), through
// durable consumers (readers: in a fleet ConsumerName + "-decisions",
// which reads headers only, and ConsumerName + "-conversions", shared by
// the replicas): in batches (MaxBatch, MaxWait) of one script call each,
// each event acknowledged once its batch is counted, redelivered after a
// Redis failure, and counted once (by its stream sequence). A decision is
// counted from its wire.ExposureHeader; one without it (an earlier
// version's) from its body, fetched by sequence (Counters.BodiesFetched).
// With c.SingleReader one consumer reads both, headers only, and
// acknowledges a batch at a time. With c.DecisionsPublished (the
// decisions are counted by Published) its consumer, ConsumerName +
// "-outcomes", reads the outcomes only, whole. It needs JetStream; NATS
// being down only delays the counters.
func Consume(ctx context.Context, natsURL string, stream events.Options, c *Counters, logger *slog.Logger) error {
	if stream.Prefix == "" {
		stream.Prefix = events.DefaultPrefix
	}
	if logger == nil {
		logger = slog.Default()
	}
	log := logger.With("component", "experiment counters")
	return events.KeepConsuming(ctx, natsURL, stream, "experiment counters", "events", log, func(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
		return run(ctx, nc, js, stream, c, log)
	})
}

// multipleFilters says whether a server of version v (major.minor.patch)
// takes a consumer with more than one filter subject: 2.10 and later.
func multipleFilters(v string) bool {
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return true // unknown: as a current server
	}
	return ma > 2 || ma == 2 && mi >= 10
}

// reader is one durable consumer the counters read, and how.
type reader struct {
	cfg jetstream.ConsumerConfig
	// resume: when the consumer does not exist yet, it starts where the
	// shared consumer of the versions before (ConsumerName) has
	// acknowledged to, if that one exists (a fleet upgrading).
	resume bool
	// unfiltered: it reads <prefix>.> on a server before 2.10, which takes
	// one filter subject; one made there without a filter by the code
	// before batches is made again.
	unfiltered bool
}

// readers returns the durable consumers the counters read, by mode
// (Counters.SingleReader, Counters.DecisionsPublished), on a server of
// version (ConnectedServerVersion).
func readers(prefix, version string, c *Counters) []reader {
	base := jetstream.ConsumerConfig{
		Description:   "Arbiter live experiment counters (Redis), for GET /v1/experiments",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 1000,
	}
	decisions, outcomes := prefix+".decision.>", prefix+".outcome.converted"
	switch {
	case c.DecisionsPublished:
		// Decisions are counted as they are published (Published): the
		// consumer reads the outcomes, whole, acknowledged once a batch
		// (the embedded server's stream: one reader).
		cfg := base
		cfg.Durable, cfg.AckPolicy, cfg.FilterSubject = ConsumerName+"-outcomes", jetstream.AckAllPolicy, outcomes
		return []reader{{cfg: cfg}}
	case c.SingleReader:
		// The only reader of a stream of its own (the embedded server's,
		// which starts empty with the process): headers only, a decision's
		// exposure from its wire.ExposureHeader, the body of the rest
		// (outcomes, decisions without the header) fetched by sequence;
		// acknowledged once a batch.
		cfg := base
		cfg.Durable, cfg.AckPolicy, cfg.HeadersOnly = ConsumerName+"-single", jetstream.AckAllPolicy, true
		cfg.FilterSubjects = []string{decisions, outcomes}
		if !multipleFilters(version) {
			// It acknowledges the events it does not count without
			// reading them.
			cfg.FilterSubjects, cfg.FilterSubject = nil, prefix+".>"
			return []reader{{cfg: cfg, unfiltered: true}}
		}
		return []reader{{cfg: cfg}}
	default:
		// A fleet: two consumers the replicas share, each event
		// acknowledged on its own (with AckAll one replica's
		// acknowledgement would cover the events another replica is still
		// counting). The decisions' reads headers only (their exposure
		// header: a tenth of the event, BENCHMARKS.md, issue 19); the
		// outcomes' reads them whole. Their names are new to this version,
		// so that no two versions configure one consumer differently: the
		// shared consumer of the versions before (ConsumerName, whole
		// events) is left as it was, and a new one starts where it had
		// acknowledged to (the seen bits count the events between once).
		dec, out := base, base
		dec.Durable, dec.FilterSubject, dec.HeadersOnly = ConsumerName+"-decisions", decisions, true
		out.Durable, out.FilterSubject = ConsumerName+"-conversions", outcomes
		return []reader{{cfg: dec, resume: true}, {cfg: out, resume: true}}
	}
}

// ensure makes or updates r's consumer on the stream name. An existing
// consumer keeps where it started (that cannot change); a new one of a
// fleet starts after what the shared consumer of the versions before
// (ConsumerName) acknowledged, when there is one.
func (r reader) ensure(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Consumer, error) {
	cfg := r.cfg
	cur, err := js.Consumer(ctx, name, cfg.Durable)
	if r.unfiltered && err == nil && cur.CachedInfo().Config.FilterSubject != cfg.FilterSubject {
		// Made without a filter (ignoring filter_subjects) by the code
		// before batches, which gave up on it having counted nothing.
		if err := js.DeleteConsumer(ctx, name, cfg.Durable); err != nil {
			return nil, fmt.Errorf("durable consumer %s on stream %s: delete the one made without a filter: %w", cfg.Durable, name, err)
		}
		cur, err = nil, jetstream.ErrConsumerNotFound
	}
	switch {
	case err == nil:
		ci := cur.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = ci.DeliverPolicy, ci.OptStartSeq, ci.OptStartTime
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, fmt.Errorf("durable consumer %s on stream %s: %w", cfg.Durable, name, err)
	case r.resume:
		prev, err := js.Consumer(ctx, name, ConsumerName)
		switch {
		case err == nil:
			if floor := prev.CachedInfo().AckFloor.Stream; floor > 0 {
				cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
			}
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return nil, fmt.Errorf("durable consumer %s on stream %s: %w", ConsumerName, name, err)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, name, cfg)
	if err != nil {
		// Two replicas making it at once may have started it at
		// different places: the next attempt takes the one made.
		return nil, fmt.Errorf("durable consumer %s on stream %s: %w", cfg.Durable, name, err)
	}
	return cons, nil
}

func run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, stream events.Options, c *Counters, log *slog.Logger) error {
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
	str, err := js.Stream(setup, name)
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	identity := StreamIdentity(name, str.CachedInfo().Created)
	rs := readers(stream.Prefix, nc.ConnectedServerVersion(), c)
	conss := make([]jetstream.Consumer, len(rs))
	for i, r := range rs {
		if conss[i], err = r.ensure(setup, js, name); err != nil {
			return err
		}
	}
	// The readers stop with ctx, or when one of them cannot start.
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for i, r := range rs {
		msgs := make(chan jetstream.Msg, MaxBatch)
		cc, err := conss[i].Consume(func(m jetstream.Msg) {
			select {
			case msgs <- m:
			case <-rctx.Done():
			}
		}, jetstream.PullMaxMessages(2*MaxBatch), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			log.Debug("experiment counters: consume", "consumer", r.cfg.Durable, "err", err)
		}))
		if err != nil {
			return fmt.Errorf("durable consumer %s on stream %s: %w", r.cfg.Durable, name, err)
		}
		b := &batcher{c: c, prefix: stream.Prefix, cumulative: r.cfg.AckPolicy == jetstream.AckAllPolicy, stream: identity}
		if r.cfg.HeadersOnly {
			b.body = func(ctx context.Context, seq uint64) ([]byte, error) {
				m, err := str.GetMsg(ctx, seq)
				if err != nil {
					return nil, err
				}
				return m.Data, nil
			}
		}
		log.Info("experiment counters: counting", "stream", name, "consumer", r.cfg.Durable)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				cc.Stop()
				<-cc.Closed()
			}()
			b.loop(rctx, msgs)
		}()
	}
	<-ctx.Done()
	return nil
}

// loop counts the messages of msgs in batches (MaxBatch, MaxWait) until
// ctx is done.
func (b *batcher) loop(ctx context.Context, msgs <-chan jetstream.Msg) {
	wait := time.NewTimer(MaxWait)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-msgs:
			b.msgs = append(b.msgs[:0], m)
		}
		wait.Reset(MaxWait)
	fill:
		for len(b.msgs) < MaxBatch {
			select {
			case m := <-msgs:
				b.msgs = append(b.msgs, m)
			case <-wait.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		b.count(ctx)
	}
}

// batcher counts batches of messages.
type batcher struct {
	c      *Counters
	prefix string
	msgs   []jetstream.Msg
	evs    []Event
	ok     []jetstream.Msg
	// cumulative: the consumer acknowledges with AckAll, so the last
	// message of a counted batch acknowledges all of it.
	cumulative bool
	// stream is the identity of the stream counted (StreamIdentity), under
	// which its events' seen bits are kept.
	stream string
	// body, when set, fetches the body of the message at a stream
	// sequence: the consumer reads headers only, and a decision is
	// counted from its wire.ExposureHeader.
	body func(ctx context.Context, seq uint64) ([]byte, error)
}

// data returns what to parse of m: its body; with headers only, a
// decision's exposure header, or else the body fetched from the stream.
// A body that is gone (the stream's limits deleted it) is nil with no
// error: the message does not parse and is not counted. Any other error
// of the fetch is retried (2 s apart) until ctx is done, as a cumulative
// acknowledgement of a later batch would acknowledge this message.
func (b *batcher) data(ctx context.Context, m jetstream.Msg, decision bool, seq uint64) ([]byte, bool) {
	if b.body == nil {
		return m.Data(), true
	}
	if decision {
		if h := m.Headers().Get(wire.ExposureHeader); h != "" {
			return []byte(h), true
		}
	}
	b.c.fetched.Add(1)
	for {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		data, err := b.body(fctx, seq)
		cancel()
		switch {
		case err == nil:
			return data, true
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(2 * time.Second): // retry pause, not synchronisation
		}
	}
}

// count counts b.msgs in one script call, then acknowledges them; a
// message that does not parse is terminated (it will not parse better
// next time); after a Redis failure every message of the batch is
// redelivered (2 s later) and counted then.
func (b *batcher) count(ctx context.Context) {
	b.evs, b.ok = b.evs[:0], b.ok[:0]
	decisions, converted := b.prefix+".decision.", b.prefix+".outcome.converted"
	for _, m := range b.msgs {
		subj := m.Subject()
		// Counted: outcomes, and decisions unless Published counts them.
		if subj != converted && (b.c.DecisionsPublished || !strings.HasPrefix(subj, decisions)) {
			if !b.cumulative {
				_ = m.Ack() // not counted (a server before 2.10 filters on <prefix>.> only)
			}
			continue
		}
		md, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			continue
		}
		data, ok := b.data(ctx, m, strings.HasPrefix(subj, decisions), md.Sequence.Stream)
		if !ok {
			// Stopping: nothing of this batch is acknowledged; it is
			// delivered again at the next start.
			clear(b.msgs)
			clear(b.ok)
			clear(b.evs)
			return
		}
		ev, err := parseEvent(b.prefix, b.stream, subj, data, md.Sequence.Stream, md.Timestamp)
		if err != nil {
			_ = m.Term()
			continue
		}
		b.evs, b.ok = append(b.evs, ev), append(b.ok, m)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := b.c.RecordBatch(rctx, b.evs)
	cancel()
	// A cumulative ack of a later batch would also acknowledge this one's
	// messages if they were handed back (nak): the batch is counted again
	// until it is (the seen bits count each event once), holding the
	// next ones back.
	for b.cumulative && err != nil && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second): // retry pause, not synchronisation
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = b.c.RecordBatch(rctx, b.evs)
		cancel()
	}
	switch {
	case err != nil && b.cumulative:
		// Stopping: the batch is delivered again at the next start.
	case err != nil:
		for _, m := range b.ok {
			_ = m.NakWithDelay(2 * time.Second)
		}
	case b.cumulative:
		// The last message acknowledges the batch: the counted ones, and
		// those not counted (other subjects, terminated ones) before it.
		if n := len(b.msgs); n > 0 {
			_ = b.msgs[n-1].Ack()
		}
	default:
		for _, m := range b.ok {
			_ = m.Ack()
		}
	}
	clear(b.msgs)
	clear(b.ok)
	clear(b.evs)
}

// StreamIdentity is what names a stream's events in the seen bits (Event.Stream):
// its name and the time it was made (in nanoseconds, base 36), as
// NAME@CREATED. A stream deleted and made again under its name numbers its
// events from 1 again, and so does the embedded server's stream, made anew
// by each start of a process whose counters may be in a Redis that
// outlives it: by the name alone, the new events would be taken for the
// old ones and not counted.
func StreamIdentity(name string, created time.Time) string {
	return name + "@" + strconv.FormatInt(created.UnixNano(), 36)
}

// parseEvent reads the event of a message of the stream: a decision
// (ParseDecision: what the counters need of it) or an outcome.
func parseEvent(prefix, stream, subject string, data []byte, seq uint64, stored time.Time) (Event, error) {
	ev := Event{Stream: stream, Sequence: seq, Stored: stored}
	var err error
	if strings.HasPrefix(subject, prefix+".decision.") {
		ev.Decision, err = ParseDecision(data)
	} else {
		ev.Outcome, err = wire.ParseOutcome(prefix, subject, data, stored)
	}
	return ev, err
}
