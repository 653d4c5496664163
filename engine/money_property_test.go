package engine

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// moneyPropertyRules: four discounts in four groups, three with an item
// filter, in a ruleset in USD with rates for currencies of 0, 2 and 3
// minor digits; the guardrail is filled in per run.
const moneyPropertyRules = `
currency: USD
rates: {EUR: 1.08, JPY: 0.0067, KWD: 3.25, BHD: 2.6525}
offers:
  - id: p
    group: g1
    priority: 4
    discount: {percent: 17.5, max_amount: {USD: 25, EUR: 23}, items: item.category == "a"}
  - id: f
    group: g2
    priority: 3
    discount: {amount: 12.34, items: item.category == "b"}
  - id: t
    group: g3
    priority: 2
    discount: {tiers: [{min_total: 50, amount: 7.77}, {min_total: 150, percent: 12.5}]}
  - id: x
    group: g4
    priority: 1
    discount: {buy_x_get_y: {buy: 2, get: 1, percent: 50}, items: item.category != "b"}
arbitration:
  max_actions: 4
  max_discount_percent: %s
`

// ratOf is minor units of a currency of exp digits as an exact number of
// major units.
func ratOf(minor int64, exp int8) *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(minor), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
}

// halfUpMinor rounds a non-negative number of major units half up to
// minor units of exp digits.
func halfUpMinor(v *big.Rat, exp int8) int64 {
	x := new(big.Rat).Mul(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
	x.Add(x, big.NewRat(1, 2))
	return new(big.Int).Quo(x.Num(), x.Denom()).Int64()
}

// TestMoneyProperties: for random carts in currencies of 0, 2 and 3 minor
// digits (many lines, one sku on several lines, prices of 0), every
// discount of an answer is exactly what docs/decisions.md computes with
// exact rationals (conversions half up once, percents half up once,
// max_amount honoured after conversion, tiers reached at their converted
// thresholds), its split over the lines adds up to it with no line given
// more than its own value or anything outside the discount's items, and
// the discounts of the answer together stay within the guardrail.
func TestMoneyProperties(t *testing.T) {
	curs := []string{"USD", "EUR", "JPY", "KWD", "BHD"}
	rates := map[string]*big.Rat{"USD": big.NewRat(1, 1), "EUR": big.NewRat(108, 100), "JPY": big.NewRat(67, 10000),
		"KWD": big.NewRat(325, 100), "BHD": big.NewRat(26525, 10000)}
	for _, mdp := range []string{"100", "40", "12.5", "0"} {
		rs := load(t, map[string]string{"rules.yaml": fmt.Sprintf(moneyPropertyRules, mdp)})
		pct, _ := new(big.Rat).SetString(mdp)
		eng := New(Options{})
		r := rand.New(rand.NewPCG(7, 4217))
		granted := map[string]int{}
		for i := 0; i < 1500; i++ {
			cur := curs[r.IntN(len(curs))]
			exp, _ := CurrencyExp(cur)
			// conv is a USD amount (cents) in minor units of cur, half up once.
			conv := func(cents int64) int64 {
				return halfUpMinor(new(big.Rat).Quo(ratOf(cents, 2), rates[cur]), exp)
			}
			c := Cart{Currency: cur}
			for n := r.IntN(12); n > 0; n-- {
				var price int64
				switch r.IntN(5) {
				case 0:
					price = 0
				case 1:
					price = r.Int64N(100) // under one major unit
				default:
					price = r.Int64N(int64(pow10[exp]) * 200)
				}
				cat := string(rune('a' + r.IntN(3)))
				if price == 0 {
					cat = "b" // whether buy_x_get_y counts units of 0 is left to its own tests
				}
				c.Items = append(c.Items, Item{SKU: fmt.Sprint("S", r.IntN(4)), Category: cat, Price: price, Quantity: 1 + r.IntN(4)})
			}
			var total int64
			sub := map[string]int64{}
			match := map[string]func(Item) bool{
				"p": func(it Item) bool { return it.Category == "a" },
				"f": func(it Item) bool { return it.Category == "b" },
				"t": func(Item) bool { return true },
				"x": func(it Item) bool { return it.Category != "b" },
			}
			for _, it := range c.Items {
				v := it.Price * int64(it.Quantity)
				total += v
				for id, m := range match {
					if m(it) {
						sub[id] += v
					}
				}
			}
			req := Request{Placement: "checkout", Cart: c, Now: testNow, DryRun: true}
			d, err := eng.Decide(context.Background(), rs, profileOf(rs, "c1", nil), &req)
			if err != nil {
				t.Fatal(err)
			}
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("max_discount_percent %s, cart %s %+v: %s", mdp, cur, c.Items, fmt.Sprintf(format, args...))
			}
			var sum int64
			for _, a := range d.Actions {
				dr := a.Discount
				got := dr.Amount.Minor
				if dr.Amount.Exp != exp || dr.Currency != cur {
					fail("%s: amount %v in %s", a.OfferID, dr.Amount, dr.Currency)
				}
				var want int64
				switch a.OfferID {
				case "p":
					want = halfUpMinor(new(big.Rat).Mul(ratOf(sub["p"], exp), big.NewRat(175, 1000)), exp)
					capm := conv(2500)
					if cur == "EUR" {
						capm = 2300
					}
					want = min(want, capm)
				case "f":
					want = min(conv(1234), sub["f"])
				case "t":
					switch {
					case sub["t"] >= conv(15000):
						want = halfUpMinor(new(big.Rat).Mul(ratOf(sub["t"], exp), big.NewRat(125, 1000)), exp)
					case sub["t"] >= conv(5000) && sub["t"] > 0:
						want = min(conv(777), sub["t"])
					}
				case "x":
					var units []int64
					for _, it := range c.Items {
						if match["x"](it) {
							for q := 0; q < it.Quantity; q++ {
								units = append(units, it.Price)
							}
						}
					}
					slices.Sort(units)
					var v int64
					for k := 0; k < len(units)/3; k++ {
						v += units[k]
					}
					want = halfUpMinor(new(big.Rat).Mul(ratOf(v, exp), big.NewRat(1, 2)), exp)
				}
				if got != want {
					fail("%s: discount %d minor units, want %d", a.OfferID, got, want)
				}
				var parts int64
				seen := map[int]bool{}
				for _, ia := range dr.Items {
					// the lines are listed in cart order: find this one's
					k := -1
					for j, it := range c.Items {
						if !seen[j] && it.SKU == ia.SKU && match[a.OfferID](it) && ia.Amount.Minor <= it.Price*int64(it.Quantity) && ia.Amount.Minor > 0 {
							k = j
							break
						}
					}
					if k < 0 || ia.Amount.Exp != exp {
						fail("%s: item %+v is no line of its items (or more than the line)", a.OfferID, ia)
					}
					seen[k] = true
					parts += ia.Amount.Minor
				}
				if parts != got {
					fail("%s: items add up to %d, not %d", a.OfferID, parts, got)
				}
				sum += got
				granted[a.OfferID]++
			}
			guard := new(big.Rat).Mul(ratOf(total, 0), pct)
			guard.Quo(guard, big.NewRat(100, 1))
			if g := new(big.Int).Quo(guard.Num(), guard.Denom()).Int64(); sum > g || sum > total {
				fail("discounts add up to %d, guardrail %d, cart %d", sum, g, total)
			}
		}
		if mdp == "100" && (granted["p"] < 100 || granted["f"] < 100 || granted["t"] < 100 || granted["x"] < 100) {
			t.Errorf("grants %v: some discount was seldom checked", granted)
		}
	}
}
