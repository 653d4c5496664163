package currency

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// A few entries of ISO 4217 list one, pinned: the minor digits the spec
// names, the odd ones (CLF and UYW 4, ISK and the CFA francs 0, the dinars
// 3), codes added recently (XCG, XAD, ZWG, SLE, VED) and codes withdrawn
// or without a minor unit, which are no currency here.
func TestDigitsPinned(t *testing.T) {
	want := map[string]int8{
		"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CNY": 2, "INR": 2,
		"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0, "XAF": 0, "XPF": 0, "UGX": 0, "PYG": 0,
		"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "IQD": 3, "LYD": 3, "TND": 3,
		"CLF": 4, "UYW": 4,
		"XCG": 2, "XAD": 2, "ZWG": 2, "SLE": 2, "VED": 2,
	}
	for code, d := range want {
		if got, ok := Digits(code); !ok || got != d {
			t.Errorf("Digits(%s) = %d, %v; want %d", code, got, ok, d)
		}
	}
	for _, code := range []string{
		"XYZ", "AAA", "QQQ", "ZZZ", // the made-up codes of issue 13
		"usd", "Usd", "US", "USDD", "", "U$D",
		"BGN", "HRK", "SLL", "ANG", "CUC", "ZWL", "VEF", // withdrawn
		"XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XSU", "XUA", // no minor unit
	} {
		if d, ok := Digits(code); ok || Known(code) {
			t.Errorf("%q is known, with %d digits", code, d)
		}
	}
}

func TestCodes(t *testing.T) {
	cs := Codes()
	if len(cs) != 165 {
		t.Errorf("%d codes, want the 165 of list one that have a minor unit", len(cs))
	}
	for i, c := range cs {
		if len(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' || c[2] > 'Z' {
			t.Errorf("code %q is not three capital letters", c)
		}
		if i > 0 && cs[i-1] >= c {
			t.Errorf("codes not sorted at %q", c)
		}
		if d, _ := Digits(c); d < 0 || d > 4 {
			t.Errorf("%s has %d digits", c, d)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1.08", "1.08"}, {"0.0067", "0.0067"}, {"1.080", "1.08"}, {"149", "149"}, {"149.50", "149.5"},
		{"6.7e-3", "0.0067"}, {"1E2", "100"}, {"0.000000000001", "0.000000000001"}, {" 1.27 ", "1.27"},
		{"999999999999999", "999999999999999"}, {"0.000039", "0.000039"},
	} {
		r, err := ParseRate(c.in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", c.in, err)
			continue
		}
		if r.String() != c.want {
			t.Errorf("ParseRate(%q) = %s, want %s", c.in, r, c.want)
		}
	}
	for _, in := range []string{"", "0", "0.0", "-1.08", "abc", "1,08", "1.08.1", "0x10", "1/3", "NaN", "Inf",
		"0.0000000000001", "1000000000000000", "1e400", "1e-40", "1.", ".5"} {
		if r, err := ParseRate(in); err == nil || !errors.Is(err, ErrRate) {
			t.Errorf("ParseRate(%q) = %v, %v; want an ErrRate", in, r, err)
		}
	}
	if a, b := MustRate("1.08"), MustRate("1.0800"); a != b {
		t.Errorf("1.08 != 1.0800: %#v %#v", a, b)
	}
	if !(Rate{}).IsZero() || MustRate("1").IsZero() {
		t.Error("IsZero")
	}
}

// Table tests of the conversions: half up into the cart's currency, up or
// half up into the ruleset's.
func TestConversions(t *testing.T) {
	for _, c := range []struct {
		rate     string
		minor    int64
		from, to int8
		want     int64
	}{
		{"1.08", 1500, 2, 2, 1389},        // 15.00 USD = 13.888... EUR
		{"0.0067", 1500, 2, 0, 2239},      // 15.00 USD = 2238.8 JPY
		{"10", 5, 2, 2, 1},                // 0.05 = 0.005: the half goes up
		{"10", 4, 2, 2, 0},                // 0.004 goes down
		{"149.25", 1493, 0, 2, 1000},      // JPY rules: 1493 JPY = 10.0033 USD
		{"3.25", 1000, 2, 3, 3077},        // 10.00 USD = 3.0769 KWD
		{"41.2345", 100000, 2, 4, 242515}, // 1000.00 USD = 24.25153 CLF
		{"1.27", 0, 2, 2, 0},
	} {
		if got, ok := MustRate(c.rate).FromBase(c.minor, c.from, c.to); !ok || got != c.want {
			t.Errorf("at %s: FromBase(%d, %d, %d) = %d, %v; want %d", c.rate, c.minor, c.from, c.to, got, ok, c.want)
		}
	}
	for _, c := range []struct {
		rate       string
		minor      int64
		from, to   int8
		up, halfUp int64
	}{
		{"1.08", 1500, 2, 2, 1620, 1620},          // 15.00 EUR = 16.20 USD
		{"1.08", 1389, 2, 2, 1501, 1500},          // 13.89 EUR = 15.0012 USD
		{"0.0067", 2239, 0, 2, 1501, 1500},        // 2239 JPY = 15.0013 USD
		{"149.25", 1000, 2, 0, 1493, 1493},        // 10.00 USD = 1492.5 JPY: the half goes up
		{"149.25", 999, 2, 0, 1492, 1491},         // 9.99 USD = 1491.0075 JPY
		{"3.25", 3077, 3, 2, 1001, 1000},          // 3.077 KWD = 10.00025 USD
		{"41.2345", 242515, 4, 2, 100000, 100000}, // 24.2515 CLF = 999.99848 USD
		{"1.27", 0, 2, 2, 0, 0},
	} {
		r := MustRate(c.rate)
		if got, ok := r.ToBase(c.minor, c.from, c.to, Up); !ok || got != c.up {
			t.Errorf("at %s: ToBase(%d, %d, %d, Up) = %d, %v; want %d", c.rate, c.minor, c.from, c.to, got, ok, c.up)
		}
		if got, ok := r.ToBase(c.minor, c.from, c.to, HalfUp); !ok || got != c.halfUp {
			t.Errorf("at %s: ToBase(%d, %d, %d, HalfUp) = %d, %v; want %d", c.rate, c.minor, c.from, c.to, got, ok, c.halfUp)
		}
	}
	r := MustRate("1.08")
	for _, bad := range []func() (int64, bool){
		func() (int64, bool) { return r.FromBase(-1, 2, 2) },
		func() (int64, bool) { return r.ToBase(-1, 2, 2, Up) },
		func() (int64, bool) { return r.FromBase(1, 5, 2) },
		func() (int64, bool) { return r.ToBase(1, 2, -1, Up) },
		func() (int64, bool) { return Rate{}.FromBase(1, 2, 2) },
		func() (int64, bool) { return MustRate("0.000000000001").FromBase(math.MaxInt64, 0, 4) },
		func() (int64, bool) { return MustRate("999999999999999").ToBase(math.MaxInt64, 0, 4, Up) },
	} {
		if v, ok := bad(); ok {
			t.Errorf("a conversion out of range gave %d", v)
		}
	}
}

// exact is the reference: minor × num / den in big rationals, rounded.
func exact(minor int64, num, den *big.Rat, rd Rounding) (int64, bool) {
	x := new(big.Rat).Mul(new(big.Rat).SetInt64(minor), num)
	x.Quo(x, den)
	q, m := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	switch rd {
	case Up:
		if m.Sign() > 0 {
			q.Add(q, big.NewInt(1))
		}
	default:
		if new(big.Int).Lsh(m, 1).Cmp(x.Denom()) >= 0 {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

func pow(d int) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil))
}

// Property: both conversions agree with exact rational arithmetic over
// random rates, amounts and digits; rounding up never gives less than the
// exact value and less than one minor unit more; a conversion there and
// back with rounding up never loses money.
func TestConversionsAgreeWithRationals(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4217, 1))
	for i := 0; i < 20000; i++ {
		scale := rnd.IntN(MaxRateDecimals + 1)
		units := 1 + rnd.Uint64N(uint64(math.Pow10(1+rnd.IntN(MaxRateDigits)))-1)
		r := Rate{units: units, scale: uint8(scale)}
		rat := new(big.Rat).SetFrac(new(big.Int).SetUint64(units), pow(scale).Num())
		bd, cd := int8(rnd.IntN(5)), int8(rnd.IntN(5))
		minor := rnd.Int64N(1 << (1 + rnd.IntN(53)))
		// FromBase: minor / 10^bd / rate × 10^cd
		want, wok := exact(minor, pow(int(cd)), new(big.Rat).Mul(rat, pow(int(bd))), HalfUp)
		got, ok := r.FromBase(minor, bd, cd)
		if ok != wok || ok && got != want {
			t.Fatalf("FromBase(%d, %d, %d) at %s = %d, %v; want %d, %v", minor, bd, cd, r, got, ok, want, wok)
		}
		for _, rd := range []Rounding{Up, HalfUp} {
			want, wok := exact(minor, new(big.Rat).Mul(rat, pow(int(bd))), pow(int(cd)), rd)
			got, ok := r.ToBase(minor, cd, bd, rd)
			if ok != wok || ok && got != want {
				t.Fatalf("ToBase(%d, %d, %d, %d) at %s = %d, %v; want %d, %v", minor, cd, bd, rd, r, got, ok, want, wok)
			}
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1.08", "0.0067", "6.7e-3", "1e-40", "999999999999999", "-1", "1.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r.IsZero() {
			t.Fatalf("%q parsed to no rate", s)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("%q -> %s -> %v, %v", s, r, back, err)
		}
		// no conversion of an amount in range panics or goes negative
		for _, d := range []int8{0, 2, 4} {
			if v, ok := r.FromBase(1<<53, 2, d); ok && v < 0 {
				t.Fatalf("negative conversion")
			}
			if v, ok := r.ToBase(1<<53, d, 2, Up); ok && v < 0 {
				t.Fatalf("negative conversion")
			}
		}
	})
}
