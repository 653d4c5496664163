package engine

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/currency"
)

// TestMoneyInEveryCurrency: for carts of many lines (up to 150) in every
// ISO 4217 code Arbiter knows, with rules in the cart's currency and with
// rules in USD converted at a rate, every discount is in the cart's minor
// digits and exactly what docs/decisions.md computes with exact rationals
// (percent and conversion rounded half up once, an amount never more than
// the subtotal), and its split over the lines is the largest-remainder
// split: it adds up to the discount exactly, and each line gets its exact
// proportional share rounded down or up, never more than its own value.
func TestMoneyInEveryCurrency(t *testing.T) {
	const offers = `
offers:
  - id: pct
    group: g1
    priority: 2
    discount: {percent: 12.5}
  - id: amt
    group: g2
    priority: 1
    discount: {amount: 3.3335}
arbitration: {max_actions: 2}
`
	var rates []string
	for _, c := range currency.Codes() {
		if c != "USD" {
			rates = append(rates, c+": 0.0137")
		}
	}
	inCart := load(t, map[string]string{"rules.yaml": offers})
	inUSD := load(t, map[string]string{"rules.yaml": "currency: USD\nrates: {" + strings.Join(rates, ", ") + "}\n" + offers})
	rate := big.NewRat(137, 10000)
	eng := New(Options{})
	r := rand.New(rand.NewPCG(4217, 1))
	checked := 0
	for _, cur := range currency.Codes() {
		exp, _ := CurrencyExp(cur)
		for run := 0; run < 4; run++ {
			c := Cart{Currency: cur}
			var total int64
			for n := 1 + r.IntN(150); n > 0; n-- {
				price := r.Int64N(int64(pow10[exp]) * 1000)
				if r.IntN(8) == 0 {
					price = r.Int64N(3) // lines worth next to nothing
				}
				it := Item{SKU: fmt.Sprint("S", r.IntN(20)), Price: price, Quantity: 1 + r.IntN(3)}
				c.Items = append(c.Items, it)
				total += it.Price * int64(it.Quantity)
			}
			for _, rs := range []*struct {
				name string
				amt  *big.Rat // the amount offer's number, major units of the cart's currency before rounding
			}{
				{"rules in the cart's currency", big.NewRat(33335, 10000)},
				{"rules in USD", new(big.Rat).Quo(big.NewRat(333, 100), rate)}, // 3.3335 USD is 3.33 first, half up to the cent
			} {
				rules := inCart
				if rs.name == "rules in USD" {
					rules = inUSD
					if cur == "USD" {
						rs.amt = big.NewRat(333, 100)
					}
				}
				req := Request{Placement: "checkout", Cart: c, Now: testNow, DryRun: true}
				d, err := eng.Decide(context.Background(), rules, profileOf(rules, "c1", nil), &req)
				if err != nil {
					t.Fatal(err)
				}
				fail := func(format string, args ...any) {
					t.Helper()
					t.Fatalf("%s, %s cart of %d lines: %s", rs.name, cur, len(c.Items), fmt.Sprintf(format, args...))
				}
				want := map[string]int64{
					"pct": halfUpMinor(new(big.Rat).Mul(ratOf(total, exp), big.NewRat(125, 1000)), exp),
					"amt": min(halfUpMinor(rs.amt, exp), total),
				}
				got := map[string]int64{}
				for _, a := range d.Actions {
					dr := a.Discount
					if dr == nil || dr.Currency != cur || dr.Amount.Exp != exp {
						fail("%s: discount %+v, want one in %s with %d digits", a.OfferID, dr, cur, exp)
					}
					if s := dr.Amount.String(); exp > 0 && len(s)-strings.IndexByte(s, '.')-1 != int(exp) {
						fail("%s: amount written %s, not with %d decimals", a.OfferID, s, exp)
					}
					amount := dr.Amount.Minor
					got[a.OfferID] = amount
					// The split: the reference largest-remainder split, listed
					// in cart order without the lines of 0.
					ref := largestRemainder(amount, c.Items)
					var listed []ItemAmount
					for j, part := range ref {
						if line := c.Items[j].Price * int64(c.Items[j].Quantity); part > line {
							fail("%s: the reference gives line %d (%d) %d", a.OfferID, j, line, part)
						}
						if part > 0 {
							listed = append(listed, ItemAmount{SKU: c.Items[j].SKU, Amount: Money{Minor: part, Exp: exp}})
						}
					}
					if fmt.Sprint(listed) != fmt.Sprint(dr.Items) {
						fail("%s: %d split as\n%v\nwant\n%v", a.OfferID, amount, dr.Items, listed)
					}
				}
				for id, w := range want {
					if w > 0 {
						checked++
					}
					if w > 0 && got[id] != w {
						fail("%s: discount %d minor units, want %d (subtotal %d)", id, got[id], w, total)
					}
				}
			}
		}
	}
	if n := 2 * 2 * 4 * len(currency.Codes()); checked < n*9/10 {
		t.Errorf("%d of %d discounts checked: most carts should get both", checked, n)
	}
}

// largestRemainder is the split of docs/decisions.md, on exact big
// integers: each line gets floor(amount × line / total), and the units left
// go one each to the lines with the largest remainders, equal remainders
// to the larger line, then the smaller sku, then the earlier line.
func largestRemainder(amount int64, items []Item) []int64 {
	total := new(big.Int)
	lines := make([]*big.Int, len(items))
	for i, it := range items {
		lines[i] = new(big.Int).Mul(big.NewInt(it.Price), big.NewInt(int64(it.Quantity)))
		total.Add(total, lines[i])
	}
	parts := make([]int64, len(items))
	if total.Sign() == 0 {
		return parts
	}
	rems := make([]*big.Int, len(items))
	left := amount
	var order []int
	for i, l := range lines {
		q, m := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(amount), l), total, new(big.Int))
		parts[i], rems[i] = q.Int64(), m
		left -= parts[i]
		if l.Sign() > 0 {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := order[x], order[y]
		if c := rems[a].Cmp(rems[b]); c != 0 {
			return c > 0
		}
		if c := lines[a].Cmp(lines[b]); c != 0 {
			return c > 0
		}
		return items[a].SKU < items[b].SKU
	})
	for _, i := range order[:left] {
		parts[i]++
	}
	return parts
}
