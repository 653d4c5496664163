package replay

import (
	"math"
	"testing"

	"github.com/arbiterhq/arbiter/currency"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// The spend metrics never add amounts of two currencies that the rules
// cannot convert into one: without `currency` in the rules, 10 dollars
// more beside an unchanged 100,000 yen was a 0.01% increase, and a yen
// spend that doubled without a rate was left out, so that a gate
// `spend_increase_pct > 5` passed both. spend_increase_pct does not fall
// below the change of a currency it could not add.
func TestSpendMetricsNeverSumCurrencies(t *testing.T) {
	usd := func(r, c int64) SpendRow {
		return SpendRow{Currency: "USD", Recorded: engine.Money{Minor: r, Exp: 2}, Candidate: engine.Money{Minor: c, Exp: 2}}
	}
	jpy := func(r, c int64) SpendRow {
		return SpendRow{Currency: "JPY", Recorded: engine.Money{Minor: r}, Candidate: engine.Money{Minor: c}}
	}
	eur := func(r, c int64) SpendRow {
		return SpendRow{Currency: "EUR", Recorded: engine.Money{Minor: r, Exp: 2}, Candidate: engine.Money{Minor: c, Exp: 2}}
	}
	withRates := &rules.Ruleset{Currency: "USD", Rates: map[string]currency.Rate{"EUR": currency.MustRate("1.10")}}
	cases := []struct {
		name                string
		rs                  *rules.Ruleset
		spend               []SpendRow
		recorded, candidate float64 // NaN: no total
		increase            float64
	}{
		{"no currency, one cart currency", &rules.Ruleset{}, []SpendRow{usd(10000, 11000)}, 100, 110, 10},
		{"no currency, two cart currencies", &rules.Ruleset{}, []SpendRow{jpy(100000, 100000), usd(10000, 11000)}, math.NaN(), math.NaN(), 10},
		{"currency and rates", withRates, []SpendRow{eur(10000, 10000), usd(10000, 12200)}, 210, 232, 100 * 22.0 / 210},
		{"a currency without a rate", withRates, []SpendRow{eur(10000, 10000), jpy(1000, 2000), usd(10000, 10000)}, 210, 210, 100},
		{"a currency without a rate that fell", withRates, []SpendRow{jpy(2000, 1000), usd(10000, 11000)}, 100, 110, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Spend: tc.spend}
			for i := range r.Spend {
				s := &r.Spend[i]
				s.IncreasePct = pct(float64(s.Recorded.Minor), float64(s.Candidate.Minor))
			}
			r.spendTotals(tc.rs)
			m := r.Metrics()
			same := func(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-9 }
			if !same(m["spend_recorded"], tc.recorded) || !same(m["spend_candidate"], tc.candidate) || !same(m["spend_increase_pct"], tc.increase) {
				t.Errorf("spend_recorded %v, spend_candidate %v, spend_increase_pct %v; want %v, %v, %v",
					m["spend_recorded"], m["spend_candidate"], m["spend_increase_pct"], tc.recorded, tc.candidate, tc.increase)
			}
		})
	}
}
