package rules

import (
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/currency"
)

const currencyOffers = `
offers:
  - id: fixed
    discount: {amount: {USD: 15, EUR: 14, JPY: 2000}}
    caps: {budget: 500}
  - id: capped
    discount: {percent: 20, max_amount: {USD: 50, EUR: 45}}
  - id: tiers
    discount:
      tiers:
        - {min_total: {USD: 100, EUR: 90}, amount: {USD: 15, EUR: 14}}
        - {min_total: 200, percent: 20}
  - id: plain
    when: cart.total_base >= 50
    discount: {amount: 5}
experiments:
  - id: depth
    variants:
      - {id: control, weight: 50}
      - id: deep
        weight: 50
        offers:
          capped: {discount: {max_amount: {USD: 80}}}
          fixed: {discount: {amount: {USD: 25}}}
`

// The ruleset's currency and rates, merged across files, and the money
// numbers written per currency, in offers and in a variant's override.
func TestCurrencyAndRates(t *testing.T) {
	rs := mustLoad(t, map[string]string{
		"money.yaml":  "currency: USD\nrates: {EUR: 1.08, GBP: 1.27}\n",
		"more.yaml":   "currency: USD\nrates: {EUR: 1.080, JPY: 0.0067}\n", // the same currency and rate again: fine
		"offers.yaml": currencyOffers,
	})
	if rs.Currency != "USD" {
		t.Errorf("currency %q", rs.Currency)
	}
	want := map[string]currency.Rate{"EUR": currency.MustRate("1.08"), "GBP": currency.MustRate("1.27"), "JPY": currency.MustRate("0.0067")}
	if len(rs.Rates) != len(want) {
		t.Errorf("rates %v", rs.Rates)
	}
	for c, r := range want {
		if rs.Rates[c] != r {
			t.Errorf("rate of %s = %v, want %v", c, rs.Rates[c], r)
		}
	}
	if len(rs.Warnings) != 0 {
		t.Errorf("warnings with a currency: %v", rs.Warnings)
	}
	fixed, _ := rs.Offer("fixed")
	if d := fixed.Discount; d.Amount.Value != 15 || d.Amount.Expr != nil || d.AmountBy["EUR"] != 14 || d.AmountBy["JPY"] != 2000 || d.AmountBy["USD"] != 15 {
		t.Errorf("fixed: %+v", d)
	}
	capped, _ := rs.Offer("capped")
	if d := capped.Discount; d.MaxAmount != 50 || d.MaxAmountBy["EUR"] != 45 {
		t.Errorf("capped: %+v", d)
	}
	tiers, _ := rs.Offer("tiers")
	if ts := tiers.Discount.Tiers; ts[0].MinTotal != 100 || ts[0].MinTotalBy["EUR"] != 90 || ts[0].AmountBy["EUR"] != 14 || ts[1].MinTotalBy != nil || !ts[1].IsPercent {
		t.Errorf("tiers: %+v", ts)
	}
	// the variant replaces a money map whole: EUR is converted from 80 USD,
	// not left at the base's 45
	deep := rs.Experiments[0].Variants[1]
	if d := deep.Offers[capped.Index].Discount; d.MaxAmount != 80 || len(d.MaxAmountBy) != 1 {
		t.Errorf("deep capped: %+v", d)
	}
	if d := deep.Offers[fixed.Index].Discount; d.Amount.Value != 25 || len(d.AmountBy) != 1 {
		t.Errorf("deep fixed: %+v", d)
	}
}

// The version changes with the currency and each rate, and not with how a
// rate is written; rules without a currency keep the version they had.
func TestCurrencyVersion(t *testing.T) {
	const offers = "offers:\n  - id: a\n    discount: {amount: 5}\n"
	version := func(head string) string {
		return mustLoad(t, map[string]string{"rules.yaml": head + offers}).Version
	}
	none, usd, eur := version(""), version("currency: USD\n"), version("currency: EUR\n")
	r1, r2, r3 := version("currency: USD\nrates: {EUR: 1.08}\n"), version("currency: USD\nrates: {EUR: 1.0800}\n"), version("currency: USD\nrates: {EUR: 1.09}\n")
	if none == usd || usd == eur || usd == r1 || r1 != r2 || r1 == r3 {
		t.Errorf("versions: none %s usd %s eur %s rates %s %s %s", none, usd, eur, r1, r2, r3)
	}
}

// Without a currency, a budget is counted per cart currency and granted
// again in each: the rules load, with one warning naming every offer with
// a budget (variants included once).
func TestBudgetWithoutCurrencyWarns(t *testing.T) {
	rs := mustLoad(t, map[string]string{
		"b.yaml": "offers:\n  - id: late\n    discount: {amount: 5}\n    caps: {budget: 100}\n",
		"a.yaml": "offers:\n  - id: early\n    discount: {amount: 5}\n    caps: {total: 3, budget: 500}\n  - id: none\n    discount: {amount: 1}\n" +
			"experiments:\n  - id: x\n    variants:\n      - {id: a, weight: 50}\n      - {id: b, weight: 50, offers: {early: {caps: {budget: 900}}}}\n",
	})
	if len(rs.Warnings) != 1 {
		t.Fatalf("warnings: %v", rs.Warnings)
	}
	w := rs.Warnings[0]
	if w.Pos != (Pos{File: "a.yaml", Line: 4, Col: 30}) ||
		!strings.Contains(w.Msg, "granted again in every currency (budgets of `early`, `late`)") || !strings.Contains(w.Hint, "currency: USD") {
		t.Errorf("warning %s", w)
	}
	if rs := mustLoad(t, map[string]string{"r.yaml": "offers:\n  - id: a\n    discount: {amount: 5}\n"}); rs.Warnings != nil {
		t.Errorf("warnings without a budget: %v", rs.Warnings)
	}
}

// The top-level keys of the currency are known to the loader and each has
// the one-line description the JSON Schema of rule files is made from.
func TestCurrencyKeysDocumented(t *testing.T) {
	for _, k := range []string{"currency", "rates"} {
		found := false
		for _, known := range ruleFileKeys {
			found = found || known == k
		}
		if !found || len(currencyKeyDocs[k]) < 20 {
			t.Errorf("key %q: in ruleFileKeys %v, description %q", k, found, currencyKeyDocs[k])
		}
	}
	if len(currencyKeyDocs) != 2 {
		t.Errorf("descriptions of keys that are not the loader's: %v", currencyKeyDocs)
	}
}
