package expcounters

import (
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// TestViewOneCurrencyPerExperiment: a ruleset without a `currency`, and a
// shop selling in two: the control's orders so far are in EUR, the
// variant's in USD. Each group showed its revenue per decision in its own
// first currency (the control's in EUR, the variant's in USD) beside an
// uplift in the variant's (USD: the control's 0 USD against the variant's),
// so the console set €10.00 against $12.00 with "+$12.00" under it. The
// groups of one experiment (and the holdout's two) now show one currency:
// the ruleset's, else the first with revenue among its groups.
func TestViewOneCurrencyPerExperiment(t *testing.T) {
	rs := &rules.Ruleset{Experiments: []*rules.Experiment{{ID: "x", Traffic: 100,
		Variants: []rules.Variant{{ID: "a", Weight: 50}, {ID: "b", Weight: 50}}}}}
	s := &Snapshot{Groups: map[string]*Group{
		GroupOf("x", "a"): {Decisions: 100, Customers: 100, Conversions: 10,
			Revenue: map[string]int64{"EUR": 100000}, RevenueSquares: map[string]float64{"EUR": 100000}},
		GroupOf("x", "b"): {Decisions: 100, Customers: 100, Conversions: 12,
			Revenue: map[string]int64{"USD": 120000}, RevenueSquares: map[string]float64{"USD": 120000}},
		HoldoutHeldOut: {Decisions: 50, Conversions: 5, Revenue: map[string]int64{"USD": 5000}, RevenueSquares: map[string]float64{"USD": 500}},
		HoldoutServed: {Decisions: 500, Conversions: 60, Revenue: map[string]int64{"EUR": 60000, "USD": 1000},
			RevenueSquares: map[string]float64{"EUR": 6000, "USD": 100}},
	}}
	v := NewView(rs, s, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	a, b := v.Experiments[0].Variants[0], v.Experiments[0].Variants[1]
	if a.Currency != "EUR" || b.Currency != "EUR" {
		t.Errorf("currencies: control %q, variant %q; want both EUR (the first with revenue)", a.Currency, b.Currency)
	}
	if b.RevenuePerDecision != 0 || a.RevenuePerDecision != 10 {
		t.Errorf("revenue per decision in EUR: control %v, variant %v; want 10 and 0", a.RevenuePerDecision, b.RevenuePerDecision)
	}
	if u := b.Uplift; u == nil || u.RevenuePerDecision == nil || *u.RevenuePerDecision != -10 {
		t.Errorf("uplift %+v: want the variant's EUR revenue per decision against the control's, -10", u)
	}
	if got := b.RevenueByCurrency["USD"]; got == nil {
		t.Errorf("the variant's USD revenue is not shown: %v", b.RevenueByCurrency)
	}
	if h := v.Holdout; h.HeldOut.Currency != h.Served.Currency {
		t.Errorf("holdout currencies: held out %q, served %q", h.HeldOut.Currency, h.Served.Currency)
	}
	// The ruleset's currency wins.
	rs.Currency = "USD"
	v = NewView(rs, s, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if a, b := v.Experiments[0].Variants[0], v.Experiments[0].Variants[1]; a.Currency != "USD" || b.Currency != "USD" || b.RevenuePerDecision != 12 {
		t.Errorf("with currency USD: %q %q %v", a.Currency, b.Currency, b.RevenuePerDecision)
	}
}
