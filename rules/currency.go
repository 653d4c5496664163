package rules

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/currency"
)

// The ruleset's currency (SPEC-LOOP "Money in more than one currency"):
//
//	currency: USD                               # the currency of every money number
//	rates: {EUR: 1.08, GBP: 1.27, JPY: 0.0067}  # one unit of each, in USD
//
// at the top level of any rule file, merged across files: the same value
// written twice is fine, two different ones an error naming both places.
// With a currency, a discount's money numbers (amount, max_amount, a
// tier's min_total and amount) may be written per currency, a map that
// includes the ruleset's currency ({USD: 15, EUR: 14, JPY: 2000}); a budget
// is one number, in the ruleset's currency.

// currencyKeyDocs describes the top-level keys of this file, one line each,
// for the JSON Schema of rule files.
var currencyKeyDocs = map[string]string{
	"currency": "the ISO 4217 code of the currency the money numbers and budgets are written in, like USD",
	"rates":    "exchange rates: the value of one unit of each other currency in the ruleset's currency, like {EUR: 1.08, JPY: 0.0067}",
}

// moneyState is what the loader knows of the ruleset's currency while it
// compiles the offers.
type moneyState struct {
	currency string // "" when the rules name none
	rates    map[string]currency.Rate
	// budgets are where budgets are written, for the warning of rules that
	// name no currency.
	budgets []budgetNote
}

type budgetNote struct {
	offer string
	pos   Pos
}

// currencyEntry is one `currency:` or `rates:` of a file.
type currencyEntry struct{ key, val *yaml.Node }

// gatherCurrency records a top-level `currency` or `rates` of one file.
func (l *loader) gatherCurrency(s *sections, name string, k, v *yaml.Node) {
	if name == "currency" {
		s.currency = append(s.currency, currencyEntry{k, v})
	} else {
		s.rates = append(s.rates, currencyEntry{k, v})
	}
}

// codeHint is the hint for an unknown currency code.
func codeHint(code string) string {
	if up := strings.ToUpper(code); up != code && currency.Known(up) {
		return "write it in upper case: `" + up + "`"
	}
	if h := didYouMean(strings.ToUpper(code), currency.Codes(), ""); h != "" {
		return h
	}
	return "write an ISO 4217 code like USD, EUR or JPY"
}

// currencyCode reads a currency code, which must be one Arbiter knows.
func (l *loader) currencyCode(n *yaml.Node, what string) (string, bool) {
	code, ok := l.str(n, what)
	if !ok {
		return "", false
	}
	if !currency.Known(code) {
		l.errf(n, codeHint(code), "%s: unknown currency %q (an ISO 4217 code Arbiter knows)", what, code)
		return "", false
	}
	return code, true
}

// compileCurrency reads the ruleset's currency and rates from every file.
// It runs before the offers are compiled, which read l.money.
func (l *loader) compileCurrency(s *sections) (string, map[string]currency.Rate) {
	var cur string
	var curPos Pos
	for _, e := range s.currency {
		code, ok := l.currencyCode(e.val, "currency")
		if !ok {
			continue
		}
		if cur == "" {
			cur, curPos = code, l.pos(l.deref(e.val))
			continue
		}
		if code != cur {
			l.errf(e.val, "a ruleset has one currency: keep one of them",
				"`currency` is %s here and %s at %s", code, cur, posString(curPos))
		}
	}
	l.money.currency = cur
	if len(s.rates) == 0 {
		return cur, nil
	}
	if cur == "" && len(s.currency) == 0 {
		l.errf(s.rates[0].key, "add `currency: USD`, the currency the rates are in, at the top of a rule file",
			"`rates` need the ruleset's `currency`: a rate is the value of one unit of a currency in it")
	}
	rates := map[string]currency.Rate{}
	where := map[string]Pos{}
	for _, e := range s.rates {
		if isNull(l.deref(e.val)) {
			continue
		}
		es, ok := l.entries(e.val, "rates")
		if !ok {
			continue
		}
		inFile := map[string]bool{}
		for _, re := range es {
			k := l.deref(re.key)
			if k == nil || k.Kind != yaml.ScalarNode {
				l.errf(re.key, "", "rates: a key must be a currency code like EUR")
				continue
			}
			code, ok := l.currencyCode(k, "rates")
			if !ok {
				continue
			}
			if inFile[code] {
				l.errf(k, "remove one of them", "rates: %s appears twice in this mapping", code)
				continue
			}
			inFile[code] = true
			if code == cur {
				l.errf(k, "remove it", "rates: %s is the ruleset's currency: it needs no rate", code)
				continue
			}
			r, ok := l.rate(re.val, "rates."+code)
			if !ok {
				continue
			}
			if prev, seen := rates[code]; seen {
				if prev != r {
					l.errf(re.val, "keep one rate per currency",
						"rates.%s is %s here and %s at %s", code, r, prev, posString(where[code]))
				}
				continue
			}
			rates[code], where[code] = r, l.pos(l.deref(re.val))
		}
	}
	if cur == "" {
		return "", nil
	}
	l.money.rates = rates
	return cur, rates
}

// rate reads an exchange rate exactly, from the number as written.
func (l *loader) rate(n *yaml.Node, what string) (currency.Rate, bool) {
	d := l.deref(n)
	if d == nil || d.Kind != yaml.ScalarNode || (d.Tag != "!!int" && d.Tag != "!!float") {
		l.errf(n, "write a number like 1.08: one unit of this currency in the ruleset's currency", "%s must be a number, got %s", what, describe(d))
		return currency.Rate{}, false
	}
	r, err := currency.ParseRate(d.Value)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), currency.ErrRate.Error()+": ")
		if !errors.Is(err, currency.ErrRate) {
			msg = err.Error()
		}
		l.errf(d, "write a decimal more than 0 like 1.08, with at most 12 decimals and 15 digits", "%s: %s", what, msg)
		return currency.Rate{}, false
	}
	return r, true
}

// isMap reports whether n is a mapping: a money number written per
// currency.
func (l *loader) isMap(n *yaml.Node) bool {
	d := l.deref(n)
	return d != nil && d.Kind == yaml.MappingNode
}

// perCurrency reads a money number written per currency ({USD: 15, EUR:
// 14}). Every value is a constant of at least 0 (more than 0 when
// positive); the map must include the ruleset's currency, whose value it
// returns as the number's single value.
func (l *loader) perCurrency(n *yaml.Node, what string, positive bool) (float64, PerCurrency) {
	d := l.deref(n)
	cur := l.money.currency
	if cur == "" {
		l.errf(d, "add `currency: USD` at the top of a rule file, the currency your money numbers are written in, or write one number",
			"%s is written per currency, but the rules name no `currency`", what)
		return 0, nil
	}
	es, ok := l.entries(d, what)
	if !ok {
		return 0, nil
	}
	m := PerCurrency{}
	for _, e := range es {
		k := l.deref(e.key)
		if k == nil || k.Kind != yaml.ScalarNode {
			l.errf(e.key, "", "%s: a key must be a currency code like EUR", what)
			continue
		}
		code, ok := l.currencyCode(k, what)
		if !ok {
			continue
		}
		if _, dup := m[code]; dup {
			l.errf(k, "remove one of them", "%s: %s appears twice", what, code)
			continue
		}
		v := l.deref(e.val)
		if v == nil || v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
			l.errf(e.val, "write a number; an expression goes without a map, and gives the ruleset's currency",
				"%s.%s must be a number, got %s", what, code, describe(v))
			continue
		}
		f, ok := l.num(v, what+"."+code)
		if !ok {
			continue
		}
		switch {
		case positive && f <= 0:
			l.errf(v, "", "%s.%s must be more than 0, got %s", what, code, v.Value)
		case f < 0:
			l.errf(v, "", "%s.%s must be 0 or more, got %s", what, code, v.Value)
		}
		m[code] = f
	}
	base, ok := m[cur]
	if !ok {
		l.errf(d, "add `"+cur+": <amount>`: the other entries override it, currencies without one are converted with `rates`",
			"%s has no entry for %s, the ruleset's currency", what, cur)
	}
	return base, m
}

// noteBudget records where an offer's budget is written; what names the
// caps ("offer `id`: caps").
func (l *loader) noteBudget(what string, n *yaml.Node) {
	id := what
	if _, rest, ok := strings.Cut(what, "`"); ok {
		id, _, _ = strings.Cut(rest, "`")
	}
	l.money.budgets = append(l.money.budgets, budgetNote{id, l.pos(l.deref(n))})
}

// budgetWarnings warns, once, when the rules have budgets but no currency:
// each budget is then counted per cart currency, and granted again in
// every currency a cart comes in.
func (l *loader) budgetWarnings() Errors {
	if l.money.currency != "" || len(l.money.budgets) == 0 {
		return nil
	}
	bs := append([]budgetNote(nil), l.money.budgets...)
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := bs[i].pos, bs[j].pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	var ids []string
	seen := map[string]bool{}
	for _, b := range bs {
		if !seen[b.offer] {
			seen[b.offer] = true
			ids = append(ids, "`"+b.offer+"`")
		}
	}
	return Errors{{Pos: bs[0].pos,
		Msg: "the rules name no `currency`, so a budget counts each cart currency apart and is granted again in every currency (budgets of " +
			strings.Join(ids, ", ") + ")",
		Hint: "add `currency: USD`, the currency of your money numbers, and `rates` for the other currencies you sell in, at the top of a rule file"}}
}

// tiersAscendPerCurrency checks that a tier's min_total is not below the
// previous tier's in any currency where either writes its own value (the
// other converted with the rate, when there is one): written per currency,
// tiers must still ascend for the carts of every currency. A tie is left
// alone (two dollar thresholds a cent apart are one yen threshold).
func (l *loader) tiersAscendPerCurrency(n *yaml.Node, what string, prev, t Tier) {
	if prev.MinTotalBy == nil && t.MinTotalBy == nil {
		return
	}
	seen := map[string]bool{}
	var codes []string
	for _, m := range []PerCurrency{prev.MinTotalBy, t.MinTotalBy} {
		for code := range m {
			if !seen[code] && code != l.money.currency {
				seen[code] = true
				codes = append(codes, code)
			}
		}
	}
	sort.Strings(codes)
	in := func(tier Tier, code string) (float64, bool) {
		if v, ok := tier.MinTotalBy[code]; ok {
			return v, true
		}
		if r, ok := l.money.rates[code]; ok {
			return tier.MinTotal / r.Float(), true // display precision is enough to see an inversion
		}
		return 0, false
	}
	for _, code := range codes {
		p, ok1 := in(prev, code)
		v, ok2 := in(t, code)
		if ok1 && ok2 && v < p*(1-1e-9) {
			d, _ := currency.Digits(code)
			l.errf(n, "write the tiers from the smallest min_total to the largest, in every currency",
				"%s: min_total in %s (%s) is below the previous tier's (%s): tiers must ascend",
				what, code, strconv.FormatFloat(v, 'f', int(d), 64), strconv.FormatFloat(p, 'f', int(d), 64))
		}
	}
}

// versionCurrency adds the ruleset's currency and rates to the canonical
// form the version hashes; nothing when the rules name no currency, so that
// the versions of such rules stay as they were.
func (l *loader) versionCurrency(b *strings.Builder) {
	rates := l.money.rates
	if l.money.currency == "" {
		return
	}
	b.WriteString("\ncurrency:" + l.money.currency + "\nrates:")
	codes := make([]string, 0, len(rates))
	for c := range rates {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		b.WriteString(c + "=" + rates[c].String() + ",")
	}
}
