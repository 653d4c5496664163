package expcounters

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/wire"
)

// TestPublishedCountsEveryStoredDecisionOnce: with the decisions counted
// as they are published (Published, the embedded servers), a publisher's
// decisions (two in three with their exposure header, the others with
// their JSON only) and outcomes, Redis failing at first, end up counted
// as one script call per event counts them: each decision once, from the
// publisher, and each outcome once, from the consumer, which reads the
// outcomes only.
func TestPublishedCountsEveryStoredDecisionOnce(t *testing.T) {
	msgs := generatedMessages(t, 1)[:1500]
	url, opts := testStream(t)
	client, prefix, _ := redistest.Client(t)
	hook := &failHook{}
	hook.fail.Store(true)
	client.AddHook(hook)
	t.Cleanup(func() { hook.fail.Store(false) }) // before the keys are deleted
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))

	c := New(client, prefix)
	c.SingleReader, c.DecisionsPublished = true, true
	feed := NewPublished()
	ctx, cancel := context.WithCancel(context.Background())
	consumed, counted := make(chan error, 1), make(chan struct{})
	go func() { done := Consume(ctx, url, opts, c, discard); consumed <- done }()
	go func() { defer close(counted); feed.Count(ctx, c, discard) }()
	defer func() {
		cancel()
		<-counted
		if err := <-consumed; err != nil {
			t.Error(err)
		}
	}()

	pubOpts := opts
	pubOpts.Stored, pubOpts.Logger = feed.Stored, discard
	pub, err := events.NewPublisher(ctx, url, pubOpts)
	if err != nil {
		t.Fatal(err)
	}
	decisions := 0
	for i, m := range msgs {
		kind, key, _ := strings.Cut(m.subject[len("arbiter."):], ".")
		e := &wire.Message{ID: fmt.Sprintf("m%d", i), Kind: kind, Key: key, JSON: m.data}
		if kind == wire.KindDecision {
			decisions++
			if i%3 != 0 {
				e.Exposure = exposureOf(t, m.data)
			}
		}
		pub.Publish(e)
	}
	closeCtx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	if err := pub.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if st := pub.Stats(); st.Published != uint64(len(msgs)) {
		t.Fatalf("%d events published, want %d", st.Published, len(msgs))
	}
	if decisions == 0 || decisions == len(msgs) {
		t.Fatalf("%d decisions among %d events: the test needs both kinds", decisions, len(msgs))
	}
	waitUntil(t, time.Minute, "a script call failing", func() bool { return hook.failed.Load() > 0 })
	hook.fail.Store(false)

	want := countedOneByOne(t, client, prefix, msgs)
	got := readOnceCounted(t, c, want)
	want.Since = got.Since // the times of counting, not the reference's
	sameSnapshots(t, got, want)
	if n := c.BodiesFetched(); n != 0 {
		t.Errorf("%d bodies fetched: the consumer of outcomes reads them whole", n)
	}
	if n := feed.Dropped(); n != 0 {
		t.Errorf("%d decisions dropped", n)
	}
	js := eventstest.JetStream(t, url)
	cons, err := js.Consumer(context.Background(), events.StreamName(opts.Prefix), ConsumerName+"-outcomes")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := cons.CachedInfo().Config; cfg.FilterSubject != opts.Prefix+".outcome.converted" || len(cfg.FilterSubjects) != 0 {
		t.Errorf("the consumer reads %q %v, want the outcomes only", cfg.FilterSubject, cfg.FilterSubjects)
	}
}

// exposureOf is a decision's wire.ExposureHeader value, made from its JSON.
func exposureOf(t testing.TB, data []byte) string {
	t.Helper()
	d, err := ParseDecision(data)
	if err != nil {
		t.Fatal(err)
	}
	head, err := json.Marshal(struct {
		CustomerID  string            `json:"customer_id"`
		Experiments []wire.Assignment `json:"experiments"`
		Holdout     bool              `json:"holdout"`
	}{d.CustomerID, d.Experiments, d.Holdout})
	if err != nil {
		t.Fatal(err)
	}
	return string(head)
}

// TestPublishedDropsBeyondMaxPending: Stored never blocks; past MaxPending
// decisions waiting, it counts them as dropped; other events it ignores.
func TestPublishedDropsBeyondMaxPending(t *testing.T) {
	f := NewPublished()
	e := &wire.Message{Kind: wire.KindDecision, Key: "checkout", Exposure: `{"customer_id":"c","experiments":[],"holdout":false}`}
	for range MaxPending + 10 {
		f.Stored(e)
	}
	f.Stored(&wire.Message{Kind: "outcome", Key: "converted", JSON: []byte(`{}`)})
	if d := f.Dropped(); d != 10 {
		t.Errorf("dropped %d, want 10", d)
	}
	data, ends := f.take()
	if len(ends) != MaxPending || len(data) != MaxPending*len(e.Exposure) {
		t.Errorf("%d waiting (%d bytes), want %d", len(ends), len(data), MaxPending)
	}
	f.giveBack(data, ends)
	if _, ends := f.take(); len(ends) != 0 {
		t.Errorf("%d waiting after take", len(ends))
	}
}
