package engine

import (
	"math"
	"math/bits"
	"sort"

	"github.com/arbiterhq/arbiter/rules"
)

// microPercent is a percent in millionths (12.5% is 12_500_000), the exact
// form every percent is computed with.
const microPercentOne = 1_000_000

// toMicroPercent clamps p to 0..100 and converts it to millionths of a
// percent, rounding half up at the sixth decimal. NaN is 0.
func toMicroPercent(p float64) int64 {
	if !(p > 0) {
		return 0
	}
	if p >= 100 {
		return 100 * microPercentOne
	}
	v, ok := ToMinor(p, 6)
	if !ok {
		return 0
	}
	return v
}

// microPercentFloat returns a micro-percent as a float (12.5), for
// responses and {{percent}}.
func microPercentFloat(m int64) float64 { return float64(m) / microPercentOne }

// mulDiv returns floor(a*b/c) and the remainder, for a, b >= 0 and c > 0,
// exact on 128 bits. A quotient beyond int64 saturates.
func mulDiv(a, b, c int64) (q, r int64) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64, 0
	}
	qq, rr := bits.Div64(hi, lo, uint64(c))
	if qq > math.MaxInt64 {
		return math.MaxInt64, 0
	}
	return int64(qq), int64(rr)
}

// percentOf returns base × micro / 100_000_000 rounded half up once: the
// percent (in millionths) of an amount in minor units.
func percentOf(base, micro int64) int64 {
	if base <= 0 || micro <= 0 {
		return 0
	}
	const den = 100 * microPercentOne
	hi, lo := bits.Mul64(uint64(base), uint64(micro))
	lo, carry := bits.Add64(lo, den/2, 0)
	hi += carry
	if hi >= den {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, den)
	return int64(q)
}

// lineValue returns price × quantity, saturating.
func lineValue(it *Item) int64 {
	if it.Price <= 0 || it.Quantity <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(it.Price), uint64(it.Quantity))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// discountInput is what a discount is computed from: the offer's
// discount, the cart's lines (minor units), which lines the discount
// applies to, and the values of the number expressions (already run).
type discountInput struct {
	D       *rules.Discount
	Items   []Item
	Match   []bool  // per item; nil: every item
	Percent float64 // the percent type's percent (constant or expression)
	Amount  float64 // the amount type's amount, major units
	Exp     int8
	// Conv converts the money numbers to the cart's currency (currency.go);
	// nil: they are in it. AmountBy is the amount's per-currency values
	// (for a constant amount written per currency).
	Conv     *moneyConv
	AmountBy rules.PerCurrency
}

// minor is a money number of the discount (v, per-currency values by) in
// minor units of the cart's currency; ok as ToMinor.
func (in *discountInput) minor(v float64, by rules.PerCurrency) (int64, bool) {
	if in.Conv == nil {
		return ToMinor(v, in.Exp)
	}
	return in.Conv.minor(v, by)
}

// discountOutput is a computed discount. Weights holds, per cart line, the
// value the amount is split in proportion to (0: the line gets nothing).
type discountOutput struct {
	Amount       int64
	Micro        int64 // the percent, in millionths; valid when HasPercent
	HasPercent   bool
	FreeShipping bool
	Weights      []int64
}

// computeDiscount computes the discount in minor units, exactly, and the
// per-line weights of its split. weights is reused when large enough.
func computeDiscount(in *discountInput, weights []int64, sorter *lineSorter) discountOutput {
	n := len(in.Items)
	if cap(weights) < n {
		weights = make([]int64, n)
	}
	weights = weights[:n]
	var subtotal int64
	for i := range in.Items {
		weights[i] = 0
		if in.Match != nil && !in.Match[i] {
			continue
		}
		v := lineValue(&in.Items[i])
		weights[i] = v
		subtotal = addSat(subtotal, v)
	}
	out := discountOutput{Weights: weights}
	d := in.D
	switch d.Type {
	case rules.DiscountFreeShipping:
		out.FreeShipping = true
		for i := range weights {
			weights[i] = 0
		}
	case rules.DiscountPercent:
		out.Micro, out.HasPercent = toMicroPercent(in.Percent), true
		out.Amount = percentOf(subtotal, out.Micro)
		if d.MaxAmount > 0 {
			if m, ok := in.minor(d.MaxAmount, d.MaxAmountBy); ok && m < out.Amount {
				out.Amount = m
			} else if !ok && in.Conv != nil && !in.Conv.can(d.MaxAmountBy) {
				out.Amount = 0 // no cap in the cart's currency: never uncapped (the engine says `currency` first)
			}
		}
	case rules.DiscountAmount:
		out.Amount = in.clampAmount(in.Amount, in.AmountBy, subtotal)
	case rules.DiscountTiers:
		tier := -1
		for k := range d.Tiers {
			m, ok := in.minor(d.Tiers[k].MinTotal, d.Tiers[k].MinTotalBy)
			if ok && subtotal >= m && subtotal > 0 {
				tier = k
			}
		}
		if tier >= 0 {
			t := &d.Tiers[tier]
			if t.IsPercent {
				out.Micro, out.HasPercent = toMicroPercent(t.Percent), true
				out.Amount = percentOf(subtotal, out.Micro)
			} else {
				out.Amount = in.clampAmount(t.Amount, t.AmountBy, subtotal)
			}
		}
	case rules.DiscountBuyXGetY:
		out.Micro, out.HasPercent = toMicroPercent(d.BuyGetPercent), true
		out.Amount = buyXGetY(in, weights, sorter, out.Micro)
	}
	if out.Amount > subtotal {
		out.Amount = subtotal // never more than what it applies to
	}
	return out
}

// clampAmount converts a fixed amount (major, per-currency values by) to
// minor units of the cart's currency, clamped to 0..subtotal (NaN is 0).
func (in *discountInput) clampAmount(major float64, by rules.PerCurrency, subtotal int64) int64 {
	if in.Conv != nil {
		if !in.Conv.can(by) {
			return 0 // no value in the cart's currency (the engine says `currency` first)
		}
		if v, ok := by[in.Conv.cart]; ok && !in.Conv.same() {
			major = v
		}
	}
	if !(major > 0) {
		return 0
	}
	m, ok := in.minor(major, by)
	if !ok || m > subtotal {
		return subtotal
	}
	return m
}

// buyXGetY discounts, for every buy+get matching units, get of the
// cheapest at micro percent. On return weights holds the value of the
// discounted units per line. The cheapest units are taken by unit price,
// then sku, then cart order.
func buyXGetY(in *discountInput, weights []int64, sorter *lineSorter, micro int64) int64 {
	d := in.D
	if d.Buy < 1 || d.Get < 1 {
		for i := range weights {
			weights[i] = 0
		}
		return 0
	}
	sorter.reset(in.Items)
	var units int64
	for i := range in.Items {
		if weights[i] > 0 {
			sorter.idx = append(sorter.idx, int32(i))
			units += int64(in.Items[i].Quantity)
		}
		weights[i] = 0
	}
	free := units / int64(d.Buy+d.Get) * int64(d.Get)
	if free == 0 {
		return 0
	}
	sorter.byPrice = true
	sort.Sort(sorter)
	var value int64
	for _, i := range sorter.idx {
		if free == 0 {
			break
		}
		it := &in.Items[i]
		take := int64(it.Quantity)
		if take > free {
			take = free
		}
		free -= take
		v, _ := mulDiv(it.Price, take, 1)
		weights[i] = v
		value = addSat(value, v)
	}
	return percentOf(value, micro)
}

// lineSorter orders cart lines without allocating: by unit price, sku and
// position (byPrice), or for the largest remainder by remainder desc, then
// weight desc, then sku, then position.
type lineSorter struct {
	items   []Item
	idx     []int32
	rem     []int64 // per line
	weights []int64 // per line
	byPrice bool
}

func (s *lineSorter) reset(items []Item) {
	s.items = items
	s.idx = s.idx[:0]
	s.byPrice = false
}

func (s *lineSorter) Len() int      { return len(s.idx) }
func (s *lineSorter) Swap(i, j int) { s.idx[i], s.idx[j] = s.idx[j], s.idx[i] }
func (s *lineSorter) Less(i, j int) bool {
	a, b := s.idx[i], s.idx[j]
	if s.byPrice {
		pa, pb := s.items[a].Price, s.items[b].Price
		if pa != pb {
			return pa < pb
		}
	} else {
		if s.rem[a] != s.rem[b] {
			return s.rem[a] > s.rem[b]
		}
		if s.weights[a] != s.weights[b] {
			return s.weights[a] > s.weights[b]
		}
	}
	if s.items[a].SKU != s.items[b].SKU {
		return s.items[a].SKU < s.items[b].SKU
	}
	return a < b
}

// splitAmount splits amount over the lines in proportion to weights with
// the largest-remainder method: each line gets floor(amount × w / W), and
// the units left go one each to the lines with the largest remainders
// (ties to the larger line, then the smaller sku, then the earlier line).
// out[i] is line i's part; the parts add up to amount exactly (amount <=
// W). out is reused when large enough.
func splitAmount(amount int64, items []Item, weights []int64, out []int64, sorter *lineSorter) []int64 {
	n := len(weights)
	if cap(out) < n {
		out = make([]int64, n)
	}
	out = out[:n]
	var total int64
	for _, w := range weights {
		total = addSat(total, w)
	}
	for i := range out {
		out[i] = 0
	}
	if amount <= 0 || total <= 0 {
		return out
	}
	if amount > total {
		amount = total
	}
	if cap(sorter.rem) < n {
		sorter.rem = make([]int64, n)
	}
	sorter.rem = sorter.rem[:n]
	sorter.reset(items)
	sorter.weights = weights
	left := amount
	for i, w := range weights {
		sorter.rem[i] = 0
		if w <= 0 {
			continue
		}
		q, r := mulDiv(amount, w, total)
		out[i] = q
		sorter.rem[i] = r
		left -= q
		sorter.idx = append(sorter.idx, int32(i))
	}
	if left > 0 {
		sort.Sort(sorter)
		for _, i := range sorter.idx {
			if left == 0 {
				break
			}
			out[i]++
			left--
		}
	}
	return out
}

// guardrailOf returns floor(total × pct / 100) for pct in 0..100 (read to
// the sixth decimal), never more than total.
func guardrailOf(total int64, pct float64) int64 {
	if total <= 0 {
		return 0
	}
	micro := toMicroPercent(pct)
	q, _ := mulDiv(total, micro, 100*microPercentOne)
	if q > total {
		q = total
	}
	return q
}
