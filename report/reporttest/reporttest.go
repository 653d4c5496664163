// Package reporttest holds the hand-computed example of an experiment
// report: its events, decoded, and the numbers its report must show. The
// tests of package report use it, and so do the tests of the readers that
// decode the same events from a stream (adapters/events).
package reporttest

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// Experiment is the id of the example's experiment.
const Experiment = "disc"

// Stored returns when the example's i-th event was stored: 2026-11-22
// 10:00:00 UTC, then one second apart.
func Stored(i int) time.Time {
	return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
}

// Events returns the example, as the events of a stream decoded for the
// report, in stream order:
//
//	control: c1 (2 decisions), c2..c5: 5 customers, 6 exposures; c3, c4, c5
//	  converted for 10, 20, 30 USD (c5's outcome comes from another service:
//	  no id, ts or experiments; its variant comes from its decision);
//	  revenue per customer [0 0 10 20 30], mean 12.
//	deep: d1 (2 decisions), d2..d6 decided: 6 customers, 7 exposures;
//	  d2..d6 converted for 10..50 USD; revenue per customer
//	  [0 10 20 30 40 50], mean 25.
//	one decision in the holdout (no experiments) and one outcome of it (its
//	  decision did not enrol anyone: not counted); an outcome of d7, whose
//	  decision is not in the stream, carrying deep in its experiments (not
//	  assigned: the exposure is what a decision recorded); one unreadable
//	  outcome.
//
// Conversion: 3/5 against 5/6: d = 0.2333333, unpooled se 0.2667361,
// CI [-0.2894598, 0.7561265]; pooled p = 8/11, z = 0.8652232,
// P = 0.3869163. Revenue per customer: the Welch example of
// report/stats_test.go (d = 13, t = 1.3528950, df = 8.7931469,
// P = 0.2098467). Sample ratio: [5 6] against 50:50,
// chi² = 2·0.5²/5.5 = 0.0909091, P = 0.7630246.
func Events() []report.Event {
	exp := func(v string) []wire.Assignment {
		return []wire.Assignment{{ID: "other", Variant: "a"}, {ID: Experiment, Variant: v}}
	}
	t0, t1 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
	dec := func(id, cust, v string) report.Event {
		return report.Event{Decision: &report.Decision{ID: id, CustomerID: cust, Experiments: exp(v), TS: t0}}
	}
	usd := func(minor int64) engine.Money { return engine.Money{Minor: minor, Exp: 2} }
	n := 0
	out := func(typ, decID, cust string, value engine.Money, as []wire.Assignment) report.Event {
		n++
		return report.Event{Outcome: &report.Outcome{ID: fmt.Sprintf("out_%d", n), DecisionID: decID, CustomerID: cust, OfferID: "vip_10",
			Type: typ, Value: value, Currency: "USD", Experiments: as, TS: t1}}
	}
	evs := []report.Event{
		{Ruleset: &report.Ruleset{Version: "r1", Experiments: []report.Experiment{
			{ID: Experiment, Traffic: 100, Variants: []report.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}}},
		}}},
		dec("dcs_c1a", "c1", "control"), dec("dcs_c1b", "c1", "control"),
		dec("dcs_d1a", "d1", "deep"), dec("dcs_d1b", "d1", "deep"),
		{Decision: &report.Decision{ID: "dcs_z1", CustomerID: "z1", Experiments: []wire.Assignment{}, Holdout: true}},
	}
	for _, c := range []string{"c2", "c3", "c4", "c5"} {
		evs = append(evs, dec("dcs_"+c, c, "control"))
	}
	for _, d := range []string{"d2", "d3", "d4", "d5", "d6"} {
		evs = append(evs, dec("dcs_"+d, d, "deep"))
	}
	none := []wire.Assignment{}
	evs = append(evs,
		out(wire.OutcomeImpression, "dcs_c1a", "c1", usd(0), exp("control")),
		out(wire.OutcomeImpression, "dcs_d1b", "d1", usd(0), exp("deep")),
		out(wire.OutcomeConverted, "dcs_c3", "c3", usd(1000), exp("control")),
		out(wire.OutcomeConverted, "dcs_c4", "c4", usd(2000), exp("control")),
		report.Event{Outcome: &report.Outcome{DecisionID: "dcs_c5", CustomerID: "c5", OfferID: "vip_10", Type: wire.OutcomeConverted,
			Value: usd(3000), Currency: "USD", Experiments: none}},
	)
	n++ // the outcome of another service has no id
	evs = append(evs,
		out(wire.OutcomeConverted, "dcs_d2", "d2", usd(1000), exp("deep")),
		out(wire.OutcomeConverted, "dcs_d3", "d3", usd(2000), exp("deep")),
		out(wire.OutcomeConverted, "dcs_d4", "d4", usd(3000), exp("deep")),
		out(wire.OutcomeConverted, "dcs_d5", "d5", usd(4000), exp("deep")),
		out(wire.OutcomeConverted, "dcs_d6", "d6", usd(5000), exp("deep")),
		out(wire.OutcomeConverted, "dcs_not_in_stream", "d7", usd(7000), exp("deep")),
		report.Event{Outcome: &report.Outcome{DecisionID: "dcs_z1", CustomerID: "z1", Type: wire.OutcomeConverted,
			Value: usd(500), Currency: "USD", Experiments: none}},
		report.Event{Err: errors.New("not json")},
	)
	for i := range evs {
		evs[i].Stored = Stored(i)
		if o := evs[i].Outcome; o != nil && o.TS.IsZero() {
			o.TS = Stored(i) // no ts: the time the stream stored it
		}
	}
	return evs
}

// near reports an error unless got is within tol of want.
func near(t testing.TB, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", name, got, want, tol)
	}
}

// Check reports an error for every number of r, the report of Events
// with the published weights, that is not the hand-computed one.
func Check(t testing.TB, r *report.Report) {
	t.Helper()
	if len(r.Variants) != 2 || r.Control != "control" {
		t.Fatalf("variants %+v", r.Variants)
	}
	c, d := r.Variants[0], r.Variants[1]
	if c.Customers != 5 || c.Exposures != 6 || c.ConvertedCustomers != 3 || c.Outcomes.Converted != 3 || c.Outcomes.Impression != 1 {
		t.Errorf("control %+v", c)
	}
	if d.Customers != 6 || d.Exposures != 7 || d.ConvertedCustomers != 5 || d.Outcomes.Converted != 5 || d.Outcomes.Impression != 1 {
		t.Errorf("deep %+v", d)
	}
	if len(c.Revenue) != 1 || c.Revenue[0].Total != (engine.Money{Minor: 6000, Exp: 2}) || d.Revenue[0].Total != (engine.Money{Minor: 15000, Exp: 2}) {
		t.Errorf("revenue %+v %+v", c.Revenue, d.Revenue)
	}
	near(t, "control rev/customer", c.Revenue[0].PerCustomer, 12, 1e-12)
	near(t, "deep rev/customer", d.Revenue[0].PerCustomer, 25, 1e-12)
	cv := d.Conversion
	if cv == nil {
		t.Fatal("no conversion uplift")
	}
	near(t, "conv diff", cv.Diff, 0.23333333333333333, 1e-12)
	near(t, "conv low", cv.Low, -0.28945982010285703, 1e-9)
	near(t, "conv high", cv.High, 0.7561264867695237, 1e-9)
	if cv.Z == nil {
		t.Fatal("conv z: null")
	}
	near(t, "conv z", *cv.Z, 0.8652231568278273, 1e-9)
	near(t, "conv p", cv.P, 0.38691631776906808, 1e-9)
	if len(d.RevenueUplift) != 1 {
		t.Fatalf("revenue uplift %+v", d.RevenueUplift)
	}
	ru := d.RevenueUplift[0]
	near(t, "rev diff", ru.Diff, 13, 1e-9)
	if ru.T == nil {
		t.Error("rev t: null")
	} else {
		near(t, "rev t", *ru.T, 1.3528950106151225, 1e-9)
	}
	near(t, "rev df", ru.DF, 8.793146917258767, 1e-9)
	near(t, "rev p", ru.P, 0.2098466875966278, 1e-9)
	near(t, "srm chi2", r.SRM.Chi2, 0.09090909090909091, 1e-12)
	near(t, "srm p", r.SRM.P, 0.763024600552995, 1e-9)
	if r.SRM.Mismatch || !r.SRM.Checked {
		t.Errorf("srm %+v", r.SRM)
	}
	if r.NotEnrolled != 1 || r.NotRead != 1 || r.OtherVariant != 0 || r.Unreadable != 1 {
		t.Errorf("not enrolled %d, not read %d, other variant %d, unreadable %d", r.NotEnrolled, r.NotRead, r.OtherVariant, r.Unreadable)
	}
}
