package engine

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// moneyRules name USD with rates for EUR, JPY, KWD and CLF (GBP and CHF
// have none). One offer per case; each case names the one it expects.
const moneyRules = `
currency: USD
rates: {EUR: 1.08, JPY: 0.0067, KWD: 3.25, CLF: 41.2345}
segments:
  - id: big_spender
    when: cart.total_base >= 100
offers:
  - id: fixed
    placements: [fixed]
    discount: {amount: 15}
  - id: fixed_map
    placements: [fixed_map]
    discount: {amount: {USD: 15, EUR: 14, CHF: 13.5}}
  - id: fixed_expr
    placements: [fixed_expr]
    discount: {amount: "5 + 10"}
  - id: capped
    placements: [capped]
    discount: {percent: 20, max_amount: 50}
  - id: capped_map
    placements: [capped_map]
    discount: {percent: 20, max_amount: {USD: 50, GBP: 40}}
  - id: pct
    placements: [pct]
    discount: {percent: 10}
  - id: tiers
    placements: [tiers]
    discount:
      tiers:
        - {min_total: 100, amount: 15}
        - {min_total: {USD: 200, EUR: 180}, amount: {USD: 40, EUR: 37}}
  - id: bxgy
    placements: [bxgy]
    discount: {buy_x_get_y: {buy: 1, get: 1}}
  - id: budgeted
    placements: [budgeted]
    discount: {amount: {USD: 10, CHF: 9}}
    caps: {budget: 500}
  - id: base_when
    placements: [base_when]
    when: cart.total_base >= 50
    kind: action
`

// Conversions, table-driven: each money number of the rules in the cart's
// currency (its entry, else the rate, half up to the cart's minor unit),
// and the offers left out with the reason `currency`.
func TestDecideCurrencies(t *testing.T) {
	cases := []struct {
		placement, cur string
		price          float64
		want           string // the discount, or "reason:<r>"
	}{
		{"fixed", "USD", 100, "15.00"},
		{"fixed", "EUR", 100, "13.89"},           // 15 / 1.08 = 13.888...
		{"fixed", "JPY", 10000, "2239"},          // 15 / 0.0067 = 2238.8
		{"fixed", "KWD", 100, "4.615"},           // 15 / 3.25 = 4.61538
		{"fixed", "CLF", 100, "0.3638"},          // 15 / 41.2345 = 0.363773
		{"fixed", "GBP", 100, "reason:currency"}, // no rate, no entry
		{"fixed_map", "EUR", 100, "14.00"},       // the entry wins over the rate
		{"fixed_map", "CHF", 100, "13.50"},       // an entry without a rate
		{"fixed_map", "JPY", 10000, "2239"},      // no entry: the rate
		{"fixed_map", "GBP", 100, "reason:currency"},
		{"fixed_expr", "EUR", 100, "13.89"}, // an expression gives USD
		{"fixed_expr", "CHF", 100, "reason:currency"},
		{"capped", "EUR", 1000, "46.30"},           // 20% = 200, capped at 50 / 1.08 = 46.296
		{"capped", "EUR", 100, "20.00"},            // under the cap
		{"capped", "JPY", 100000, "7463"},          // 50 / 0.0067 = 7462.69
		{"capped", "CHF", 1000, "reason:currency"}, // a cap it cannot convert
		{"capped_map", "GBP", 1000, "40.00"},
		{"pct", "CHF", 50, "5.00"}, // a percent needs no conversion
		{"pct", "GBP", 50, "5.00"},
		{"tiers", "EUR", 92.59, "13.89"},            // 100 USD = 92.59 EUR: reached
		{"tiers", "EUR", 92.58, "reason:when"},      // one cent short
		{"tiers", "EUR", 180, "37.00"},              // the EUR entry of the second tier
		{"tiers", "JPY", 14925, "2239"},             // 100 / 0.0067 = 14925.37 -> 14925
		{"tiers", "JPY", 14924, "reason:when"},      //
		{"tiers", "JPY", 29851, "5970"},             // 200 USD = 29850.7 -> 29851 JPY; 40 USD = 5970.1
		{"tiers", "GBP", 500, "reason:currency"},    //
		{"bxgy", "CHF", 10, "10.00"},                // no money numbers
		{"budgeted", "CHF", 100, "reason:currency"}, // an entry, but a grant cannot be counted in USD
		{"budgeted", "EUR", 100, "9.26"},            // 10 / 1.08
		{"base_when", "EUR", 46.30, "chosen"},       // 50.004 USD
		{"base_when", "EUR", 46.29, "reason:when"},  // 49.9932 USD
		{"base_when", "CHF", 100, "reason:currency"},
	}
	rs := load(t, map[string]string{"rules.yaml": moneyRules})
	for _, c := range cases {
		t.Run(c.placement+"/"+c.cur+"/"+fmt.Sprint(c.price), func(t *testing.T) {
			req := Request{Placement: c.placement, Cart: cart(c.cur, "A", "x", c.price, 2), Explain: true, Now: testNow}
			if c.placement == "bxgy" {
				req.Cart = cart(c.cur, "A", "x", c.price, 1, "B", "x", c.price*2, 1)
			} else {
				req.Cart = cart(c.cur, "A", "x", c.price, 1)
			}
			d, err := New(Options{Ledger: NewMemoryLedger()}).Decide(context.Background(), rs, profileOf(rs, "c1", nil), &req)
			if err != nil {
				t.Fatal(err)
			}
			got := "reason:" + reasonOf(d, c.placement)
			if len(d.Actions) == 1 {
				got = "chosen"
				if dr := d.Actions[0].Discount; dr != nil {
					got = dr.Amount.String()
					if dr.Currency != c.cur {
						t.Errorf("discount currency %s", dr.Currency)
					}
				}
			}
			if got != c.want {
				t.Errorf("got %s, want %s (explain %+v)", got, c.want, d.Explain.Offers)
			}
			for _, o := range d.Explain.Offers {
				if o.ID == c.placement && o.Reason == ReasonCurrency && o.Detail == "" && o.Error == "" {
					t.Errorf("reason currency without a detail or an error")
				}
			}
		})
	}
}

// cart.total_base in segments: rounded half up in USD; a cart whose
// currency has no rate does not match, with the error in explain.
func TestTotalBaseSegment(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": moneyRules})
	for _, c := range []struct {
		cur   string
		price float64
		match bool
		err   string
	}{
		{"USD", 100, true, ""},
		{"USD", 99.99, false, ""},
		{"EUR", 92.59, true, ""}, // 99.9972 USD, half up: 100.00
		{"EUR", 92.58, false, ""},
		{"JPY", 14925, true, ""}, // 99.9975 USD: 100.00
		{"CHF", 1000, false, "rules.yaml:6:11: cart.total_base: no exchange rate for CHF in the rules: add it to `rates`"},
	} {
		req := Request{Placement: "none", Cart: cart(c.cur, "A", "x", c.price, 1), Explain: true, Now: testNow}
		d, err := New(Options{}).Decide(context.Background(), rs, profileOf(rs, "c1", nil), &req)
		if err != nil {
			t.Fatal(err)
		}
		seg := d.Explain.Segments[0]
		if seg.Matched != c.match || seg.Error != c.err {
			t.Errorf("%s %v: %+v, want matched %v, error %q", c.cur, c.price, seg, c.match, c.err)
		}
	}
}

// planRecorder is a ledger that keeps the plans it is given (copied).
type planRecorder struct{ plans []Plan }

func (r *planRecorder) Reserve(_ context.Context, p *Plan) ([]Result, error) {
	cp := *p
	cp.Items = append([]PlanItem(nil), p.Items...)
	r.plans = append(r.plans, cp)
	return p.Walk(func(int) Result { return Granted }), nil
}

// The plan names the budget's currency and, per item, the spend in it
// (rounded up), the budget in its minor units; without a ruleset currency,
// the cart's currency and the amount.
func TestPlanBudgetCurrency(t *testing.T) {
	const offer = `
offers:
  - id: b
    discount: {amount: 15}
    caps: {budget: 1000}
`
	for _, c := range []struct {
		head, cur     string
		price         float64
		budgetCur     string
		amount, spend int64
		budget        int64
		budgetOfCur   string
		budgetOfSpend int64
	}{
		{"currency: USD\nrates: {EUR: 1.08, JPY: 0.0067}\n", "EUR", 100, "USD", 1389, 1501, 100000, "USD", 1501},
		{"currency: USD\nrates: {EUR: 1.08, JPY: 0.0067}\n", "JPY", 10000, "USD", 2239, 1501, 100000, "USD", 1501},
		{"currency: USD\nrates: {EUR: 1.08, JPY: 0.0067}\n", "USD", 100, "USD", 1500, 1500, 100000, "USD", 1500},
		// JPY rules: 15 JPY = 0.1005 USD, 0.10 half up; 0.10 USD = 14.925 JPY, 15 rounded up
		{"currency: JPY\nrates: {USD: 149.25}\n", "USD", 100, "JPY", 10, 15, 1000, "JPY", 15},
		{"", "EUR", 100, "EUR", 1500, 1500, 100000, "EUR", 1500},
		{"", "JPY", 10000, "JPY", 15, 15, 1000, "JPY", 15},
	} {
		rec := &planRecorder{}
		rs := load(t, map[string]string{"rules.yaml": c.head + offer})
		req := Request{Placement: "checkout", Cart: cart(c.cur, "A", "x", c.price, 1), Now: testNow}
		if _, err := New(Options{Ledger: rec}).Decide(context.Background(), rs, profileOf(rs, "c1", nil), &req); err != nil {
			t.Fatal(err)
		}
		if len(rec.plans) != 1 || len(rec.plans[0].Items) != 1 {
			t.Fatalf("%s %s: plans %+v", c.head, c.cur, rec.plans)
		}
		p := rec.plans[0]
		it := p.Items[0]
		if p.BudgetCurrency != c.budgetCur || p.Currency != c.cur || it.Amount != c.amount || it.Spend != c.spend || it.Budget != c.budget {
			t.Errorf("%q %s: plan %s/%s amount %d spend %d budget %d; want %s amount %d spend %d budget %d",
				c.head, c.cur, p.Currency, p.BudgetCurrency, it.Amount, it.Spend, it.Budget, c.budgetCur, c.amount, c.spend, c.budget)
		}
		if spend, cur := p.BudgetOf(0); spend != c.budgetOfSpend || cur != c.budgetOfCur {
			t.Errorf("BudgetOf = %d %s", spend, cur)
		}
	}
	// a plan built by hand, without BudgetCurrency: the amount in the cart's
	hand := Plan{Currency: "EUR", Items: []PlanItem{{Amount: 7, Spend: 99}}}
	if spend, cur := hand.BudgetOf(0); spend != 7 || cur != "EUR" {
		t.Errorf("by hand: %d %s", spend, cur)
	}
}

// Property: whatever the cart's currency, a granted discount never exceeds
// what it applies to (here the whole cart) and its split over the lines
// adds up to it exactly.
func TestCurrencyDiscountsNeverExceedTheCart(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": moneyRules})
	curs := []string{"USD", "EUR", "JPY", "KWD", "CLF", "GBP", "CHF"}
	placements := []string{"fixed", "fixed_map", "fixed_expr", "capped", "capped_map", "pct", "tiers", "bxgy", "budgeted"}
	r := rand.New(rand.NewPCG(1, 4217))
	eng := New(Options{})
	for i := 0; i < 3000; i++ {
		cur := curs[r.IntN(len(curs))]
		exp, _ := CurrencyExp(cur)
		var c Cart
		c.Currency = cur
		var total int64
		for n := 1 + r.IntN(4); n > 0; n-- {
			price := r.Int64N(int64(pow10[exp]) * 300)
			q := 1 + r.IntN(3)
			c.Items = append(c.Items, Item{SKU: fmt.Sprintf("S%d", r.IntN(5)), Price: price, Quantity: q})
			total += price * int64(q)
		}
		req := Request{Placement: placements[r.IntN(len(placements))], Cart: c, Now: testNow, DryRun: true}
		d, err := eng.Decide(context.Background(), rs, profileOf(rs, "c1", nil), &req)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.Actions {
			dr := a.Discount
			if dr.Amount.Minor > total || dr.Amount.Minor < 0 || dr.Amount.Exp != exp {
				t.Fatalf("%s %s: discount %s on a cart of %d minor units", req.Placement, cur, dr.Amount, total)
			}
			var sum int64
			for _, it := range dr.Items {
				sum += it.Amount.Minor
			}
			if sum != dr.Amount.Minor {
				t.Fatalf("%s %s: items add up to %d, not %d", req.Placement, cur, sum, dr.Amount.Minor)
			}
		}
	}
}

// Property: a budget in the ruleset's currency is never overspent by a
// random mix of carts in currencies of any number of digits: the counted
// spend stays within it, and so does the exact value of the discounts
// granted (each counted rounded up, so never less than it was worth).
func TestBudgetAcrossCurrenciesNeverOverspent(t *testing.T) {
	const head = "currency: USD\nrates: {EUR: 1.08, JPY: 0.0067, KWD: 3.25, CLF: 41.2345, BHD: 2.6525}\n"
	rs := load(t, map[string]string{"rules.yaml": head + `
offers:
  - id: b
    discount: {percent: 17, max_amount: {USD: 25, EUR: 23}}
    caps: {budget: 777.77}
`})
	curs := []string{"USD", "EUR", "JPY", "KWD", "CLF", "BHD"}
	for seed := uint64(0); seed < 5; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		l := NewMemoryLedger()
		eng := New(Options{Ledger: l})
		exactUSD := new(big.Rat)
		grants := 0
		for i := 0; i < 400; i++ {
			cur := curs[r.IntN(len(curs))]
			exp, _ := CurrencyExp(cur)
			price := float64(1+r.IntN(20000)) / float64(pow10[exp]) * 10
			req := Request{Placement: "checkout", Cart: cart(cur, "A", "x", price, 1+r.IntN(3)), Now: testNow}
			d, err := eng.Decide(context.Background(), rs, profileOf(rs, fmt.Sprint("c", i), nil), &req)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range d.Actions {
				grants++
				v := new(big.Rat).SetFrac64(a.Discount.Amount.Minor, int64(pow10[exp]))
				if cur != "USD" {
					rate, _ := new(big.Rat).SetString(rs.Rates[cur].String())
					v.Mul(v, rate)
				}
				exactUSD.Add(exactUSD, v)
			}
		}
		spent := l.Spent("b", "USD")
		if spent > 77777 {
			t.Errorf("seed %d: counted %d cents on a budget of 777.77", seed, spent)
		}
		if exactUSD.Cmp(new(big.Rat).SetFrac64(spent, 100)) > 0 {
			t.Errorf("seed %d: granted %s USD exactly, counted only %d cents", seed, exactUSD.FloatString(4), spent)
		}
		if grants < 30 || spent < 77777-2500 {
			t.Errorf("seed %d: %d grants, %d cents: the budget was not used up", seed, grants, spent)
		}
		for _, cur := range curs[1:] {
			if n := l.Spent("b", cur); n != 0 {
				t.Errorf("seed %d: %d counted in %s: budgets count in USD only", seed, n, cur)
			}
		}
	}
}

// A variant's override of a money map is used for its customers, and
// converted like the base.
func TestCurrencyVariantOverride(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
currency: USD
rates: {EUR: 1.08}
offers:
  - id: o
    discount: {percent: 50, max_amount: {USD: 10, EUR: 9}}
experiments:
  - id: x
    variants:
      - {id: a, weight: 0}
      - {id: b, weight: 100, offers: {o: {discount: {max_amount: {USD: 20}}}}}
`})
	req := Request{CustomerID: "c1", Placement: "checkout", Cart: cart("EUR", "A", "x", 100.0, 1), Now: testNow, Explain: true}
	d, err := New(Options{}).Decide(context.Background(), rs, profileOf(rs, "c1", nil), &req)
	if err != nil {
		t.Fatal(err)
	}
	// the variant's map has no EUR entry: 20 USD converted, 18.52 EUR; not the base's 9
	if len(d.Actions) != 1 || d.Actions[0].Discount.Amount.String() != "18.52" || !strings.HasPrefix(d.Explain.Offers[0].Variant, "x/b") {
		t.Errorf("actions %+v, explain %+v", d.Actions, d.Explain.Offers)
	}
}
