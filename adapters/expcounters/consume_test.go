package expcounters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/wire"
)

// failHook makes every Redis command fail while fail is set, counting
// the failures.
type failHook struct {
	fail   atomic.Bool
	failed atomic.Int64
}

func (h *failHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.fail.Load() {
			h.failed.Add(1)
			err := errors.New("injected Redis failure")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// testStream returns a NATS server's URL (ARBITER_TEST_NATS_URL, else an
// embedded server) and stream options of the test's own prefix, whose
// stream is deleted when the test ends.
func testStream(t testing.TB) (string, events.Options) {
	t.Helper()
	url, _ := eventstest.URL(t)
	return url, events.Options{Prefix: eventstest.Prefix(t, url, "xctest")}
}

// publish puts msgs on the stream of opts, with the prefix of opts in
// place of "arbiter".
func publish(t testing.TB, url string, opts events.Options, msgs []message) {
	t.Helper()
	js := eventstest.JetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A stream deleted just before (TestAStreamMadeAgainCountsAgain) may
	// not be made again at once: the file store of the embedded server
	// answers "error creating store for stream" while the old one's
	// directory goes (2 runs in 15 under -race). The publisher retries
	// setting up its stream; so does this.
	waitUntil(t, time.Minute, "the stream made", func() bool {
		return events.EnsureStream(ctx, js, opts, slog.New(slog.NewTextHandler(io.Discard, nil))) == nil
	})
	var futs []jetstream.PubAckFuture
	for _, m := range msgs {
		f, err := js.PublishAsync(opts.Prefix+m.subject[len("arbiter"):], m.data)
		if err != nil {
			t.Fatal(err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// TestConsumeCountsInBatchesThroughARedisFailure: the durable consumer
// counts a stream (on the real NATS with ARBITER_TEST_NATS_URL, else an
// embedded server) in batches, through the durable consumer the code
// before batches made (on a server before 2.10: made without a filter);
// Redis failing at first (every command), the events are redelivered and
// counted, each once: the counters equal those of one script call per
// event.
func TestConsumeCountsInBatchesThroughARedisFailure(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprint("single_reader=", single), func(t *testing.T) { testConsumeThroughARedisFailure(t, single) })
	}
}

// testConsumeThroughARedisFailure: with a single reader (cumulative acks,
// one per batch) the failed batch is counted again, not handed back, and
// every event ends acknowledged.
func testConsumeThroughARedisFailure(t *testing.T, single bool) {
	msgs := generatedMessages(t, 1)[:1500]
	url, opts := testStream(t)
	publish(t, url, opts, msgs)
	oldConsumer(t, url, opts)

	client, prefix, _ := redistest.Client(t)
	hook := &failHook{}
	hook.fail.Store(true)
	client.AddHook(hook)
	t.Cleanup(func() { hook.fail.Store(false) }) // before the keys are deleted
	c := New(client, prefix)
	c.SingleReader = single
	defer startConsume(t, url, opts, c)()
	waitUntil(t, time.Minute, "a batch failing", func() bool { return hook.failed.Load() > 0 })
	hook.fail.Store(false)

	want := countedOneByOne(t, client, prefix, msgs)
	got := readOnceCounted(t, c, want)
	want.Since = got.Since // the stream's stored times, not the reference's
	sameSnapshots(t, got, want)
	if single {
		// Every event acknowledged, by one ack a batch.
		js := eventstest.JetStream(t, url)
		waitUntil(t, time.Minute, "every event acknowledged", func() bool { return consumerDone(js, opts, true, len(msgs)) })
	}
}

// oldConsumer makes the durable consumer as the code before batches did
// (a server before 2.10 makes it without a filter, and refuses it).
func oldConsumer(t testing.TB, url string, opts events.Options) {
	t.Helper()
	js := eventstest.JetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.CreateOrUpdateConsumer(ctx, events.StreamName(opts.Prefix), jetstream.ConsumerConfig{
		Durable:        ConsumerName,
		FilterSubjects: []string{opts.Prefix + ".decision.>", opts.Prefix + ".outcome.converted"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxDeliver:     -1,
		MaxAckPending:  1000,
	})
	if err != nil && !errors.Is(err, jetstream.ErrConsumerMultipleFilterSubjectsNotSupported) {
		t.Fatal(err)
	}
}

func TestMultipleFilters(t *testing.T) {
	for v, want := range map[string]bool{"2.9.10": false, "2.10.0": true, "2.15.2": true, "3.0.0": true, "1.4.1": false, "": true, "dev": true} {
		if got := multipleFilters(v); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// startConsume runs Consume for c until the returned stop is called, which
// waits for it to return and fails the test on its error.
func startConsume(t testing.TB, url string, opts events.Options, c *Counters) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Consume(ctx, url, opts, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestDecisionsCountFromTheirHeader: the decisions' consumer reads
// headers only, a fleet's (two consumers the replicas share) as the single
// reader's. A decision with wire.ExposureHeader is counted from it,
// without its body; a decision published without the header (an earlier
// version's) from its body, fetched from the stream, and so is an outcome
// with the single reader (a fleet's outcomes have a consumer of their own
// that reads them whole). The counts equal those of one script call per
// event either way.
func TestDecisionsCountFromTheirHeader(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprint("single_reader=", single), func(t *testing.T) { testDecisionsCountFromTheirHeader(t, single) })
	}
}

func testDecisionsCountFromTheirHeader(t *testing.T, single bool) {
	msgs := generatedMessages(t, 1)[:1200]
	url, opts := testStream(t)
	js := eventstest.JetStream(t, url)
	ctx0 := context.Background()
	ctx, cancel := context.WithTimeout(ctx0, time.Minute)
	defer cancel()
	if err := events.EnsureStream(ctx, js, opts, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	wantFetched := 0
	for i, m := range msgs {
		out := nats.NewMsg(opts.Prefix + m.subject[len("arbiter"):])
		out.Data = m.data
		decision := m.subject == "arbiter.decision.checkout"
		switch {
		case decision && i%3 != 0:
			out.Header.Set(wire.ExposureHeader, exposureOf(t, m.data))
		case decision || single:
			wantFetched++
		}
		if _, err := js.PublishMsg(ctx, out); err != nil {
			t.Fatal(err)
		}
	}

	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	c.SingleReader = single
	defer startConsume(t, url, opts, c)()

	want := countedOneByOne(t, client, prefix, msgs)
	waitUntil(t, time.Minute, "every event acknowledged", func() bool { return consumerDone(js, opts, single, len(msgs)) })
	name := ConsumerName + "-decisions"
	if single {
		name = ConsumerName + "-single"
	}
	cons, err := js.Consumer(ctx0, events.StreamName(opts.Prefix), name)
	if err != nil {
		t.Fatal(err)
	}
	if !cons.CachedInfo().Config.HeadersOnly {
		t.Errorf("consumer %s does not read headers only", name)
	}
	got, err := c.Read(ctx0)
	if err != nil {
		t.Fatal(err)
	}
	want.Since = got.Since // the stream's stored times, not the reference's
	sameSnapshots(t, got, want)
	if n := c.BodiesFetched(); n != int64(wantFetched) {
		t.Errorf("%d bodies fetched, want %d (the decisions without %s, and the outcomes with one reader)", n, wantFetched, wire.ExposureHeader)
	}
}

// TestAStreamMadeAgainCountsAgain: a stream deleted and made again under
// the same name numbers its events from 1 again (so does the embedded
// server's, made anew by every start of a process whose counters are in a
// Redis that outlives it): its events are new, and count, though an
// earlier stream's events had the same sequences.
func TestAStreamMadeAgainCountsAgain(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprint("single_reader=", single), func(t *testing.T) {
			msgs := generatedMessages(t, 1)[:300]
			url, opts := testStream(t)
			js := eventstest.JetStream(t, url)
			client, prefix, _ := redistest.Client(t)
			decisions := func(s *Snapshot) (n int64) {
				for _, g := range s.Groups {
					n += g.Decisions
				}
				return n
			}
			var once int64
			for round := 1; round <= 2; round++ {
				publish(t, url, opts, msgs)
				c := New(client, prefix)
				c.SingleReader = single
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- Consume(ctx, url, opts, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
				var got int64
				waitUntil(t, time.Minute, fmt.Sprintf("round %d counted", round), func() bool {
					// Round 1 reads once every event is acknowledged, so
					// after its last batch was counted.
					if round == 1 && !consumerDone(js, opts, single, len(msgs)) {
						return false
					}
					s, err := c.Read(context.Background())
					if err != nil {
						return false
					}
					got = decisions(s)
					if round == 1 {
						once = got
						return got > 0
					}
					return got >= 2*once
				})
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if round == 2 && got != 2*once {
					t.Fatalf("%d decisions counted after the stream was made again, want %d", got, 2*once)
				}
				deleteStream(t, js, opts)
			}
		})
	}
}

// consumerDone says whether the counters' durable consumers (the single
// reader's, or a fleet's two) have acknowledged every event of the
// stream's n.
func consumerDone(js jetstream.JetStream, opts events.Options, single bool, n int) bool {
	names := []string{ConsumerName + "-decisions", ConsumerName + "-conversions"}
	if single {
		names = []string{ConsumerName + "-single"}
	}
	str, err := js.Stream(context.Background(), events.StreamName(opts.Prefix))
	if err != nil || str.CachedInfo().State.LastSeq < uint64(n) {
		return false
	}
	for _, name := range names {
		cons, err := js.Consumer(context.Background(), events.StreamName(opts.Prefix), name)
		if err != nil {
			return false
		}
		info := cons.CachedInfo()
		if info.NumAckPending != 0 || info.NumPending != 0 {
			return false
		}
	}
	return true
}

// deleteStream deletes the stream of opts.
func deleteStream(t testing.TB, js jetstream.JetStream, opts events.Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, events.StreamName(opts.Prefix)); err != nil {
		t.Fatal(err)
	}
}

// readOnceCounted waits until c has counted at least as many decisions,
// conversions and offer conversions as want, and returns what it read.
func readOnceCounted(t testing.TB, c *Counters, want *Snapshot) *Snapshot {
	t.Helper()
	total := func(s *Snapshot) (n int64) {
		for _, g := range s.Groups {
			n += g.Decisions + g.Conversions + g.OfferConversions
		}
		return n
	}
	var got *Snapshot
	waitUntil(t, time.Minute, "every event counted", func() bool {
		s, err := c.Read(context.Background())
		got = s
		return err == nil && total(s) >= total(want)
	})
	return got
}

// countedOneByOne counts msgs one script call at a time, as the consumer did
// before batches, under prefix + "ref:", and reads the counters.
func countedOneByOne(t testing.TB, client redis.UniversalClient, prefix string, msgs []message) *Snapshot {
	t.Helper()
	ctx := context.Background()
	ref := New(client, prefix+"ref:")
	for _, m := range msgs {
		if _, err := recordOneByOne(ctx, ref, oldEvent(t, m)); err != nil {
			t.Fatal(err)
		}
	}
	want, err := ref.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestAFleetUpgradeStartsWhereTheOldConsumerStopped: a fleet of the
// version before shared one consumer (ConsumerName) that read whole
// events. A replica of that version has counted and acknowledged the
// first 500 events and counted the next 100 without acknowledging them
// yet (in flight at the upgrade). The new version's consumers start after
// what it acknowledged, leave it as it was, and every event counts once:
// the seen bits keep the 100 from counting twice.
func TestAFleetUpgradeStartsWhereTheOldConsumerStopped(t *testing.T) {
	msgs := generatedMessages(t, 1)[:1200]
	url, opts := testStream(t)
	publish(t, url, opts, msgs)
	oldConsumer(t, url, opts)
	js := eventstest.JetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := events.StreamName(opts.Prefix)
	old, err := js.Consumer(ctx, name, ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	fetch := func(n int) []jetstream.Msg {
		var out []jetstream.Msg
		for len(out) < n {
			batch, err := old.Fetch(n-len(out), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			for m := range batch.Messages() {
				out = append(out, m)
			}
			if err := batch.Error(); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	// The old replica: it read whole events and acknowledged each.
	b := &batcher{c: c, prefix: opts.Prefix, stream: StreamIdentity(name, str.CachedInfo().Created)}
	b.msgs = fetch(500)
	b.count(ctx)
	var inflight []Event
	for _, m := range fetch(100) {
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		ev, err := parseEvent(opts.Prefix, b.stream, m.Subject(), m.Data(), md.Sequence.Stream, md.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		inflight = append(inflight, ev)
	}
	if _, err := c.RecordBatch(ctx, inflight); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "the old consumer's acknowledgements", func() bool {
		info, err := old.Info(ctx)
		return err == nil && info.AckFloor.Stream == 500
	})

	defer startConsume(t, url, opts, c)()
	waitUntil(t, time.Minute, "every event acknowledged", func() bool { return consumerDone(js, opts, false, len(msgs)) })
	want := countedOneByOne(t, client, prefix, msgs)
	got, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.Since = got.Since // the stream's stored times, not the reference's
	sameSnapshots(t, got, want)
	for _, n := range []string{ConsumerName + "-decisions", ConsumerName + "-conversions"} {
		cons, err := js.Consumer(ctx, name, n)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := cons.CachedInfo().Config; cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq != 501 {
			t.Errorf("consumer %s starts with policy %v at %d, want at 501, after what the old consumer acknowledged", n, cfg.DeliverPolicy, cfg.OptStartSeq)
		}
	}
	// A replica started again updates the consumers as they are: where
	// they start cannot change, and is kept.
	for _, r := range readers(opts.Prefix, "", New(client, prefix)) {
		cons, err := r.ensure(ctx, js, name)
		if err != nil {
			t.Fatalf("consumer %s made again: %v", r.cfg.Durable, err)
		}
		if cfg := cons.CachedInfo().Config; cfg.OptStartSeq != 501 {
			t.Errorf("consumer %s made again starts at %d, want 501", r.cfg.Durable, cfg.OptStartSeq)
		}
	}
	info, err := old.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.HeadersOnly || info.AckFloor.Stream != 500 {
		t.Errorf("the old consumer was changed: headers only %v, acknowledged to %d", info.Config.HeadersOnly, info.AckFloor.Stream)
	}
}
