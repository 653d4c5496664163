package expcounters

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// TestCounters counts decisions and conversions per variant and holdout
// group, each event once however often it is delivered, and shows them as
// GET /v1/experiments does (the real Redis with ARBITER_TEST_REDIS_URL,
// else miniredis).
func TestCounters(t *testing.T) {
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	c.HoldoutOf = func(id string) bool { return id == "h1" }
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	seq := uint64(0)
	record := func(ev Event, again bool) {
		t.Helper()
		seq++
		ev.Stream, ev.Sequence, ev.Stored = "ARBITER", seq+(1<<20)*uint64(seq%2), at
		n := 1
		if again {
			n = 3 // redelivered: counted once
		}
		for i := 0; i < n; i++ {
			if _, err := c.Record(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	usd := func(minor int64) engine.Money { return engine.Money{Minor: minor, Exp: 2} }
	dec := func(cust, v string, holdout bool) *wire.DecisionEvent {
		d := &wire.DecisionEvent{CustomerID: cust, Holdout: holdout, Experiments: []wire.Assignment{}}
		if v != "" {
			d.Experiments = append(d.Experiments, wire.Assignment{ID: "x", Variant: v, Layer: "pricing"})
		}
		return d
	}
	conv := func(cust, v, offer string, value engine.Money) *wire.OutcomeEvent {
		o := &wire.OutcomeEvent{DecisionID: "dcs_" + cust, CustomerID: cust, OfferID: offer, Outcome: wire.OutcomeConverted, Value: value, Currency: "USD", Experiments: []wire.Assignment{}}
		if v != "" {
			o.Experiments = append(o.Experiments, wire.Assignment{ID: "x", Variant: v})
		}
		return o
	}
	for i, cust := range []string{"a1", "a2", "a3", "a4"} {
		record(Event{Decision: dec(cust, "a", false)}, i == 0)
	}
	record(Event{Decision: dec("a1", "a", false)}, false) // a second decision of a1
	for _, cust := range []string{"b1", "b2", "b3", "b4"} {
		record(Event{Decision: dec(cust, "b", false)}, true)
	}
	record(Event{Decision: dec("h1", "", true)}, false)
	record(Event{Decision: &wire.DecisionEvent{}}, false) // anonymous: not counted
	record(Event{Outcome: conv("a1", "a", "", usd(1000))}, true)
	record(Event{Outcome: conv("b1", "b", "", usd(2000))}, false)
	record(Event{Outcome: conv("b2", "b", "", usd(4000))}, false)
	record(Event{Outcome: conv("b2", "b", "vip_10", usd(4000))}, false) // an offer conversion: counted apart
	record(Event{Outcome: conv("h1", "", "", usd(500))}, false)
	s, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ga, gb := s.Groups[GroupOf("x", "a")], s.Groups[GroupOf("x", "b")]
	if ga == nil || gb == nil || ga.Decisions != 5 || ga.Customers != 4 || gb.Decisions != 4 || gb.Customers != 4 ||
		ga.Conversions != 1 || gb.Conversions != 2 || gb.OfferConversions != 1 || gb.Revenue["USD"] != 6000 {
		t.Fatalf("a %+v b %+v", ga, gb)
	}
	if g := s.Groups[HoldoutServed]; g == nil || g.Decisions != 9 || g.Conversions != 3 {
		t.Errorf("served %+v", g)
	}
	if g := s.Groups[HoldoutHeldOut]; g == nil || g.Decisions != 1 || g.Conversions != 1 || g.Revenue["USD"] != 500 {
		t.Errorf("held out %+v", g)
	}
	if !s.Since.Equal(at) {
		t.Errorf("since %v", s.Since)
	}
	rs := &rules.Ruleset{Currency: "USD", Arbitration: rules.Arbitration{Holdout: 5}, Experiments: []*rules.Experiment{{ID: "x", Layer: "pricing", From: 0, To: 4999, Traffic: 50,
		Variants: []rules.Variant{{ID: "a", Weight: 50}, {ID: "b", Weight: 50}}}}}
	v := NewView(rs, s, at)
	x := v.Experiments[0]
	if x.Layer != "pricing" || x.Variants[0].Uplift != nil || x.Variants[1].Uplift == nil || len(v.Layers) != 1 || v.Layers[0].Traffic != 50 {
		t.Fatalf("%+v", v)
	}
	u := x.Variants[1].Uplift
	// b: 2 of 4 decisions, a: 1 of 5: +0.3; revenue per decision 15 - 2 = +13.
	if math.Abs(u.ConversionRate-0.3) > 1e-12 || u.RevenuePerDecision == nil || math.Abs(*u.RevenuePerDecision-13) > 1e-9 {
		t.Errorf("uplift %+v", u)
	}
	// Revenue per decision of b is [20 40 0 0]: variance (2000 - 4·15²)/3 = 366.67.
	if smp := sample(gb, "USD"); math.Abs(smp.Var-1100.0/3) > 1e-9 || smp.Mean != 15 {
		t.Errorf("sample %+v", smp)
	}
	if v.Holdout.Percent != 5 || v.Holdout.Served.Conversions != 3 || x.SampleRatio.P == nil {
		t.Errorf("holdout %+v, srm %+v", v.Holdout, x.SampleRatio)
	}
}

// TestViewSampleRatioZeroWeight: a variant paused with weight 0 (docs/rules.md's
// `static`), which the assignment gives no one, leaves the sample ratio checked
// over the others; one that has customers leaves it undone.
func TestViewSampleRatioZeroWeight(t *testing.T) {
	rs := &rules.Ruleset{Experiments: []*rules.Experiment{{ID: "x", Traffic: 100,
		Variants: []rules.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}, {ID: "static", Weight: 0}}}}}
	for _, c := range []struct {
		name                string
		control, deep, stat int64
		checked, mismatch   bool
	}{
		{"paused variant, 50/50 fits", 1000, 1010, 0, true, false},
		{"paused variant, mismatch", 1000, 1300, 0, true, true},
		{"customers in the weight-0 variant", 1000, 1000, 40, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Snapshot{Groups: map[string]*Group{
				GroupOf("x", "control"): {Customers: c.control}, GroupOf("x", "deep"): {Customers: c.deep},
				GroupOf("x", "static"): {Customers: c.stat}}}
			sr := NewView(rs, s, time.Time{}).Experiments[0].SampleRatio
			if (sr.P != nil) != c.checked || sr.Mismatch != c.mismatch {
				t.Errorf("sample ratio %+v (p %v): want checked %v, mismatch %v", sr, sr.P, c.checked, c.mismatch)
			}
		})
	}
}
