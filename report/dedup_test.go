package report_test

import (
	"testing"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestReportOutcomeStoredTwice: an outcome event stored twice (resent
// after the stream's duplicate window, or posted again with the caller's
// id after it: docs/events.md) counts once in every column, as its
// decision does, and in the counts of outcomes not attributed.
func TestReportOutcomeStoredTwice(t *testing.T) {
	usd := func(minor int64) engine.Money { return engine.Money{Minor: minor, Exp: 2} }
	decisions := []report.Event{
		{Decision: &report.Decision{ID: "dcs_1", CustomerID: "c1", Experiments: []wire.Assignment{{ID: "x", Variant: "a"}}}},
		{Decision: &report.Decision{ID: "dcs_2", CustomerID: "c2", Experiments: []wire.Assignment{{ID: "x", Variant: "b"}}}},
		{Decision: &report.Decision{ID: "dcs_3", CustomerID: "c3"}}, // not enrolled
	}
	for _, c := range []struct {
		name    string
		outcome report.Outcome
		check   func(r *report.Report) bool
	}{
		{"impression", report.Outcome{ID: "out_i", DecisionID: "dcs_1", CustomerID: "c1", OfferID: "o", Type: wire.OutcomeImpression},
			func(r *report.Report) bool { return r.Variants[0].Outcomes.Impression == 1 }},
		{"accepted", report.Outcome{ID: "out_a", DecisionID: "dcs_1", CustomerID: "c1", OfferID: "o", Type: wire.OutcomeAccepted},
			func(r *report.Report) bool { return r.Variants[0].Outcomes.Accepted == 1 }},
		{"dismissed", report.Outcome{ID: "out_d", DecisionID: "dcs_2", CustomerID: "c2", OfferID: "o", Type: wire.OutcomeDismissed},
			func(r *report.Report) bool { return r.Variants[1].Outcomes.Dismissed == 1 }},
		{"converted", report.Outcome{ID: "out_c", DecisionID: "dcs_2", CustomerID: "c2", Type: wire.OutcomeConverted, Value: usd(4250), Currency: "USD"},
			func(r *report.Report) bool {
				v := r.Variants[1]
				return v.Outcomes.Converted == 1 && v.ConvertedCustomers == 1 && v.Revenue[0].Total == usd(4250)
			}},
		{"of a decision that did not enrol", report.Outcome{ID: "out_n", DecisionID: "dcs_3", CustomerID: "c3", Type: wire.OutcomeConverted},
			func(r *report.Report) bool { return r.NotEnrolled == 1 }},
		{"of a decision not read", report.Outcome{ID: "out_r", DecisionID: "dcs_9", CustomerID: "c9", Type: wire.OutcomeConverted},
			func(r *report.Report) bool { return r.NotRead == 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.outcome
			evs := append(append([]report.Event{}, decisions...), report.Event{Outcome: &o}, report.Event{Outcome: &o})
			r := collect("x", evs).Report(report.Weights{})
			if !c.check(r) {
				t.Errorf("stored twice, counted twice: variants %+v, not enrolled %d, not read %d", r.Variants, r.NotEnrolled, r.NotRead)
			}
		})
	}
}
