package engine

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"

	"github.com/arbiterhq/arbiter/rules"
)

func TestPercentOf(t *testing.T) {
	cases := []struct {
		base, micro, want int64
	}{
		{12500, 10_000_000, 1250},       // 10% of 125.00
		{12505, 10_000_000, 1251},       // 1250.5 rounds half up
		{12504, 10_000_000, 1250},       // 1250.4 rounds down
		{999, 12_500_000, 125},          // 124.875 -> 125
		{1, 50_000_000, 1},              // 0.5 -> 1
		{1, 49_999_999, 0},              //
		{1 << 53, 100_000_000, 1 << 53}, // 100% of the largest amount
		{0, 10_000_000, 0},              //
		{12345, 0, 0},                   //
		{1 << 62, 100_000_000, 1 << 62}, // no overflow on 128 bits
	}
	for _, c := range cases {
		if got := percentOf(c.base, c.micro); got != c.want {
			t.Errorf("percentOf(%d, %d) = %d, want %d", c.base, c.micro, got, c.want)
		}
	}
}

func TestToMicroPercent(t *testing.T) {
	cases := []struct {
		p    float64
		want int64
	}{
		{10, 10_000_000}, {12.5, 12_500_000}, {0, 0}, {-3, 0}, {150, 100_000_000},
		{math.NaN(), 0}, {math.Inf(1), 100_000_000}, {5 + 0.37*20, 12_400_000}, {33.3333335, 33_333_334},
	}
	for _, c := range cases {
		if got := toMicroPercent(c.p); got != c.want {
			t.Errorf("toMicroPercent(%v) = %d, want %d", c.p, got, c.want)
		}
	}
}

func items(lines ...any) []Item {
	// sku, price (minor), quantity triples
	var out []Item
	for i := 0; i < len(lines); i += 3 {
		out = append(out, Item{SKU: lines[i].(string), Price: int64(lines[i+1].(int)), Quantity: lines[i+2].(int)})
	}
	return out
}

func TestComputeDiscount(t *testing.T) {
	shoes := items("SHOE-1", 6025, 2, "SOCK-3", 450, 1) // 125.00 USD
	cases := []struct {
		name     string
		d        rules.Discount
		items    []Item
		match    []bool
		pct, amt float64
		exp      int8
		want     int64
		wantPct  int64 // millionths; -1: no percent
		free     bool
		weights  []int64
	}{
		{"percent 10 of 125.00", rules.Discount{Type: rules.DiscountPercent}, shoes, nil, 10, 0, 2, 1250, 10_000_000, false, []int64{12050, 450}},
		{"percent max_amount", rules.Discount{Type: rules.DiscountPercent, MaxAmount: 5}, shoes, nil, 10, 0, 2, 500, 10_000_000, false, nil},
		{"percent filtered", rules.Discount{Type: rules.DiscountPercent}, shoes, []bool{false, true}, 10, 0, 2, 45, 10_000_000, false, []int64{0, 450}},
		{"percent clamped above 100", rules.Discount{Type: rules.DiscountPercent}, shoes, nil, 140, 0, 2, 12500, 100_000_000, false, nil},
		{"percent clamped below 0", rules.Discount{Type: rules.DiscountPercent}, shoes, nil, -5, 0, 2, 0, 0, false, nil},
		{"percent half up", rules.Discount{Type: rules.DiscountPercent}, items("A", 105, 1), nil, 10, 0, 2, 11, 10_000_000, false, nil}, // 10.5 -> 11
		{"percent JPY", rules.Discount{Type: rules.DiscountPercent}, items("A", 1999, 1), nil, 15, 0, 0, 300, 15_000_000, false, nil},   // 299.85 -> 300
		{"percent BHD", rules.Discount{Type: rules.DiscountPercent}, items("A", 12345, 1), nil, 10, 0, 3, 1235, 10_000_000, false, nil}, // 12.345 BHD, 1.2345 -> 1.235
		{"amount", rules.Discount{Type: rules.DiscountAmount}, shoes, nil, 0, 15, 2, 1500, -1, false, nil},
		{"amount at most the subtotal", rules.Discount{Type: rules.DiscountAmount}, shoes, []bool{false, true}, 0, 15, 2, 450, -1, false, nil},
		{"amount negative is 0", rules.Discount{Type: rules.DiscountAmount}, shoes, nil, 0, -2, 2, 0, -1, false, nil},
		{"amount NaN is 0", rules.Discount{Type: rules.DiscountAmount}, shoes, nil, 0, math.NaN(), 2, 0, -1, false, nil},
		{"amount JPY", rules.Discount{Type: rules.DiscountAmount}, items("A", 5000, 1), nil, 0, 500, 0, 500, -1, false, nil},
		{"amount BHD", rules.Discount{Type: rules.DiscountAmount}, items("A", 5000, 1), nil, 0, 1.2345, 3, 1235, -1, false, nil},
		{"tiers none reached", rules.Discount{Type: rules.DiscountTiers, Tiers: []rules.Tier{{MinTotal: 200, Amount: 40}}}, shoes, nil, 0, 0, 2, 0, -1, false, nil},
		{"tiers highest reached", rules.Discount{Type: rules.DiscountTiers, Tiers: []rules.Tier{{MinTotal: 100, Amount: 15}, {MinTotal: 125, Amount: 40}, {MinTotal: 200, Amount: 60}}}, shoes, nil, 0, 0, 2, 4000, -1, false, nil},
		{"tiers percent", rules.Discount{Type: rules.DiscountTiers, Tiers: []rules.Tier{{MinTotal: 100, Percent: 5, IsPercent: true}, {MinTotal: 120, Percent: 10, IsPercent: true}}}, shoes, nil, 0, 0, 2, 1250, 10_000_000, false, nil},
		{"tiers on the filtered subtotal", rules.Discount{Type: rules.DiscountTiers, Tiers: []rules.Tier{{MinTotal: 100, Amount: 15}}}, shoes, []bool{false, true}, 0, 0, 2, 0, -1, false, nil},
		{"buy 2 get 1, 3 units", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 2, Get: 1, BuyGetPercent: 100}, items("A", 1000, 2, "B", 500, 1), nil, 0, 0, 2, 500, 100_000_000, false, []int64{0, 500}},
		{"buy 2 get 1, 6 units: 2 cheapest", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 2, Get: 1, BuyGetPercent: 100}, items("A", 1000, 3, "B", 500, 1, "C", 700, 2), nil, 0, 0, 2, 1200, 100_000_000, false, []int64{0, 500, 700}},
		{"buy 2 get 1, 5 units: 1 cheapest", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 2, Get: 1, BuyGetPercent: 100}, items("A", 1000, 3, "B", 500, 2), nil, 0, 0, 2, 500, 100_000_000, false, []int64{0, 500}},
		{"buy 2 get 1, 2 units: nothing", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 2, Get: 1, BuyGetPercent: 100}, items("A", 1000, 2), nil, 0, 0, 2, 0, 100_000_000, false, []int64{0}},
		{"buy 1 get 1 at 50%", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 1, Get: 1, BuyGetPercent: 50}, items("A", 999, 2), nil, 0, 0, 2, 500, 50_000_000, false, []int64{999}}, // 499.5 -> 500
		{"buy 2 get 1 only matching units", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 2, Get: 1, BuyGetPercent: 100}, items("A", 1000, 2, "B", 100, 1), []bool{true, false}, 0, 0, 2, 0, 100_000_000, false, nil},
		{"buy 2 get 1 equal prices by sku", rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 2, Get: 1, BuyGetPercent: 100}, items("B", 500, 2, "A", 500, 1), nil, 0, 0, 2, 500, 100_000_000, false, []int64{0, 500}},
		{"free shipping", rules.Discount{Type: rules.DiscountFreeShipping, FreeShipping: true}, shoes, nil, 0, 0, 2, 0, -1, true, []int64{0, 0}},
		{"free shipping without a cart", rules.Discount{Type: rules.DiscountFreeShipping, FreeShipping: true}, nil, nil, 0, 0, 2, 0, -1, true, []int64{}},
		{"percent without a cart", rules.Discount{Type: rules.DiscountPercent}, nil, nil, 10, 0, 2, 0, 10_000_000, false, nil},
	}
	var sorter lineSorter
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.d
			in := discountInput{D: &d, Items: c.items, Match: c.match, Percent: c.pct, Amount: c.amt, Exp: c.exp}
			out := computeDiscount(&in, nil, &sorter)
			if out.Amount != c.want {
				t.Errorf("amount %d, want %d", out.Amount, c.want)
			}
			if c.wantPct < 0 && out.HasPercent || c.wantPct >= 0 && (!out.HasPercent || out.Micro != c.wantPct) {
				t.Errorf("percent %v %d, want %d", out.HasPercent, out.Micro, c.wantPct)
			}
			if out.FreeShipping != c.free {
				t.Errorf("free shipping %v", out.FreeShipping)
			}
			if c.weights != nil {
				for i := range c.weights {
					if out.Weights[i] != c.weights[i] {
						t.Errorf("weights %v, want %v", out.Weights, c.weights)
						break
					}
				}
			}
		})
	}
}

func TestSplitAmount(t *testing.T) {
	cases := []struct {
		name    string
		amount  int64
		items   []Item
		weights []int64
		want    []int64
	}{
		{"spec example", 1250, items("SHOE-1", 6025, 2, "SOCK-3", 450, 1), []int64{12050, 450}, []int64{1205, 45}},
		{"one cent over three equal lines goes to the smallest sku", 1, items("C", 100, 1, "A", 100, 1, "B", 100, 1), []int64{100, 100, 100}, []int64{0, 1, 0}},
		{"two cents over three equal lines", 2, items("C", 100, 1, "A", 100, 1, "B", 100, 1), []int64{100, 100, 100}, []int64{0, 1, 1}},
		{"equal remainders go to the larger line", 1, items("A", 100, 1, "B", 200, 1), []int64{100, 200}, []int64{0, 1}},
		{"lines of weight 0 get nothing", 10, items("A", 100, 1, "B", 200, 1, "C", 300, 1), []int64{0, 200, 300}, []int64{0, 4, 6}},
		{"10 over 3", 10, items("A", 10, 1, "B", 10, 1, "C", 10, 1), []int64{10, 10, 10}, []int64{4, 3, 3}},
		{"never more than the weights", 10, items("A", 1, 1, "B", 1, 1), []int64{1, 1}, []int64{1, 1}},
		{"all of it", 300, items("A", 100, 1, "B", 200, 1), []int64{100, 200}, []int64{100, 200}},
		{"nothing", 0, items("A", 100, 1), []int64{100}, []int64{0}},
	}
	var sorter lineSorter
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := splitAmount(c.amount, c.items, c.weights, nil, &sorter)
			for i := range c.want {
				if got[i] != c.want[i] {
					t.Fatalf("split %d over %v = %v, want %v", c.amount, c.weights, got, c.want)
				}
			}
		})
	}
}

func TestGuardrailOf(t *testing.T) {
	cases := []struct {
		total int64
		pct   float64
		want  int64
	}{
		{12500, 40, 5000}, {999, 30, 299}, {12500, 100, 12500}, {12500, 0, 0}, {1, 99.9, 0}, {3, 33.333333, 0}, {300, 33.5, 100},
		{1 << 53, 100, 1 << 53},
	}
	for _, c := range cases {
		if got := guardrailOf(c.total, c.pct); got != c.want {
			t.Errorf("guardrailOf(%d, %v) = %d, want %d", c.total, c.pct, got, c.want)
		}
	}
}

// randomCart is a cart of 0..8 lines with prices up to 10^7 minor units.
func randomCart(r *rand.Rand) []Item {
	n := r.IntN(9)
	out := make([]Item, n)
	for i := range out {
		out[i] = Item{SKU: string(rune('A' + r.IntN(5))), Price: r.Int64N(10_000_000), Quantity: 1 + r.IntN(5)}
	}
	return out
}

func randomDiscount(r *rand.Rand) (rules.Discount, float64, float64) {
	switch r.IntN(5) {
	case 0:
		return rules.Discount{Type: rules.DiscountPercent, MaxAmount: float64(r.IntN(3)) * 100.5}, r.Float64()*120 - 10, 0
	case 1:
		return rules.Discount{Type: rules.DiscountAmount}, 0, r.Float64()*200000 - 10
	case 2:
		t := []rules.Tier{{MinTotal: 10, Amount: 5}, {MinTotal: 100, Percent: r.Float64() * 100, IsPercent: true}, {MinTotal: 1000, Amount: 500000}}
		return rules.Discount{Type: rules.DiscountTiers, Tiers: t}, 0, 0
	case 3:
		return rules.Discount{Type: rules.DiscountBuyXGetY, Buy: 1 + r.IntN(3), Get: 1 + r.IntN(2), BuyGetPercent: r.Float64() * 100}, 0, 0
	}
	return rules.Discount{Type: rules.DiscountFreeShipping, FreeShipping: true}, 0, 0
}

// TestDiscountProperties: over random carts and discounts, a discount never
// exceeds what it applies to (in total and per line) and its split adds up
// exactly.
func TestDiscountProperties(t *testing.T) {
	var sorter lineSorter
	f := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 7))
		cart := randomCart(r)
		d, pct, amt := randomDiscount(r)
		var match []bool
		if r.IntN(2) == 0 {
			match = make([]bool, len(cart))
			for i := range match {
				match[i] = r.IntN(3) > 0
			}
		}
		exp := int8(r.IntN(4))
		in := discountInput{D: &d, Items: cart, Match: match, Percent: pct, Amount: amt, Exp: exp}
		out := computeDiscount(&in, nil, &sorter)
		var subtotal, wsum int64
		for i := range cart {
			if match == nil || match[i] {
				subtotal += cart[i].Price * int64(cart[i].Quantity)
			}
			wsum += out.Weights[i]
		}
		if out.Amount < 0 || out.Amount > subtotal || out.Amount > wsum && out.Amount > 0 {
			t.Logf("seed %d: amount %d subtotal %d weights %d (%+v)", seed, out.Amount, subtotal, wsum, d)
			return false
		}
		parts := splitAmount(out.Amount, cart, out.Weights, nil, &sorter)
		var sum int64
		for i, p := range parts {
			if p < 0 || p > out.Weights[i] || p > cart[i].Price*int64(cart[i].Quantity) {
				t.Logf("seed %d: line %d part %d weight %d", seed, i, p, out.Weights[i])
				return false
			}
			sum += p
		}
		if sum != out.Amount {
			t.Logf("seed %d: parts add to %d, amount %d", seed, sum, out.Amount)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 3000}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDiscountSplit(b *testing.B) {
	cart := make([]Item, 12)
	w := make([]int64, len(cart))
	for i := range cart {
		cart[i] = Item{SKU: string(rune('A' + i)), Price: int64(999 + 137*i), Quantity: 1 + i%3}
		w[i] = cart[i].Price * int64(cart[i].Quantity)
	}
	var sorter lineSorter
	var out []int64
	b.ReportAllocs()
	for b.Loop() {
		out = splitAmount(1237, cart, w, out, &sorter)
	}
}

// TestToMinorFastPath: the fast path of ToMinor agrees with the decimal
// reading on random amounts written with up to 6 decimals.
func TestToMinorFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		digits := r.IntN(7)
		n := r.Int64N(1_000_000_000)
		major := float64(n) / float64(pow10[digits])
		if r.IntN(2) == 0 {
			major = r.Float64() * 1000
		}
		for exp := int8(0); exp <= 6; exp++ {
			got, ok := ToMinor(major, exp)
			want, wok := toMinorDecimal(major, exp)
			if got != want || ok != wok {
				t.Fatalf("ToMinor(%v, %d) = %d, decimal reading %d", major, exp, got, want)
			}
		}
	}
}

// FuzzSplitAmount: for any amount and line weights, the split adds up to
// min(amount, Σ weights) exactly and no line gets more than its weight.
func FuzzSplitAmount(f *testing.F) {
	f.Add(int64(1250), int64(12050), int64(450), int64(0))
	f.Add(int64(1), int64(100), int64(100), int64(100))
	f.Add(int64(1<<53), int64(1<<53), int64(3), int64(1<<40))
	var sorter lineSorter
	f.Fuzz(func(t *testing.T, amount, w1, w2, w3 int64) {
		ws := []int64{w1, w2, w3}
		var total int64
		for i := range ws {
			if ws[i] < 0 {
				ws[i] = -(ws[i] + 1)
			}
			ws[i] %= 1 << 53
			total += ws[i]
		}
		if amount < 0 {
			amount = -(amount + 1)
		}
		it := items("B", 1, 1, "A", 1, 1, "C", 1, 1)
		parts := splitAmount(amount, it, ws, nil, &sorter)
		want := min(amount, total)
		var sum int64
		for i, p := range parts {
			if p < 0 || p > ws[i] {
				t.Fatalf("line %d: %d of weight %d", i, p, ws[i])
			}
			sum += p
		}
		if sum != want {
			t.Fatalf("parts %v add to %d, want %d", parts, sum, want)
		}
	})
}
