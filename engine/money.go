package engine

import (
	"math"
	"strconv"
	"strings"

	"github.com/arbiterhq/arbiter/currency"
)

// Money is an exact amount in minor units of a currency whose exponent
// (number of minor digits) is Exp. It marshals to JSON as a decimal number
// with exactly Exp digits after the point (12.50, 1250, 1.125).
type Money struct {
	Minor int64
	Exp   int8
}

// CurrencyExp returns the number of minor digits of an ISO 4217 currency
// code that Arbiter knows (package currency holds the one table): 0 for JPY
// and KRW, 3 for BHD, KWD and OMR, 2 for most. ok is false for any other
// text, three capital letters that are no currency (XYZ) included.
func CurrencyExp(code string) (exp int8, ok bool) { return currency.Digits(code) }

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// ToMinor converts a major-unit amount (as written in a rule or a JSON
// request) to minor units, rounding half up once on the decimal form the
// amount was written in (1.005 USD is 101 cents). ok is false for NaN,
// infinities and amounts beyond ±2^53 minor units.
func ToMinor(major float64, exp int8) (int64, bool) {
	if math.IsNaN(major) || math.IsInf(major, 0) || math.Abs(major) > 1e15 {
		return 0, false
	}
	if exp >= 0 && int(exp) < len(pow10) {
		// Fast path: when major × 10^exp is a whole number that divides
		// back to major exactly, that number is what was written (two
		// decimals of at most exp digits cannot read back as one float
		// below 2^53 minor units).
		p := float64(pow10[exp])
		if v := major * p; v == math.Trunc(v) && math.Abs(v) <= 1<<53 && v/p == major {
			return int64(v), true
		}
	}
	return toMinorDecimal(major, exp)
}

// toMinorDecimal is ToMinor on the shortest decimal form of major.
func toMinorDecimal(major float64, exp int8) (int64, bool) {
	neg := major < 0
	// The shortest decimal that reads back as the same float: what was written.
	s := strconv.FormatFloat(math.Abs(major), 'f', -1, 64)
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	digits := intPart
	for i := 0; i < int(exp); i++ {
		if i < len(frac) {
			digits += frac[i : i+1]
		} else {
			digits += "0"
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	if int(exp) < len(frac) && frac[exp] >= '5' {
		v++
	}
	if v > 1<<53 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// BudgetMinor is a budget of the rules (major units, more than 0) in minor
// units of a currency of exp digits, as decisions count it: rounded half
// up once; one minor unit when that is 0 (the smallest budget there is);
// 2^53 when it is too large to count in minor units (a budget never
// reached). GET /v1/budgets shows the same limit.
func BudgetMinor(budget float64, exp int8) int64 {
	b, ok := ToMinor(budget, exp)
	switch {
	case !ok:
		return 1 << 53
	case b <= 0:
		return 1
	}
	return b
}

// Major returns the amount as a float in major units, for expressions and
// reports; never for sums.
func (m Money) Major() float64 { return float64(m.Minor) / float64(pow10[m.Exp]) }

// String returns the amount with exactly Exp decimals.
func (m Money) String() string { return string(m.AppendText(nil)) }

// AppendText appends the decimal form of m to b.
func (m Money) AppendText(b []byte) []byte {
	v := m.Minor
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	if m.Exp == 0 {
		return strconv.AppendInt(b, v, 10)
	}
	p := pow10[m.Exp]
	b = strconv.AppendInt(b, v/p, 10)
	b = append(b, '.')
	var buf [20]byte // on the stack: the minor digits
	frac := strconv.AppendInt(buf[:0], v%p, 10)
	for i := len(frac); i < int(m.Exp); i++ {
		b = append(b, '0')
	}
	return append(b, frac...)
}

// MarshalJSON writes m as a JSON number with Exp decimals.
func (m Money) MarshalJSON() ([]byte, error) { return m.AppendText(nil), nil }
