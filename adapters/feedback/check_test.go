package feedback

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
)

// TestConsumeChecked: outcomes other services publish on the stream are
// checked like the API's before anything counts them: a forged decision
// id and another customer's are refused (and counted as refused), a
// genuine decision's outcome naming an offer of no ruleset served is
// refused as unknown_offer (it counted, under a statistics hash of its
// own), a genuine "verified": false conversion commits its hold exactly once
// however often it is delivered, and the variants counted are the
// decision's own, whatever the event said.
func TestConsumeChecked(t *testing.T) {
	client, kp := testRedis(t)
	url := testNATS(t)
	prefix := eventstest.Prefix(t, url, "arbtest")
	ctx := context.Background()
	signer, _ := decisionid.NewSigner([]byte("feedback-key-0123456789abcdef"))
	rs := &rules.Ruleset{Version: "v1",
		Offers:      []*rules.Offer{{ID: "vip_10", Caps: rules.Caps{Total: 10, Hold: time.Hour}}},
		Experiments: []*rules.Experiment{{ID: "disc", Variants: []rules.Variant{{ID: "control"}, {ID: "deep"}}}}}
	led := memledger.New()
	now := time.Now()
	u := ulid.MustNew(ulid.Timestamp(now), nil)
	if _, err := led.Reserve(ctx, &engine.Plan{Now: now, Ref: u.String(), CustomerID: "c1", Currency: "USD", Limit: 1, Guardrail: 1 << 40,
		Items: []engine.PlanItem{{OfferID: "vip_10", Total: 10, Hold: time.Hour, Record: true}}}); err != nil {
		t.Fatal(err)
	}
	id := signer.New(decisionid.KindDecision, u, "c1", attribution.Codes([]engine.Assignment{{ID: "disc", Variant: "deep"}}), false)
	var mu sync.Mutex
	refused := map[string]int{}
	check := &GrantChecker{Attribution: attribution.New(signer, 0), Rules: func() *rules.Ruleset { return rs }, Grants: led,
		Refused: func(code, _ string) { mu.Lock(); refused[code]++; mu.Unlock() }}

	js := eventstest.JetStream(t, url)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName(prefix), Subjects: []string{prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	publish := func(body string) {
		t.Helper()
		if _, err := js.Publish(ctx, prefix+".outcome.converted", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	genuine := fmt.Sprintf(`{"id":"out_a","decision_id":%q,"customer_id":"c1","offer_id":"vip_10","value":10,"currency":"USD","experiments":[{"id":"disc","variant":"control"}],"verified":false}`, id)
	publish(genuine)
	publish(genuine) // delivered twice
	publish(fmt.Sprintf(`{"id":"out_b","decision_id":%q,"customer_id":"c2","offer_id":"vip_10"}`, id))
	publish(`{"id":"out_c","decision_id":"dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V","customer_id":"c1","offer_id":"vip_10"}`)
	// A genuine decision, an offer no ruleset has: a SKU sent as offer_id.
	publish(fmt.Sprintf(`{"id":"out_d","decision_id":%q,"customer_id":"c1","offer_id":"SKU-1234","value":10,"currency":"USD"}`, id))

	rec := NewRecorder(client, kp)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ConsumeChecked(runCtx, url, events.Options{Prefix: prefix}, rec, check, log) }()
	waitFor(t, 15*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if st := offerStats(t, rec, "vip_10"); st.Converted == 1 && refused["customer_mismatch"] == 1 && refused["unknown_decision"] == 1 && refused["unknown_offer"] == 1 {
			return nil
		}
		return fmt.Errorf("not yet: %+v %v", offerStats(t, rec, "vip_10"), refused)
	})
	stop()
	<-done
	if st := offerStats(t, rec, "SKU-1234"); st.Converted != 0 || len(st.Revenue) != 0 {
		t.Errorf("an offer of no ruleset was counted: %+v", st)
	}
	st := offerStats(t, rec, "vip_10")
	if len(st.Variants) != 1 || st.Variants[0].Variant != "deep" {
		t.Errorf("variants %+v: want the decision's own (deep)", st.Variants)
	}
	b, _ := led.Budgets(ctx, now, []engine.BudgetQuery{{OfferID: "vip_10"}})
	if b[0].Count != 1 || b[0].Held != 0 {
		t.Errorf("the hold: %+v, want committed once", b[0])
	}
}

// TestConsumeRejectsAnOutcomeFromTheFuture: an outcome whose occurred_at
// is more than a minute after its arrival (an order service that wrote
// its local time as UTC, east of Greenwich) is refused by POST
// /v1/outcomes with 400; published on the stream, it is rejected alike:
// never counted, and its hold is not moved (it used to be released as
// expired, the hold's 30 minutes having passed by then, and committed
// late, past the cap).
func TestConsumeRejectsAnOutcomeFromTheFuture(t *testing.T) {
	client, kp := testRedis(t)
	url := testNATS(t)
	prefix := eventstest.Prefix(t, url, "arbtest")
	ctx := context.Background()
	signer, _ := decisionid.NewSigner([]byte("feedback-key-0123456789abcdef"))
	rs := &rules.Ruleset{Version: "v1", Offers: []*rules.Offer{{ID: "vip_10", Caps: rules.Caps{Total: 10, Hold: 30 * time.Minute}}, {ID: "marker"}}}
	led := memledger.New()
	now := time.Now()
	u := ulid.MustNew(ulid.Timestamp(now), nil)
	if _, err := led.Reserve(ctx, &engine.Plan{Now: now, Ref: u.String(), CustomerID: "c1", Currency: "USD", Limit: 1, Guardrail: 1 << 40,
		Items: []engine.PlanItem{{OfferID: "vip_10", Total: 10, Hold: 30 * time.Minute, Record: true}}}); err != nil {
		t.Fatal(err)
	}
	id := signer.New(decisionid.KindDecision, u, "c1", nil, false)
	var mu sync.Mutex
	var moved engine.OutcomeResult
	check := &GrantChecker{Attribution: attribution.New(signer, 0), Rules: func() *rules.Ruleset { return rs }, Grants: led,
		Applied: func(r engine.OutcomeResult) { mu.Lock(); moved.Add(r); mu.Unlock() }}

	js := eventstest.JetStream(t, url)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName(prefix), Subjects: []string{prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	hour := now.Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct{ offer, more string }{
		{"vip_10", `"occurred_at":"` + hour + `"`},                                              // rejected
		{"vip_10", `"occurred_at":"` + now.Add(3*time.Minute).UTC().Format(time.RFC3339) + `"`}, // rejected
		{"vip_10", `"occurred_at":"` + hour + `","ts":"` + hour + `"`},                          // rejected: the stream's time is the arrival
		{"marker", `"occurred_at":"` + now.UTC().Format(time.RFC3339Nano) + `"`},                // counted: the consumer got this far
	} {
		body := fmt.Sprintf(`{"decision_id":%q,"customer_id":"c1","offer_id":%q,"value":10,"currency":"USD",%s}`, id, tt.offer, tt.more)
		if _, err := js.Publish(ctx, prefix+".outcome.converted", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	rec := NewRecorder(client, kp)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ConsumeChecked(runCtx, url, events.Options{Prefix: prefix}, rec, check, log) }()
	waitFor(t, 15*time.Second, func() error {
		if st := offerStats(t, rec, "marker"); st.Converted != 1 {
			return fmt.Errorf("the marker was never counted: %+v", st)
		}
		return nil
	})
	stop()
	<-done
	if st := offerStats(t, rec, "vip_10"); st.Converted != 0 {
		t.Errorf("vip_10 counted %d conversions from the future, want 0", st.Converted)
	}
	mu.Lock()
	defer mu.Unlock()
	if moved != (engine.OutcomeResult{}) {
		t.Errorf("outcomes from the future moved grant records: %+v", moved)
	}
	b, _ := led.Budgets(ctx, now, []engine.BudgetQuery{{OfferID: "vip_10"}})
	if b[0].Held != 1 || b[0].Count != 1 {
		t.Errorf("the hold: %+v, want still held (count 1, held 1)", b[0])
	}
}
