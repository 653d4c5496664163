package feedback

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// grantFixture is one decision of customer c1 that held a grant of
// vip_10 (total 10, a one-hour hold), on a ledger whose clock is now, and
// a GrantChecker counting what applying moved.
type grantFixture struct {
	now     time.Time
	id      string // the decision id
	signer  *decisionid.Signer
	led     *memledger.Ledger
	check   *GrantChecker
	applied engine.OutcomeResult
	calls   int
}

func newGrantFixture(t *testing.T, decided, now time.Time) *grantFixture {
	t.Helper()
	f := &grantFixture{now: now}
	signer, err := decisionid.NewSigner([]byte("feedback-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rs := &rules.Ruleset{Version: "v1", Offers: []*rules.Offer{{ID: "vip_10", Caps: rules.Caps{Total: 10, Hold: time.Hour}}}}
	f.led = memledger.NewWithOptions(memledger.Options{Now: func() time.Time { return f.now }})
	u := ulid.MustNew(ulid.Timestamp(decided), nil)
	if _, err := f.led.Reserve(context.Background(), &engine.Plan{Now: decided, Ref: u.String(), CustomerID: "c1", Currency: "USD", Limit: 1,
		Guardrail: 1 << 40, Items: []engine.PlanItem{{OfferID: "vip_10", Total: 10, Hold: time.Hour, Record: true}}}); err != nil {
		t.Fatal(err)
	}
	f.signer = signer
	f.id = signer.New(decisionid.KindDecision, u, "c1", nil, false)
	f.check = &GrantChecker{Attribution: attribution.New(signer, 0), Rules: func() *rules.Ruleset { return rs }, Grants: f.led,
		Applied: func(r engine.OutcomeResult) { f.calls++; f.applied.Add(r) }}
	return f
}

// budget is vip_10's count and holds at the fixture's now.
func (f *grantFixture) budget(t *testing.T) engine.BudgetState {
	t.Helper()
	b, err := f.led.Budgets(context.Background(), f.now, []engine.BudgetQuery{{OfferID: "vip_10"}})
	if err != nil || len(b) != 1 {
		t.Fatalf("budgets: %v %v", b, err)
	}
	return b[0]
}

// TestForeignOutcomeArrivesWhenStored: the attribution window is measured
// to when the stream stored an outcome (or to its occurred_at), never to
// the ts its body states: a producer's clock, or an old outcome published
// again, does not bring an expired decision back into the window.
func TestForeignOutcomeArrivesWhenStored(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	window := attribution.DefaultWindow
	for _, tt := range []struct {
		name    string
		decided time.Time
		ts      time.Time // the body's ts; zero: none
		want    string
	}{
		{"stored after the window, ts within", now.Add(-window - time.Hour), now.Add(-window + time.Hour), attribution.CodeDecisionExpired},
		{"stored after the window, no ts", now.Add(-window - time.Hour), time.Time{}, attribution.CodeDecisionExpired},
		{"stored within the window, ts after it", now.Add(-window + time.Hour), now.Add(2 * time.Hour), ""},
		{"stored within the window", now.Add(-time.Hour), now.Add(-time.Minute), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newGrantFixture(t, tt.decided, now)
			ts := ""
			if !tt.ts.IsZero() {
				ts = fmt.Sprintf(`"ts":%q,`, tt.ts.Format(time.RFC3339Nano))
			}
			body := fmt.Sprintf(`{"id":"out_x",%s"decision_id":%q,"customer_id":"c1","offer_id":"vip_10"}`, ts, f.id)
			ev, err := wire.ParseOutcome("arbiter", "arbiter.outcome.dismissed", []byte(body), now)
			if err != nil {
				t.Fatal(err)
			}
			code, err := f.check.Check(context.Background(), ev, "out_x")
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.want {
				t.Errorf("Check = %q, want %q", code, tt.want)
			}
			if !tt.ts.IsZero() && !ev.TS.Equal(tt.ts) {
				t.Errorf("the event's ts is %s, want the body's %s, as written", ev.TS, tt.ts)
			}
		})
	}
}

// TestOutcomeOfAGrantWhoseRecordIsGone: a decision within the window
// whose grant record is gone (here: kept for a day, the window then
// lengthened to a week; likewise evicted, or lost with Redis's data) is
// indistinguishable from one that never granted the offer: an order naming
// the offer is refused, unknown_offer, and moves nothing (a mistyped offer
// must never count); the same order for the whole decision is counted,
// and moves nothing either.
func TestOutcomeOfAGrantWhoseRecordIsGone(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, offer, want string
	}{
		{"naming the offer", `"offer_id":"vip_10",`, attribution.CodeUnknownOffer},
		{"the whole decision", ``, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			decided := now.Add(-2 * 24 * time.Hour)
			f := newGrantFixture(t, decided, now)
			f.led = memledger.NewWithOptions(memledger.Options{RecordTTL: 24 * time.Hour, Now: func() time.Time { return f.now }})
			u, _ := ulid.Parse(decisionRef(t, f.id))
			if _, err := f.led.Reserve(context.Background(), &engine.Plan{Now: decided, Ref: u.String(), CustomerID: "c1", Currency: "USD", Limit: 1,
				Guardrail: 1 << 40, Items: []engine.PlanItem{{OfferID: "vip_10", Total: 10, Hold: time.Hour, Record: true}}}); err != nil {
				t.Fatal(err)
			}
			f.check.Grants = f.led
			body := fmt.Sprintf(`{"id":"out_x","decision_id":%q,"customer_id":"c1",%s"value":10,"currency":"USD"}`, f.id, tt.offer)
			ev, err := wire.ParseOutcome("arbiter", "arbiter.outcome.converted", []byte(body), now)
			if err != nil {
				t.Fatal(err)
			}
			code, err := f.check.Check(context.Background(), ev, "out_x")
			if err != nil || code != tt.want {
				t.Fatalf("Check = %q, %v; want %q", code, err, tt.want)
			}
			if f.applied != (engine.OutcomeResult{}) {
				t.Errorf("applying moved %+v, want nothing (no record left)", f.applied)
			}
		})
	}
}

// decisionRef is the ULID of a decision id (its Plan.Ref).
func decisionRef(t *testing.T, id string) string {
	t.Helper()
	d, ok := decisionid.Parse(id)
	if !ok {
		t.Fatalf("%q is not a decision id", id)
	}
	return d.ULID.String()
}

// TestOutcomeWithoutOccurredAtIsTimedByItsArrival: an order without
// occurred_at occurred when it arrived (SPEC-LOOP: "default: its
// arrival"), and its hold is measured to then, however late the consumer
// applies it: another service's outcome without occurred_at that the
// stream stored within the hold and the consumer applies after it (Redis
// was down and the outcome redelivered until it was back, a consumer
// catching up) commits the hold, or releases it. It was measured to when
// the consumer applied it: the hold counted as lapsed, the order as a late
// commit (over the cap if its unit had been granted again), the dismissal
// as an expiry.
func TestOutcomeWithoutOccurredAtIsTimedByItsArrival(t *testing.T) {
	decided := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	stored := decided.Add(10 * time.Minute) // within the hour's hold
	for _, tt := range []struct {
		typ  string
		want engine.OutcomeResult
	}{
		{"converted", engine.OutcomeResult{Records: 1, Commits: 1}},
		{"dismissed", engine.OutcomeResult{Records: 1, Releases: 1}},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			f := newGrantFixture(t, decided, decided.Add(2*time.Hour)) // applied an hour after the hold lapsed
			body := fmt.Sprintf(`{"id":"out_late","decision_id":%q,"customer_id":"c1","offer_id":"vip_10"}`, f.id)
			ev, err := wire.ParseOutcome("arbiter", "arbiter.outcome."+tt.typ, []byte(body), stored)
			if err != nil {
				t.Fatal(err)
			}
			if code, err := f.check.Check(context.Background(), ev, "out_late"); err != nil || code != "" {
				t.Fatalf("Check = %q, %v; want it counted", code, err)
			}
			if f.applied != tt.want {
				t.Errorf("applying moved %+v, want %+v", f.applied, tt.want)
			}
		})
	}
}
