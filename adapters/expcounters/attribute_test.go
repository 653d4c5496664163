package expcounters

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// Outcomes count in their decision's own variants, as attribution reads
// them (Attributed: the serve command gives it the checker of POST
// /v1/outcomes and of the feedback consumer): one Arbiter verified counts in
// the variants it carries; one another service published counts in those
// its signed id names (through the ruleset in force and the one before),
// whatever it says itself, and not at all when attribution refuses it.
func TestOutcomesCountInTheDecisionsOwnVariants(t *testing.T) {
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	signer, err := decisionid.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	checker := attribution.New(signer, 24*time.Hour)
	ruleset := func(version string, variants ...string) *rules.Ruleset {
		x := &rules.Experiment{ID: "x", Layer: "pricing"}
		for _, v := range variants {
			x.Variants = append(x.Variants, rules.Variant{ID: v})
		}
		return &rules.Ruleset{Version: version, Experiments: []*rules.Experiment{x}}
	}
	checker.Serve(ruleset("v1", "a", "old"))
	checker.Serve(ruleset("v2", "a", "b")) // "old" is still read back: the ruleset before
	c.Attribute = Attributed(checker, nil)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	id := func(cust, variant string) string {
		u := ulid.MustNew(ulid.Timestamp(t0), ulid.DefaultEntropy())
		return signer.New(decisionid.KindDecision, u, cust, attribution.Codes([]engine.Assignment{{ID: "x", Variant: variant}}), false)
	}
	conv := func(decisionID, cust string, verified bool, carried ...string) *wire.OutcomeEvent {
		o := &wire.OutcomeEvent{DecisionID: decisionID, CustomerID: cust, Outcome: wire.OutcomeConverted, TS: t0.Add(time.Hour),
			Verified: verified, Experiments: []wire.Assignment{}}
		for _, v := range carried {
			o.Experiments = append(o.Experiments, wire.Assignment{ID: "x", Variant: v, Layer: "pricing"})
		}
		return o
	}
	sealed := func(o *wire.OutcomeEvent) *wire.OutcomeEvent {
		o.Seal = signer.Seal(o.SealMessage())
		return o
	}
	storedAt := func(o *wire.OutcomeEvent, at time.Time) *wire.OutcomeEvent {
		o.Arrival = at
		return o
	}
	tamper := func(o *wire.OutcomeEvent) *wire.OutcomeEvent {
		o.Experiments[0].Variant = "a"
		return o
	}
	ctx := context.Background()
	for i, tc := range []struct {
		o       *wire.OutcomeEvent
		counted bool
	}{
		{sealed(conv(id("c1", "b"), "c1", true, "a")), true},           // Arbiter's own, verified and sealed: the variants it carries (a)
		{conv(id("c10", "b"), "c10", true, "a"), true},                 // "verified": true without a seal: the id's (b), not what it says
		{tamper(sealed(conv(id("c11", "b"), "c11", true, "b"))), true}, // a sealed event whose variants were changed since: the id's (b)
		{conv(id("c2", "b"), "c2", false, "a"), true},                  // another service's: the id's (b), not what it says
		{conv(id("c3", "old"), "c3", false), true},                     // a variant of the ruleset before
		{conv(id("c4", "b"), "c5", false, "b"), false},                 // another customer's decision: refused
		{conv("dcs_"+ulid.Make().String(), "c6", false, "b"), false},   // not an id the fleet signed
		// Another service's outcome saying "verified": true (copied from
		// an Arbiter event) is still checked: a forged or another
		// customer's id counts nowhere.
		{conv("dcs_"+ulid.Make().String(), "c7", true, "a"), false},
		// Stored two days after its decision (the window is a day),
		// whatever the ts its body states: expired.
		{storedAt(conv(id("c12", "b"), "c12", false), t0.Add(48*time.Hour)), false},
		{conv(id("c8", "a"), "c9", true, "a"), false},
	} {
		n, err := c.Record(ctx, Event{Stream: "ARBITER", Sequence: uint64(i + 1), Stored: t0, Outcome: tc.o})
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.counted {
			t.Errorf("outcome %d: counted %v, want %v", i, n, tc.counted)
		}
	}
	s, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for g, want := range map[string]int64{GroupOf("x", "a"): 1, GroupOf("x", "b"): 3, GroupOf("x", "old"): 1} {
		if got := s.Groups[g]; got == nil || got.Conversions != want {
			t.Errorf("%s: %+v, want %d conversions", g, got, want)
		}
	}
	if g := s.Groups[HoldoutServed]; g == nil || g.Conversions != 5 {
		t.Errorf("served: %+v, want the 5 outcomes counted", g)
	}
}
