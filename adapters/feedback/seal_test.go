package feedback

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// TestForeignVerifiedOutcomeCommitsItsHold: another service's conversion
// that says "verified": true is applied to the grant records like any
// other foreign outcome (it used to be taken as applied already: its hold
// was never committed, released at expiry, and the unit granted again,
// past the offer's total).
func TestForeignVerifiedOutcomeCommitsItsHold(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, verified := range []string{`true`, `false`} {
		t.Run("verified="+verified, func(t *testing.T) {
			f := newGrantFixture(t, now.Add(-10*time.Minute), now)
			body := fmt.Sprintf(`{"id":"out_x","decision_id":%q,"customer_id":"c1","offer_id":"vip_10","value":10,"currency":"USD","verified":%s}`, f.id, verified)
			ev, err := wire.ParseOutcome("arbiter", "arbiter.outcome.converted", []byte(body), now)
			if err != nil {
				t.Fatal(err)
			}
			code, err := f.check.Check(context.Background(), ev, "out_x")
			if err != nil || code != "" {
				t.Fatalf("Check = %q, %v; want it counted", code, err)
			}
			if f.applied.Commits != 1 {
				t.Errorf("applying moved %+v, want one commit", f.applied)
			}
			// An hour later the hold would have expired: committed, the
			// unit stays counted.
			f.now = now.Add(2 * time.Hour)
			if b := f.budget(t); b.Count != 1 || b.Held != 0 {
				t.Errorf("vip_10 after the hold: count %d, held %d; want 1 committed, none held", b.Count, b.Held)
			}
		})
	}
}

// TestArbitersSealedOutcomeIsNotAppliedAgain: an outcome Arbiter
// published "verified": true with its seal was applied by the API: the
// feedback consumer does not apply it again (a "cancelled" that found the
// order not converted yet would otherwise give back the grant its later
// conversion committed). The same event changed in any field the seal
// covers, sealed with another fleet's key, or whose seal is copied onto
// another outcome, is another service's: applied.
func TestArbitersSealedOutcomeIsNotAppliedAgain(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	other, err := decisionid.NewSigner([]byte("another-fleet-0123456789ab"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name        string
		change      func(f *grantFixture, ev *wire.OutcomeEvent)
		wantApplied bool
	}{
		{"as published", func(*grantFixture, *wire.OutcomeEvent) {}, false},
		{"no seal", func(_ *grantFixture, ev *wire.OutcomeEvent) { ev.Seal = "" }, true},
		{"another fleet's seal", func(_ *grantFixture, ev *wire.OutcomeEvent) { ev.Seal = other.Seal(ev.SealMessage()) }, true},
		{"another id", func(_ *grantFixture, ev *wire.OutcomeEvent) { ev.ID = "out_forged" }, true},
		{"another occurred_at", func(_ *grantFixture, ev *wire.OutcomeEvent) { ev.OccurredAt = ev.OccurredAt.Add(-time.Minute) }, true},
		{"another value", func(_ *grantFixture, ev *wire.OutcomeEvent) { ev.Value.Minor++ }, true},
		{"other experiments", func(_ *grantFixture, ev *wire.OutcomeEvent) {
			ev.Experiments = []wire.Assignment{{ID: "disc", Variant: "deep"}}
		}, true},
		{"a seal of another outcome", func(f *grantFixture, ev *wire.OutcomeEvent) {
			o := *ev
			o.Outcome = wire.OutcomeImpression
			ev.Seal = f.signer.Seal(o.SealMessage())
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newGrantFixture(t, now.Add(-10*time.Minute), now)
			o := &wire.Outcome{DecisionID: f.id, CustomerID: "c1", OfferID: "vip_10", Type: wire.OutcomeConverted,
				Value: engine.Money{Minor: 1000, Exp: 2}, Currency: "USD", OccurredAt: now.Add(-time.Minute)}
			ev := wire.NewOutcomeEvent(o, "out_1", now, []engine.Assignment{{ID: "disc", Variant: "control", Layer: "pricing"}}, true)
			ev.Seal = f.signer.Seal(ev.SealMessage()) // as POST /v1/outcomes does
			tt.change(f, ev)
			m, err := ev.Message()
			if err != nil {
				t.Fatal(err)
			}
			back, err := wire.ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, now.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			code, err := f.check.Check(context.Background(), back, back.ID)
			if err != nil || code != "" {
				t.Fatalf("Check = %q, %v; want it counted", code, err)
			}
			if applied := f.calls > 0; applied != tt.wantApplied {
				t.Errorf("applied to the grant records: %v (%+v), want %v", applied, f.applied, tt.wantApplied)
			}
		})
	}
}

// TestSealReadsBack: the seal of an event POST /v1/outcomes publishes
// checks on the event read back from its JSON, whatever its currency's
// minor unit and however precise its occurred_at (a seal that did not
// would have its outcome applied twice).
func TestSealReadsBack(t *testing.T) {
	signer, err := decisionid.NewSigner([]byte("feedback-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 13, 4, 5, 123456789, time.FixedZone("", 3600))
	for _, o := range []wire.Outcome{
		{DecisionID: "dcs_1", CustomerID: "c1", OfferID: "vip_10", Type: wire.OutcomeConverted, Value: engine.Money{Minor: 11250, Exp: 2}, Currency: "USD", ID: "order-1"},
		{DecisionID: "dcs_1", CustomerID: "c1", Type: wire.OutcomeConverted, Value: engine.Money{Minor: 1000}, Currency: "JPY", OccurredAt: at},
		{DecisionID: "dcs_1", CustomerID: "c1", Type: wire.OutcomeCancelled, Value: engine.Money{Minor: -1, Exp: 3}, Currency: "BHD", OccurredAt: at},
		{DecisionID: "dcs_1", OfferID: "vip_10", Type: wire.OutcomeImpression},
	} {
		ev := wire.NewOutcomeEvent(&o, "out_1", at.Add(time.Second), nil, true)
		ev.Seal = signer.Seal(ev.SealMessage())
		m, err := ev.Message()
		if err != nil {
			t.Fatal(err)
		}
		back, err := wire.ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if back.Seal != ev.Seal || !signer.CheckSeal(back.SealMessage(), back.Seal) {
			t.Errorf("%s: the seal does not check once read back", m.JSON)
		}
	}
}

// TestSealedCancelBeforeItsConversion: why the feedback consumer does not
// apply Arbiter's own outcomes again. A return posted before its order
// (both to POST /v1/outcomes) finds nothing committed to give back, and
// the order then commits the grant; the return's event, applied again
// when the consumer reads it, would give the committed unit back: the
// offer would count one grant fewer than it gave. Sealed, it is not
// applied again, and the unit stays committed.
func TestSealedCancelBeforeItsConversion(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f := newGrantFixture(t, now.Add(-10*time.Minute), now)
	ctx := context.Background()
	var events []*wire.OutcomeEvent
	for _, typ := range []string{wire.OutcomeCancelled, wire.OutcomeConverted} {
		o := &wire.Outcome{DecisionID: f.id, CustomerID: "c1", OfferID: "vip_10", Type: typ}
		// What the API does: check, apply, publish sealed.
		r := f.check.Attribution.Check(&attribution.Outcome{DecisionID: o.DecisionID, CustomerID: o.CustomerID, OfferID: o.OfferID,
			Type: typ, Arrival: now}, f.check.Rules())
		if r.Code != "" || r.Grant == nil {
			t.Fatalf("%s: attribution %+v", typ, r)
		}
		if _, err := f.led.Apply(ctx, []engine.GrantOutcome{*r.Grant}); err != nil {
			t.Fatal(err)
		}
		ev := wire.NewOutcomeEvent(o, "out_"+typ, now, nil, true)
		ev.Seal = f.signer.Seal(ev.SealMessage())
		events = append(events, ev)
	}
	if b := f.budget(t); b.Count != 1 || b.Held != 0 {
		t.Fatalf("after the API: count %d, held %d; want 1 committed", b.Count, b.Held)
	}
	for _, ev := range events {
		m, _ := ev.Message()
		back, err := wire.ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, now)
		if err != nil {
			t.Fatal(err)
		}
		if code, err := f.check.Check(ctx, back, back.ID); code != "" || err != nil {
			t.Fatalf("Check = %q, %v", code, err)
		}
	}
	if b := f.budget(t); b.Count != 1 || b.Held != 0 {
		t.Errorf("after the feedback consumer: count %d, held %d; want the unit still committed", b.Count, b.Held)
	}
}
