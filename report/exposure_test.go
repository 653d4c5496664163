package report_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// checkoutShop simulates the case: a shop whose checkout posts an
// outcome for every decision. 9,000 customers with sequential ids, one in
// three a VIP; the experiment enrolls VIPs only (`when: "vip" in
// segments`), 50/50, outside a 5% holdout. Every customer makes two
// decisions and each decision gets an impression; a customer converts
// (once, on the first decision) with probability 20%, except VIPs in deep,
// 34.5%: the true uplift among the enrolled is +14.5 points. The outcomes
// carry the variants that POST /v1/outcomes recomputed before the fix (the
// formula without `when`), as the stream holds them.
func checkoutShop(seed uint64) (evs []report.Event, enrolled map[string]string) {
	rs := &rules.Ruleset{
		Experiments: []*rules.Experiment{{ID: "discount_depth", Salt: "discount_depth", Traffic: 100,
			Variants: []rules.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}}}},
		Arbitration: rules.Arbitration{Holdout: 5},
	}
	r := rand.New(rand.NewPCG(seed, 14))
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	add := func(ev report.Event) {
		at = at.Add(time.Second)
		ev.Stored = at
		evs = append(evs, ev)
	}
	evs = append(evs, report.Event{Stored: at, Ruleset: &report.Ruleset{Version: "r1", Experiments: []report.Experiment{
		{ID: "discount_depth", Variants: []report.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}}}}}})
	enrolled = map[string]string{}
	const customers = 9000
	for i := 1; i <= customers; i++ {
		id := fmt.Sprintf("c-%06d", i)
		vip := i%3 == 0
		holdout := engine.InHoldout(rs, id)
		var exps []wire.Assignment
		recomputed := []wire.Assignment{}
		for _, a := range engine.AssignedVariants(rs, id) {
			recomputed = append(recomputed, wire.Assignment{ID: a.ID, Variant: a.Variant})
			if vip {
				exps = append(exps, wire.Assignment{ID: a.ID, Variant: a.Variant})
				enrolled[id] = a.Variant
			}
		}
		p := 0.20
		if enrolled[id] == "deep" {
			p = 0.345
		}
		converted := r.Float64() < p
		for k := 0; k < 2; k++ {
			dec := fmt.Sprintf("dcs_%s_%d", id, k)
			add(report.Event{Decision: &report.Decision{ID: dec, CustomerID: id, Experiments: exps, Holdout: holdout, TS: at}})
			add(report.Event{Outcome: &report.Outcome{ID: "out_i" + dec, DecisionID: dec, CustomerID: id, Type: wire.OutcomeImpression, Experiments: recomputed, TS: at}})
			if k == 0 && converted {
				add(report.Event{Outcome: &report.Outcome{ID: "out_c" + dec, DecisionID: dec, CustomerID: id, Type: wire.OutcomeConverted,
					Value: engine.Money{Minor: 10000, Exp: 2}, Currency: "USD", Experiments: recomputed, TS: at}})
			}
		}
	}
	return evs, enrolled
}

// TestExposureIsWhatTheDecisionRecorded is the regression test of issue
// 14: the report counts in a variant only the customers a decision
// enrolled, and only their outcomes, and reads the true uplift.
func TestExposureIsWhatTheDecisionRecorded(t *testing.T) {
	evs, enrolled := checkoutShop(7)
	c := report.NewCollector("discount_depth")
	for _, ev := range evs {
		c.Add(ev)
	}
	r := c.Report(report.Weights{})
	want := map[string]int{}
	for _, v := range enrolled {
		want[v]++
	}
	if len(r.Variants) != 2 {
		t.Fatalf("variants %+v", r.Variants)
	}
	for _, v := range r.Variants {
		if v.Customers != want[v.ID] {
			t.Errorf("%s: %d customers, but decisions enrolled %d", v.ID, v.Customers, want[v.ID])
		}
	}
	cv := r.Variants[1].Conversion
	if cv == nil {
		t.Fatal("no conversion uplift")
	}
	t.Logf("control %d customers, deep %d; uplift %+.1f points, 95%% CI [%+.1f, %+.1f], p = %.2g",
		r.Variants[0].Customers, r.Variants[1].Customers, 100*cv.Diff, 100*cv.Low, 100*cv.High, cv.P)
	if math.Abs(cv.Diff-0.145) > 0.045 || cv.Low > 0.145 || cv.High < 0.145 || cv.P > 0.001 {
		t.Errorf("uplift %+.1f points [%+.1f, %+.1f], p = %.2g: the true uplift is +14.5", 100*cv.Diff, 100*cv.Low, 100*cv.High, cv.P)
	}
}

// TestADecisionStoredTwiceIsOneExposure: a decision event the stream holds
// twice (resent after its duplicate window) counts one exposure.
func TestADecisionStoredTwiceIsOneExposure(t *testing.T) {
	for _, id := range []string{"discount_depth", report.Holdout} {
		t.Run(id, func(t *testing.T) {
			evs, _ := checkoutShop(7)
			once := report.NewCollector(id)
			twice := report.NewCollector(id)
			dups := 0
			var later []report.Event
			for _, ev := range evs {
				once.Add(ev)
				twice.Add(ev)
				enrols := ev.Decision != nil && ev.Decision.CustomerID != "" && (id == report.Holdout || len(ev.Decision.Experiments) > 0)
				switch {
				case enrols && dups < 50: // resent at once
					twice.Add(ev)
					dups++
				case enrols && dups < 100: // resent after the rest of the stream
					later = append(later, ev)
					dups++
				}
			}
			for _, ev := range later {
				twice.Add(ev)
			}
			a, b := once.Report(report.Weights{}), twice.Report(report.Weights{})
			if dups < 100 || len(a.Variants) != len(b.Variants) {
				t.Fatalf("%d duplicated; variants %+v and %+v", dups, a.Variants, b.Variants)
			}
			for i := range a.Variants {
				if a.Variants[i].Exposures != b.Variants[i].Exposures || a.Variants[i].Customers != b.Variants[i].Customers {
					t.Errorf("%s: %d exposures, %d customers with %d decisions stored twice; want %d, %d", a.Variants[i].ID,
						b.Variants[i].Exposures, b.Variants[i].Customers, dups, a.Variants[i].Exposures, a.Variants[i].Customers)
				}
			}
		})
	}
}
