package engine

import (
	"github.com/arbiterhq/arbiter/currency"
	"github.com/arbiterhq/arbiter/rules"
)

// Money across currencies (SPEC-LOOP "Money in more than one currency").
// With a ruleset currency, the money numbers of the rules are in it (or
// written per currency); a decision converts them to the cart's currency,
// half up to its minor unit, and converts what a grant counts against a
// budget back into the ruleset's currency, rounded up. Without one, money
// numbers are in the cart's currency and nothing is converted.

// moneyConv converts the money numbers of one ruleset for one cart.
type moneyConv struct {
	cart    string // the cart's currency ("" without a cart)
	cartExp int8
	base    string // the ruleset's currency; "" when the rules name none
	baseExp int8
	rate    currency.Rate // the cart's currency's rate, when it has one
}

// newMoneyConv is the conversion of rs's money numbers for a cart in cur,
// whose minor digits are exp.
func newMoneyConv(rs *rules.Ruleset, cur string, exp int8) moneyConv {
	m := moneyConv{cart: cur, cartExp: exp, baseExp: exp}
	if rs == nil || rs.Currency == "" {
		return m
	}
	m.base = rs.Currency
	if e, ok := currency.Digits(m.base); ok {
		m.baseExp = e
	}
	if cur != m.base {
		m.rate = rs.Rates[cur]
	}
	return m
}

// same reports whether money needs no conversion: the rules name no
// currency, the cart is in it, or there is no cart (and no money).
func (m *moneyConv) same() bool { return m.base == "" || m.cart == m.base || m.cart == "" }

// toBase reports whether an amount of the cart can be counted in the
// ruleset's currency.
func (m *moneyConv) toBase() bool { return m.same() || !m.rate.IsZero() }

// can reports whether a money number of the rules, with per-currency
// values by (or nil), has a value in the cart's currency: no conversion is
// needed, the cart's currency has an entry, or it has a rate.
func (m *moneyConv) can(by rules.PerCurrency) bool {
	if m.same() || !m.rate.IsZero() {
		return true
	}
	_, ok := by[m.cart]
	return ok
}

// minor returns a money number of the rules (v, with per-currency values
// by) in minor units of the cart's currency: the cart's entry when written,
// else v converted with the cart's rate and rounded half up. v is in major
// units of the ruleset's currency (of the cart's without one), rounded half
// up to its minor unit first. ok is false when it is NaN, out of range, or
// cannot be converted (see can).
func (m *moneyConv) minor(v float64, by rules.PerCurrency) (int64, bool) {
	if m == nil || m.same() {
		return ToMinor(v, m.exp())
	}
	if x, ok := by[m.cart]; ok {
		return ToMinor(x, m.cartExp)
	}
	if m.rate.IsZero() || !(v >= 0) {
		return 0, false
	}
	b, ok := ToMinor(v, m.baseExp)
	if !ok {
		return 0, false
	}
	return m.rate.FromBase(b, m.baseExp, m.cartExp)
}

func (m *moneyConv) exp() int8 {
	if m == nil {
		return 2
	}
	return m.cartExp
}

// spend returns what a grant of amount (minor units of the cart's
// currency) counts against a budget, in minor units of the budget's
// currency: the amount itself without a conversion, else converted into
// the ruleset's currency and rounded up, so that a budget never counts
// less than was granted. ok is false when the cart's currency has no rate.
func (m *moneyConv) spend(amount int64) (int64, bool) {
	if m.same() || amount == 0 {
		return amount, true
	}
	return m.rate.ToBase(amount, m.cartExp, m.baseExp, currency.Up)
}

// budgetCurrency is the currency budgets are counted in: the ruleset's,
// else the cart's.
func (m *moneyConv) budgetCurrency() string {
	if m.base != "" {
		return m.base
	}
	return m.cart
}

// budgetExp is the number of minor digits of budgetCurrency.
func (m *moneyConv) budgetExp() int8 { return m.baseExp }

// totalBase returns the cart total (minor units of the cart's currency) in
// major units of the ruleset's currency, rounded half up to its minor unit,
// for cart.total_base; ok is false when the cart's currency has no rate or
// the rules name no currency.
func (m *moneyConv) totalBase(total int64) (float64, bool) {
	switch {
	case m.base == "":
		return 0, false
	case m.cart == m.base || m.cart == "":
		return Money{Minor: total, Exp: m.cartExp}.Major(), true
	case m.rate.IsZero():
		return 0, false
	}
	b, ok := m.rate.ToBase(total, m.cartExp, m.baseExp, currency.HalfUp)
	if !ok {
		return 0, false
	}
	return Money{Minor: b, Exp: m.baseExp}.Major(), true
}

// moneyNeeds reports whether the offer's discount needs money numbers in
// the cart's currency that it cannot have (no entry for the cart's
// currency, no rate), and names the first such number for explain.
func (m *moneyConv) moneyNeeds(d *rules.Discount) (string, bool) {
	if m.same() || !m.rate.IsZero() || d == nil {
		return "", true
	}
	switch d.Type {
	case rules.DiscountAmount:
		if d.Amount.Expr != nil || !m.can(d.AmountBy) {
			return "amount", false
		}
	case rules.DiscountPercent:
		if d.MaxAmount > 0 && !m.can(d.MaxAmountBy) {
			return "max_amount", false
		}
	case rules.DiscountTiers:
		for i := range d.Tiers {
			t := &d.Tiers[i]
			if !m.can(t.MinTotalBy) {
				return "tiers' min_total", false
			}
			if !t.IsPercent && !m.can(t.AmountBy) {
				return "tiers' amount", false
			}
		}
	}
	return "", true
}

// noRateDetail is the explain detail of an offer left out for want of a
// rate: what names the money number that has no value in the cart's
// currency.
func (m *moneyConv) noRateDetail(what string) string {
	return "the rules have no rate for " + m.cart + " and no " + what + " in " + m.cart + ": add " + m.cart + " to `rates`"
}
