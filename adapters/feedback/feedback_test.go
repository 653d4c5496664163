package feedback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

func unique(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testRedis returns a client on ARBITER_TEST_REDIS_URL or on miniredis, and
// a key prefix of the test's own, deleted at the end.
func testRedis(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	c, prefix, _ := redistest.Client(t)
	return c, prefix
}

// testNATS returns the URL of the NATS server the test uses: the real one
// of ARBITER_TEST_NATS_URL, else an embedded one.
func testNATS(t *testing.T) string {
	t.Helper()
	url, _ := eventstest.URL(t)
	return url
}

func usd(minor int64) engine.Money { return engine.Money{Minor: minor, Exp: 2} }

func TestRecordCountsOncePerEvent(t *testing.T) {
	client, prefix := testRedis(t)
	rec := NewRecorder(client, prefix)
	ctx := context.Background()
	exps := []wire.Assignment{{ID: "disc", Variant: "deep"}}
	evs := []struct {
		ev *wire.OutcomeEvent
		id string
	}{
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "impression", Experiments: exps}, "out_1"},
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "accepted", Experiments: exps}, "out_2"},
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "converted", Value: usd(11250), Currency: "USD", Experiments: exps}, "out_3"},
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "converted", Value: usd(11250), Currency: "USD", Experiments: exps}, "out_3"}, // redelivered
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "converted", Value: engine.Money{Minor: 1000}, Currency: "JPY", Experiments: []wire.Assignment{}}, "out_4"},
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "dismissed", Experiments: []wire.Assignment{{ID: "disc", Variant: "control"}}}, "out_5"},
		{&wire.OutcomeEvent{OfferID: "", Outcome: "converted"}, "out_6"}, // no offer: nothing to count
		{&wire.OutcomeEvent{OfferID: "vip_10", Outcome: "cancelled", Experiments: exps}, "out_7"},
	}
	counted := 0
	for _, e := range evs {
		ok, err := rec.Record(ctx, e.ev, e.id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			counted++
		}
	}
	if counted != 6 {
		t.Fatalf("counted %d, want 6 (one duplicate, one without offer)", counted)
	}
	st, err := rec.Offer(ctx, "vip_10")
	if err != nil {
		t.Fatal(err)
	}
	if st.Impressions != 1 || st.Accepted != 1 || st.Dismissed != 1 || st.Converted != 2 || st.Cancelled != 1 ||
		st.Revenue["USD"] != usd(11250) || st.Revenue["JPY"] != (engine.Money{Minor: 1000}) {
		t.Fatalf("offer stats %+v", st)
	}
	if len(st.Variants) != 2 || st.Variants[0].Variant != "control" || st.Variants[0].Dismissed != 1 ||
		st.Variants[1].Variant != "deep" || st.Variants[1].Converted != 1 || st.Variants[1].Cancelled != 1 || st.Variants[1].Impressions != 1 || st.Variants[1].Revenue["USD"] != usd(11250) {
		t.Fatalf("variants %+v", st.Variants)
	}
	// The layout is the documented one.
	if v, _ := client.HGet(ctx, prefix+"stats:offer:{vip_10}", "exp:disc:deep:revenue:USD").Result(); v != "11250" {
		t.Fatalf("hash field: %q", v)
	}
	if ttl := client.TTL(ctx, prefix+"stats:seen:{vip_10}:out_3").Val(); ttl <= 0 || ttl > DedupTTL {
		t.Fatalf("seen key TTL %v", ttl)
	}
}

// TestConsumeFromJetStream: outcomes published by Arbiter (the HTTP
// route's path, through the Publisher) and by another service straight on
// NATS end up in the same statistics, through the durable consumer.
func TestConsumeFromJetStream(t *testing.T) {
	client, kp := testRedis(t)
	url := testNATS(t)
	prefix := eventstest.Prefix(t, url, "arbtest")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	pub, err := events.NewPublisher(ctx, url, events.Options{Prefix: prefix, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{"impression", "accepted", "converted"} {
		m, err := (&wire.OutcomeEvent{Type: "outcome", ID: "out_" + typ, DecisionID: "dcs_1", CustomerID: "c1", OfferID: "vip_10",
			Outcome: typ, Value: usd(int64(i * 1000)), Currency: "USD", Experiments: []wire.Assignment{{ID: "disc", Variant: "deep"}}}).Message()
		if err != nil {
			t.Fatal(err)
		}
		pub.Publish(m)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pub.Close(cctx); err != nil {
		t.Fatal(err)
	}
	js := eventstest.JetStream(t, url)
	if _, err := js.Publish(ctx, prefix+".outcome.converted", []byte(`{"decision_id":"dcs_2","customer_id":"c2","offer_id":"vip_10","value":50.25,"currency":"USD"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, prefix+".outcome.converted", []byte(`{"offer_id":"vip_10","value":5}`)); err != nil { // rejected: no currency
		t.Fatal(err)
	}

	rec := NewRecorder(client, kp)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Consume(runCtx, url, events.Options{Prefix: prefix}, rec, log) }()
	var st *OfferStats
	waitFor(t, 15*time.Second, func() error {
		st = offerStats(t, rec, "vip_10")
		if st.Converted == 2 && st.Impressions == 1 && st.Accepted == 1 {
			return nil
		}
		return fmt.Errorf("statistics never complete: %+v", st)
	})
	if st.Revenue["USD"] != usd(2000+5025) {
		t.Fatalf("revenue %+v", st.Revenue)
	}
	if len(st.Variants) != 1 || st.Variants[0].Converted != 1 || st.Variants[0].Revenue["USD"] != usd(2000) {
		t.Fatalf("variants %+v", st.Variants)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Consume did not stop")
	}
	// A second run resumes from the durable consumer: nothing is counted twice.
	runCtx, stop = context.WithCancel(ctx)
	go func() { done <- Consume(runCtx, url, events.Options{Prefix: prefix}, rec, log) }()
	if _, err := js.Publish(ctx, prefix+".outcome.dismissed", []byte(`{"id":"out_x","offer_id":"vip_10"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() error {
		if st = offerStats(t, rec, "vip_10"); st.Dismissed != 1 {
			return fmt.Errorf("dismissal never counted: %+v", st)
		}
		return nil
	})
	stop()
	<-done
	if st.Converted != 2 || st.Impressions != 1 {
		t.Fatalf("counted twice after restart: %+v", st)
	}
}

// TestConsumeCreatesTheStreamAsThePublisherWould: when the consumer is
// first, the stream gets the settings the publisher is given (serve's
// embedded server asks for a 30 s duplicate window), and with InProcess it
// reaches an embedded server without a socket (the URL names a port where
// nothing listens).
func TestConsumeCreatesTheStreamAsThePublisherWould(t *testing.T) {
	client, kp := testRedis(t)
	emb, err := events.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := events.Options{Prefix: "fb_" + unique(t), Duplicates: 30 * time.Second, MaxAge: time.Hour, InProcess: emb}
	rec := NewRecorder(client, kp)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Consume(ctx, "nats://127.0.0.1:1", opts, rec, log) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	nc, err := nats.Connect(emb.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var cfg jetstream.StreamConfig
	waitFor(t, 10*time.Second, func() error {
		s, err := js.Stream(context.Background(), events.StreamName(opts.Prefix))
		if err != nil {
			return fmt.Errorf("the consumer created no stream: %w", err)
		}
		cfg = s.CachedInfo().Config
		return nil
	})
	if cfg.Duplicates != 30*time.Second || cfg.MaxAge != time.Hour {
		t.Fatalf("stream created with duplicates %v, max age %v; want 30s and 1h", cfg.Duplicates, cfg.MaxAge)
	}
	if _, err := js.Publish(context.Background(), opts.Prefix+".outcome.accepted", []byte(`{"id":"o1","offer_id":"vip_10"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if st := offerStats(t, rec, "vip_10"); st.Accepted != 1 {
			return fmt.Errorf("the outcome was never counted: %+v", st)
		}
		return nil
	})
}

// waitFor polls cond until it returns nil, and fails the test with its
// last error when d has passed.
func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// offerStats reads an offer's statistics, failing the test on an error.
func offerStats(t *testing.T, rec *Recorder, offer string) *OfferStats {
	t.Helper()
	st, err := rec.Offer(context.Background(), offer)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
