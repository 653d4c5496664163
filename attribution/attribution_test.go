package attribution

import (
	"reflect"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

func ruleset(version string, variants ...string) *rules.Ruleset {
	x := &rules.Experiment{ID: "depth"}
	for _, v := range variants {
		x.Variants = append(x.Variants, rules.Variant{ID: v})
	}
	return &rules.Ruleset{Version: version, Experiments: []*rules.Experiment{x}}
}

func TestCheck(t *testing.T) {
	signer, err := decisionid.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	c := New(signer, 24*time.Hour)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	u := ulid.MustNew(ulid.Timestamp(t0), nil)
	old := ruleset("v1", "control", "deep")
	c.Serve(old)
	id := signer.New(decisionid.KindDecision, u, "c1", Codes([]engine.Assignment{{ID: "depth", Variant: "deep"}, {ID: "gone", Variant: "x"}}), false)
	dry := signer.New(decisionid.KindDryRun, u, "c1", nil, false)
	// A new ruleset renames the variants: the decision's own still read back.
	rs := ruleset("v2", "control", "deeper")
	rs.Offers = []*rules.Offer{
		{ID: "held", Caps: rules.Caps{Total: 1000, Budget: 5000, Hold: 30 * time.Minute}},
		{ID: "plain", Caps: rules.Caps{Total: 10}},
	}
	c.Serve(rs)
	at := t0.Add(time.Hour)
	for _, tc := range []struct {
		name        string
		o           Outcome
		code, field string
		named       bool
		offers      int
	}{
		{"named, held", Outcome{DecisionID: id, CustomerID: "c1", OfferID: "held", Type: "converted", Arrival: at}, "", "", true, 1},
		{"named, no records", Outcome{DecisionID: id, CustomerID: "c1", OfferID: "plain", Type: "converted", Arrival: at}, "", "", false, 0},
		{"whole decision", Outcome{DecisionID: id, CustomerID: "c1", Type: "converted", Arrival: at}, "", "", false, 1},
		{"forged", Outcome{DecisionID: "dcs_" + u.String() + "0" + "AAAAAAAA" + "AAAAAAAAAAAAA", CustomerID: "c1", Arrival: at}, CodeUnknownDecision, "decision_id", false, 0},
		{"mistyped", Outcome{DecisionID: id[:len(id)-1] + "Z", CustomerID: "c1", Arrival: at}, CodeCustomerMismatch, "customer_id", false, 0},
		{"dry run", Outcome{DecisionID: dry, CustomerID: "c1", Arrival: at}, CodeUnknownDecision, "decision_id", false, 0},
		{"another customer", Outcome{DecisionID: id, CustomerID: "c2", Arrival: at}, CodeCustomerMismatch, "customer_id", false, 0},
		{"expired", Outcome{DecisionID: id, CustomerID: "c1", Arrival: t0.Add(25 * time.Hour)}, CodeDecisionExpired, "decision_id", false, 0},
		// The deciding replica's clock 2 minutes ahead of this one's: the
		// genuine id looks made after the outcome (docs/operations.md,
		// Clocks); within a minute it is accepted.
		{"decided by a clock 2 minutes ahead", Outcome{DecisionID: id, CustomerID: "c1", Arrival: t0.Add(-2 * time.Minute)}, CodeUnknownDecision, "decision_id", false, 0},
		{"decided by a clock 50 s ahead", Outcome{DecisionID: id, CustomerID: "c1", Type: "converted", Arrival: t0.Add(-50 * time.Second)}, "", "", false, 1},
		{"occurred within the window", Outcome{DecisionID: id, CustomerID: "c1", At: t0.Add(23 * time.Hour), Arrival: t0.Add(25 * time.Hour)}, "", "", false, 0},
	} {
		r := c.Check(&tc.o, rs)
		if r.Code != tc.code || r.Field != tc.field {
			t.Errorf("%s: %q %q, want %q %q", tc.name, r.Code, r.Field, tc.code, tc.field)
			continue
		}
		if r.Code != "" {
			continue
		}
		if want := []engine.Assignment{{ID: "depth", Variant: "deep"}}; !reflect.DeepEqual(r.Experiments, want) || r.UnknownCodes != 1 {
			t.Errorf("%s: experiments %v (%d unknown), want %v (1 unknown)", tc.name, r.Experiments, r.UnknownCodes, want)
		}
		if tc.offers == 0 {
			if r.Grant != nil && tc.o.Type != "" {
				t.Errorf("%s: a grant outcome %+v", tc.name, r.Grant)
			}
			continue
		}
		g := r.Grant
		if g == nil || g.Named != tc.named || len(g.Offers) != tc.offers || g.Ref != u.String() || !g.DecisionTime.Equal(t0) {
			t.Errorf("%s: grant %+v", tc.name, g)
			continue
		}
		// The rules name no currency: the budget is counted per cart
		// currency, and judged in the grant's own (BudgetMajor).
		if g.Offers[0] != (engine.OutcomeOffer{ID: "held", Total: 1000, BudgetMajor: 5000}) {
			t.Errorf("%s: offer %+v", tc.name, g.Offers[0])
		}
		r.Refuse(engine.OutcomeResult{})
		if tc.named && r.Code != CodeUnknownOffer {
			t.Errorf("%s: no record, not refused", tc.name)
		}
		if !tc.named && r.Code != "" {
			t.Errorf("%s: a whole decision refused: %s", tc.name, r.Code)
		}
	}
	// Two reloads later the first ruleset's variants are forgotten.
	c.Serve(ruleset("v3", "a"))
	if r := c.Check(&Outcome{DecisionID: id, CustomerID: "c1", Arrival: at}, rs); len(r.Experiments) != 0 || r.UnknownCodes != 2 {
		t.Errorf("after two reloads: %v, %d unknown", r.Experiments, r.UnknownCodes)
	}
}

// TestHoldPutOnBeforeThisReplicaStarted pins what docs/budgets.md says of a
// hold put on an offer: a replica that served the offer without one
// accepts an order naming it for a decision made then (no record); a
// replica started after the reload cannot tell, and refuses it.
func TestHoldPutOnBeforeThisReplicaStarted(t *testing.T) {
	signer, err := decisionid.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	id := signer.New(decisionid.KindDecision, ulid.MustNew(ulid.Timestamp(t0), nil), "c1", nil, false)
	offers := func(hold time.Duration) []*rules.Offer {
		return []*rules.Offer{{ID: "x", Caps: rules.Caps{Total: 10, Hold: hold}}}
	}
	before := &rules.Ruleset{Version: "v1", Offers: offers(0)}
	after := &rules.Ruleset{Version: "v2", Offers: offers(30 * time.Minute)}
	for _, tc := range []struct {
		name   string
		served []*rules.Ruleset
		code   string
	}{
		{"served the offer without a hold", []*rules.Ruleset{before, after}, ""},
		{"started after the reload", []*rules.Ruleset{after}, CodeUnknownOffer},
	} {
		c := New(signer, 24*time.Hour)
		for _, rs := range tc.served {
			c.Serve(rs)
		}
		r := c.Check(&Outcome{DecisionID: id, CustomerID: "c1", OfferID: "x", Type: "converted", Arrival: t0.Add(time.Hour)}, after)
		r.Refuse(engine.OutcomeResult{}) // the decision has no record
		if r.Code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, r.Code, tc.code)
		}
	}
}

// An over-cap commit is judged against the budget the decisions were held
// to (engine.BudgetMinor), in the ruleset's currency's digits: a budget
// below one minor unit is one, one too large to count is never reached.
// (Without a currency it is passed in major units, BudgetMajor, and judged
// in each grant's currency by the ledger: TestCheck.)
func TestOutcomeOfferBudgetIsTheDecisionsLimit(t *testing.T) {
	for _, tc := range []struct {
		currency string
		budget   float64
		want     int64
	}{
		{"USD", 0.004, 1},
		{"JPY", 0.4, 1},
		{"JPY", 2000, 2000},
		{"KWD", 1.2345, 1235},
		{"USD", 1e18, 1 << 53},
	} {
		rs := &rules.Ruleset{Currency: tc.currency}
		o := &rules.Offer{ID: "b", Caps: rules.Caps{Budget: tc.budget}}
		if got := OutcomeOffer(rs, o).Budget; got != tc.want {
			t.Errorf("%s %v: budget %d minor units, want %d (engine.BudgetMinor: %d)", tc.currency, tc.budget, got, tc.want, engine.BudgetMinor(tc.budget, mustExp(t, tc.currency)))
		}
	}
}

func mustExp(t *testing.T, code string) int8 {
	if code == "" {
		return 2
	}
	e, ok := engine.CurrencyExp(code)
	if !ok {
		t.Fatalf("no currency %s", code)
	}
	return e
}
