package engine

import (
	"context"
	"math"
	"testing"
)

// Learning and currencies in one decision: a margin score reads the
// discount in the cart's currency (the rules' dollars converted), the
// learning offer's plan item records its grant in the decision's cell and
// counts its spend against the budget in the rules' currency, and a
// threshold on cart.total_base decides who is in the cell.
func TestLearningWithCurrencies(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
currency: USD
rates: {EUR: 1.08}
segments:
  - id: big
    when: cart.total_base >= 100
offers:
  - id: save
    discount: {amount: 15}
    score: propensity * (cart.total * 0.35 - discount)
    group: checkout
    caps: {budget: 1000}
arbitration:
  learning:
    method: mean
    by: [big]
    prior: {alpha: 1, beta: 19}
`})
	for _, c := range []struct {
		price    float64 // in EUR
		cell     string
		discount float64 // in EUR
		spend    int64   // USD cents
	}{
		{100, "big", 13.89, 1501}, // 100 EUR = 108 USD; 15 USD = 13.89 EUR, which is 15.0012 USD, rounded up
		{90, "all", 13.89, 1501},  // 90 EUR = 97.20 USD: not big
	} {
		led := &planLedger{}
		eng := New(Options{Statistics: &stats{}, Ledger: led})
		req := Request{DecisionID: "dcs_1", CustomerID: "c-1", Placement: "checkout", Now: testNow, Explain: true,
			Cart: cart("EUR", "A", "shoes", c.price, 1)}
		d, err := eng.Decide(context.Background(), rs, profileOf(rs, "c-1", nil), &req)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Actions) != 1 || d.Actions[0].Discount == nil || d.Actions[0].Discount.Amount.String() != "13.89" {
			t.Fatalf("%v EUR: actions %+v", c.price, d.Actions)
		}
		want := 0.05 * (c.price*0.35 - c.discount) // the prior mean, method mean
		if math.Abs(d.Actions[0].Score-want) > 1e-9 {
			t.Errorf("%v EUR: score %v, want %v (the margin in euros)", c.price, d.Actions[0].Score, want)
		}
		if d.Cell != c.cell || d.Actions[0].Cell != c.cell {
			t.Errorf("%v EUR: cell %q (action %q), want %q", c.price, d.Cell, d.Actions[0].Cell, c.cell)
		}
		if len(led.plans) != 1 || len(led.plans[0].Items) != 1 {
			t.Fatalf("%v EUR: plans %+v", c.price, led.plans)
		}
		p := led.plans[0]
		it := p.Items[0]
		if !it.Record || it.Cell != c.cell || p.BudgetCurrency != "USD" || it.Spend != c.spend || it.Budget != 100000 {
			t.Errorf("%v EUR: plan %s item %+v; want recorded in %q, spend %d USD cents of 100000", c.price, p.BudgetCurrency, it, c.cell, c.spend)
		}
	}
}
