// Package currency holds what Arbiter knows of money across currencies:
// the ISO 4217 codes with their minor digits (iso4217.go, the one table of
// them: a code that is not in it is not a currency), and exact exchange
// rates (Rate) with the conversions the rules need, each rounded once in
// integer arithmetic: an amount of the ruleset's currency into a cart's
// currency (half up), and a cart's amount into the ruleset's currency (up,
// for what a budget counts; half up, for cart.total_base). It is pure: no
// I/O, no state, no floats in any sum.
package currency

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"regexp"
	"sort"
	"strings"
)

// Digits returns the number of minor digits of an ISO 4217 code that
// Arbiter knows (2 for USD, 0 for JPY and KRW, 3 for BHD, KWD and OMR, 4
// for CLF); ok is false for anything else, lower case included.
func Digits(code string) (d int8, ok bool) {
	d, ok = digits[code]
	return d, ok
}

// Known reports whether code is an ISO 4217 code Arbiter knows.
func Known(code string) bool {
	_, ok := digits[code]
	return ok
}

// Codes returns every code Arbiter knows, sorted (a new slice).
func Codes() []string {
	out := make([]string, 0, len(digits))
	for c := range digits {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// The limits of a rate: at most MaxRateDecimals digits after the point and
// MaxRateDigits significant digits, so that every conversion is exact in
// 128-bit integer arithmetic.
const (
	MaxRateDecimals = 12
	MaxRateDigits   = 15
)

// Rate is an exchange rate written as an exact decimal: the value, in the
// ruleset's currency, of one unit of another currency (EUR: 1.08 with USD
// as the ruleset's currency means 1 EUR = 1.08 USD). The zero Rate is no
// rate. It is units / 10^scale, compared with ==.
type Rate struct {
	units uint64 // < 10^MaxRateDigits
	scale uint8  // <= MaxRateDecimals
}

// ErrRate is the error of a rate that cannot be used; the message says why.
var ErrRate = errors.New("invalid rate")

var rateRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// ParseRate reads a rate from its decimal text as written ("1.08",
// "0.0067", "149.5", "6.7e-3"): exactly, never through a float. It must be
// more than 0, with at most MaxRateDecimals decimals and MaxRateDigits
// significant digits.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return Rate{}, fmt.Errorf("%w: %s must be more than 0", ErrRate, s)
	}
	if !rateRE.MatchString(s) || len(s) > 64 {
		return Rate{}, fmt.Errorf("%w: %q is not a decimal number like 1.08", ErrRate, s)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		var e int
		if _, err := fmt.Sscan(strings.TrimPrefix(s[i+1:], "+"), &e); err != nil || e > 30 || e < -30 {
			return Rate{}, fmt.Errorf("%w: %q has an exponent out of range", ErrRate, s)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Rate{}, fmt.Errorf("%w: %q is not a decimal number like 1.08", ErrRate, s)
	}
	if r.Sign() <= 0 {
		return Rate{}, fmt.Errorf("%w: %s must be more than 0", ErrRate, s)
	}
	ten := big.NewInt(10)
	for scale := 0; scale <= MaxRateDecimals; scale++ {
		if r.IsInt() {
			u := r.Num()
			if u.Cmp(new(big.Int).Exp(ten, big.NewInt(MaxRateDigits), nil)) >= 0 {
				return Rate{}, fmt.Errorf("%w: %s has more than %d significant digits", ErrRate, s, MaxRateDigits)
			}
			return Rate{units: u.Uint64(), scale: uint8(scale)}, nil
		}
		r.Mul(r, new(big.Rat).SetInt(ten))
	}
	return Rate{}, fmt.Errorf("%w: %s has more than %d decimals", ErrRate, s, MaxRateDecimals)
}

// MustRate is ParseRate for constants in tests and examples; it panics on
// an invalid rate.
func MustRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

// IsZero reports whether r is no rate.
func (r Rate) IsZero() bool { return r.units == 0 }

// String writes the rate as a decimal without trailing zeros ("1.08").
func (r Rate) String() string {
	if r.units == 0 {
		return "0"
	}
	s := fmt.Sprintf("%0*d", int(r.scale)+1, r.units)
	if r.scale == 0 {
		return s
	}
	i := len(s) - int(r.scale)
	return strings.TrimRight(strings.TrimRight(s[:i]+"."+s[i:], "0"), ".")
}

// Float returns the rate as a float, for display only.
func (r Rate) Float() float64 {
	return float64(r.units) / math.Pow10(int(r.scale))
}

var pow10 = func() [20]uint64 {
	var p [20]uint64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Rounding modes of a conversion.
type Rounding uint8

// The roundings the rules use: half up for amounts and thresholds shown to
// a customer and for cart.total_base, up for what a budget counts (a
// budget never counts less than was granted).
const (
	HalfUp Rounding = iota
	Up
)

// divRound returns the 128-bit number hi:lo divided by c (> 0), rounded as
// rd; ok is false when the result does not fit an int64.
func divRound(hi, lo, c uint64, rd Rounding) (int64, bool) {
	if hi >= c {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, c)
	switch rd {
	case Up:
		if r > 0 {
			q++
		}
	default:
		if r >= c-r { // 2r >= c, without overflow
			q++
		}
	}
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// FromBase converts minor, an amount in minor units of the ruleset's
// currency (baseDigits minor digits), into minor units of the rate's
// currency (digits), rounded half up: 15.00 USD at EUR 1.08 is 13.89 EUR.
// ok is false for a negative amount, digits out of 0..4, or a result out of
// range.
func (r Rate) FromBase(minor int64, baseDigits, digits int8) (int64, bool) {
	if r.units == 0 || minor < 0 || !validDigits(baseDigits) || !validDigits(digits) {
		return 0, false
	}
	// minor / 10^bd / (units / 10^s) × 10^d = minor × 10^(d+s) / (units × 10^bd),
	// the numerator below 2^63 × 10^16, the divisor below 10^19.
	hi, lo := bits.Mul64(uint64(minor), pow10[int(digits)+int(r.scale)])
	return divRound(hi, lo, r.units*pow10[baseDigits], HalfUp)
}

// ToBase converts minor, an amount in minor units of the rate's currency
// (digits), into minor units of the ruleset's currency (baseDigits),
// rounded as rd: 13.89 EUR at 1.08 is 15.0012 USD, 15.01 rounded up (what a
// budget counts), 15.00 half up. ok is as for FromBase.
func (r Rate) ToBase(minor int64, digits, baseDigits int8, rd Rounding) (int64, bool) {
	if r.units == 0 || minor < 0 || !validDigits(baseDigits) || !validDigits(digits) {
		return 0, false
	}
	// minor / 10^d × units / 10^s × 10^bd = minor × units × 10^bd / 10^(d+s):
	// minor × units is below 2^63 × 2^50, times 10^bd (below 2^14) below 2^127.
	hi, lo := bits.Mul64(uint64(minor), r.units)
	p := pow10[baseDigits]
	carry, lo2 := bits.Mul64(lo, p)
	hi = hi*p + carry
	return divRound(hi, lo2, pow10[int(digits)+int(r.scale)], rd)
}

func validDigits(d int8) bool { return d >= 0 && d <= 4 }
