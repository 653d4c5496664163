package rules

import (
	"math"
	"strings"
)

// The key table: every key a rule file may hold, where, with its value's
// kind, allowed values and a description. It is the one source of truth of
// the rule files' shape: the loader checks each mapping's keys against it
// (unknown keys, did-you-mean, "check the indentation") and Schema
// generates the JSON Schema from it (`arbiter rules schema`).

// valueKind is what a key's value is.
type valueKind int

const (
	vString     valueKind = iota + 1
	vCondition            // an expression that gives true or false
	vNumExpr              // a number, or a number expression in quotes
	vScore                // a number expression
	vItems                // a condition on `item`
	vNumber               // a constant number
	vInteger              // a whole number
	vBool                 // true or false
	vTime                 // an RFC 3339 time
	vDuration             // 30m, 2h, 7d
	vStrings              // a name or a list of names
	vMoney                // a number, or a number per currency {USD: 15, EUR: 14}
	vCurrency             // an ISO 4217 code
	vObject               // a mapping of the keys of Obj
	vList                 // a list of mappings of the keys of Obj
	vNamedMap             // a mapping of names to mappings of the keys of Obj
	vProfile              // the profile schema: field name → type
	vRates                // currency code → rate
	vFreeMap              // any mapping (payload, a test's profile and request)
	vVariantMap           // a rule test's experiments: experiment id → variant id
	vBuckets              // FROM-TO
	vHours                // HH:MM-HH:MM
	vTemplate             // a text with {{placeholders}}
	vAny                  // any value
)

// keyDef is one key of a mapping.
type keyDef struct {
	Name string
	Kind valueKind
	Desc string
	Enum []string // allowed values (for vString, or items of vStrings)
	Obj  *objDef  // for vObject, vList and vNamedMap
	// TestOnly: only in files whose name ends in _test.yaml.
	TestOnly bool
	// Required: the loader refuses the mapping without it.
	Required bool
	// Nullable: the loader takes null (`offers:` with nothing after it) as
	// the key not written, so the JSON Schema allows null too (in a
	// variant's override, null removes what the offer writes).
	Nullable bool
	// Fold: the loader compares the value with Enum in any case (days:
	// [Sat, Sun]), so the JSON Schema does too.
	Fold bool
	// Ident: the loader takes only a plain name (identRE), so the JSON
	// Schema says so too (an id that starts with a digit, or holds a space
	// or a dot, is refused in the editor as by `arbiter rules check`).
	Ident bool
	// Range bounds a number as the loader does (nil: no bound), so that
	// the JSON Schema says it too (an editor flags holdout: 101).
	Range *numRange
	// MinItems: the loader refuses a shorter list (tiers: [] is an error).
	MinItems int
	// Expr: a vMoney key that also takes a number expression in quotes
	// (discount.amount); the loader reads the other money keys as numbers
	// only, so the JSON Schema refuses a text there.
	Expr bool
}

// numRange is the values a number key takes: from Min (more than Min when
// MinExcl) to Max when HasMax.
type numRange struct {
	Min, Max        float64
	MinExcl, HasMax bool
}

func between(lo, hi float64) *numRange { return &numRange{Min: lo, Max: hi, HasMax: true} }
func atLeast(lo float64) *numRange     { return &numRange{Min: lo} }
func moreThan(lo float64) *numRange    { return &numRange{Min: lo, MinExcl: true} }

// objDef is one kind of mapping: its name in messages and its keys, in the
// order the documentation lists them.
type objDef struct {
	Name string // as messages say it: "an offer", "discount"
	Desc string
	Keys []keyDef
}

// names lists the mapping's keys (the loader's allowed keys).
func (o *objDef) names() []string {
	out := make([]string, 0, len(o.Keys))
	for _, k := range o.Keys {
		if k.TestOnly {
			continue
		}
		out = append(out, k.Name)
	}
	return out
}

// key returns the definition of one key.
func (o *objDef) key(name string) (keyDef, bool) {
	for _, k := range o.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return keyDef{}, false
}

// without returns a copy of o without the named keys.
func (o *objDef) without(name string, drop ...string) *objDef {
	out := &objDef{Name: name, Desc: o.Desc}
	for _, k := range o.Keys {
		keep := true
		for _, d := range drop {
			if k.Name == d {
				keep = false
			}
		}
		if keep {
			out.Keys = append(out.Keys, k)
		}
	}
	return out
}

// with returns a copy of o with more keys.
func (o *objDef) with(name string, more ...keyDef) *objDef {
	out := &objDef{Name: name, Desc: o.Desc, Keys: append(append([]keyDef(nil), o.Keys...), more...)}
	return out
}

var (
	fieldDef = &objDef{Name: "profile field", Desc: "A profile field with a type and a default.", Keys: []keyDef{
		{Name: "type", Kind: vString, Enum: typeList, Required: true, Desc: "The field's type."},
		{Name: "default", Kind: vAny, Desc: "The value of a profile without this field (else the zero of its type)."},
		{Name: "description", Kind: vString, Nullable: true, Desc: "What the field holds."},
		{Name: "pii", Kind: vBool, Desc: "Personal data: never leaves Redis (decision events do not record it)."},
	}}
	segmentDef = &objDef{Name: "a segment", Desc: "A named group of customers.", Keys: []keyDef{
		{Name: "id", Kind: vString, Ident: true, Required: true, Desc: "The segment's name, used in `segments:` lists and `\"id\" in segments`."},
		{Name: "description", Kind: vString, Desc: "Who is in it, in words."},
		{Name: "when", Kind: vCondition, Required: true, Desc: "The condition a customer meets to be in the segment, e.g. `profile.ltv >= 1000`."},
	}}
	tierDef = &objDef{Name: "a tier", Desc: "One spend threshold.", Keys: []keyDef{
		{Name: "min_total", Kind: vMoney, Required: true, Range: atLeast(0), Desc: "The cart total from which the tier applies, in major units."},
		{Name: "amount", Kind: vMoney, Range: atLeast(0), Desc: "Money off, in major units (or percent)."},
		{Name: "percent", Kind: vNumber, Range: between(0, 100), Desc: "Percent off, 0 to 100 (or amount)."},
	}}
	bxgyDef = &objDef{Name: "buy_x_get_y", Desc: "Buy X units, get Y of them off.", Keys: []keyDef{
		{Name: "buy", Kind: vInteger, Range: between(1, 1000), Required: true, Desc: "Units to buy, 1 to 1000."},
		{Name: "get", Kind: vInteger, Range: between(1, 1000), Required: true, Desc: "Units that come off, 1 to 1000."},
		{Name: "percent", Kind: vNumber, Range: &numRange{Min: 0, MinExcl: true, Max: 100, HasMax: true}, Desc: "Percent off the free units (default 100: free)."},
	}}
	discountDef = &objDef{Name: "discount", Desc: "Exactly one of percent, amount, tiers, buy_x_get_y, free_shipping.", Keys: []keyDef{
		{Name: "percent", Kind: vNumExpr, Range: between(0, 100), Desc: "Percent off, 0 to 100 (a number without %, or a number expression in quotes)."},
		{Name: "max_amount", Kind: vMoney, Nullable: true, Range: moreThan(0), Desc: "With percent: the most money off, in major units (null: no maximum)."},
		{Name: "amount", Kind: vMoney, Range: atLeast(0), Expr: true, Desc: "Money off in major units (a number, a number per currency, or a number expression in quotes)."},
		{Name: "tiers", Kind: vList, Obj: tierDef, MinItems: 1, Desc: "Spend thresholds, ascending by min_total."},
		{Name: "buy_x_get_y", Kind: vObject, Obj: bxgyDef, Desc: "Buy X, get Y off."},
		{Name: "free_shipping", Kind: vBool, Desc: "Free shipping."},
		{Name: "items", Kind: vItems, Desc: "Which cart items the discount applies to, a condition on `item`, e.g. `item.category == \"shoes\"`."},
	}}
	scheduleDef = &objDef{Name: "schedule", Desc: "When the offer is active.", Keys: []keyDef{
		{Name: "start", Kind: vTime, Desc: "From (inclusive), an RFC 3339 time like 2026-11-27T00:00:00-05:00."},
		{Name: "end", Kind: vTime, Desc: "Until (exclusive), an RFC 3339 time."},
		{Name: "days", Kind: vStrings, Enum: dayNames, Fold: true, Desc: "Days of the week, in the timezone."},
		{Name: "hours", Kind: vHours, Desc: "Hours of the day, \"HH:MM-HH:MM\" (both ends inclusive), in the timezone."},
		{Name: "timezone", Kind: vString, Desc: "The IANA time zone of days and hours, like Europe/Paris (default UTC)."},
	}}
	perCustomerDef = &objDef{Name: "per_customer", Desc: "Grants per customer.", Keys: []keyDef{
		{Name: "limit", Kind: vInteger, Required: true, Range: between(1, math.MaxInt32), Desc: "Grants per customer in the window, 1 or more."},
		{Name: "per", Kind: vDuration, Desc: "The window, like 24h or 30d (default: for ever)."},
	}}
	capsDef = &objDef{Name: "caps", Desc: "Limits on grants of the offer.", Keys: []keyDef{
		{Name: "per_customer", Kind: vObject, Obj: perCustomerDef, Desc: "Grants per customer."},
		{Name: "total", Kind: vInteger, Range: atLeast(1), Desc: "Grants fleet-wide."},
		{Name: "budget", Kind: vNumber, Range: moreThan(0), Desc: "Discount money fleet-wide, in major units of the ruleset's currency."},
		{Name: "hold", Kind: vDuration, Desc: "A grant holds its count and amount until an outcome commits it or this passes, like 30m."},
		{Name: "pacing", Kind: vString, Enum: []string{PacingEven}, Desc: "Spread total and budget evenly over the schedule."},
	}}
	offerDef = &objDef{Name: "an offer", Desc: "A next best action, with or without a discount.", Keys: []keyDef{
		{Name: "id", Kind: vString, Ident: true, Required: true, Desc: "The offer's id (letters, digits and _), as responses name it."},
		{Name: "description", Kind: vString, Nullable: true, Desc: "What the offer is for."},
		{Name: "title", Kind: vTemplate, Desc: "The title shown to the customer; may use {{percent}}, {{amount}}, {{currency}}, {{profile.FIELD}}."},
		{Name: "message", Kind: vTemplate, Desc: "The message shown to the customer; same placeholders as title."},
		{Name: "kind", Kind: vString, Enum: []string{KindDiscount, KindAction}, Desc: "discount (default with a discount) or action."},
		{Name: "placements", Kind: vStrings, Desc: "Where it may be shown (default: everywhere)."},
		{Name: "segments", Kind: vStrings, Desc: "Offered to customers in any of these segments (default: everyone)."},
		{Name: "exclude_segments", Kind: vStrings, Desc: "Never offered to customers in any of these segments."},
		{Name: "when", Kind: vCondition, Desc: "A condition the decision must meet, e.g. `cart.total >= 50`."},
		{Name: "discount", Kind: vObject, Obj: discountDef, Desc: "The discount."},
		{Name: "priority", Kind: vNumber, Desc: "The score when there is no score expression; higher wins."},
		{Name: "score", Kind: vScore, Desc: "A number expression that ranks the offer; higher wins."},
		{Name: "group", Kind: vString, Desc: "At most one offer of a group is chosen."},
		{Name: "schedule", Kind: vObject, Obj: scheduleDef, Desc: "When the offer is active."},
		{Name: "caps", Kind: vObject, Obj: capsDef, Desc: "Limits on grants."},
		{Name: "payload", Kind: vFreeMap, Desc: "Any data returned with the action, for the front end."},
	}}
	overrideDef = offerDef.without("an override", "id").with("an override",
		keyDef{Name: "disabled", Kind: vBool, Desc: "The offer is not offered in this variant."})
	// offerOverriddenDef: an offer merged with a variant's override.
	offerOverriddenDef = offerDef.with("an offer", keyDef{Name: "disabled", Kind: vBool, Desc: "The offer is not offered in this variant."})
	variantDef         = &objDef{Name: "a variant", Desc: "One arm of the experiment.", Keys: []keyDef{
		{Name: "id", Kind: vString, Ident: true, Required: true, Desc: "The variant's id, like control."},
		{Name: "description", Kind: vString, Nullable: true, Desc: "What the variant changes."},
		{Name: "weight", Kind: vNumber, Required: true, Range: atLeast(0), Desc: "Share of enrolled customers; the variants' weights add up to 100."},
		{Name: "offers", Kind: vNamedMap, Obj: overrideDef, Nullable: true, Desc: "Offer id → the keys this variant changes (or disabled: true)."},
		{Name: "learning", Kind: vBool, Desc: "false: this variant's customers are decided with propensity at the prior mean (learning measured against static scores)"},
	}}
	experimentDef = &objDef{Name: "an experiment", Desc: "An A/B test over offers.", Keys: []keyDef{
		{Name: "id", Kind: vString, Ident: true, Required: true, Desc: "The experiment's id."},
		{Name: "description", Kind: vString, Nullable: true, Desc: "The hypothesis."},
		{Name: "salt", Kind: vString, Desc: "Salt of the assignment hash (default: the id)."},
		{Name: "traffic", Kind: vNumber, Range: between(0, 100), Desc: "Percent of eligible customers enrolled, 0 to 100 (default 100)."},
		{Name: "when", Kind: vCondition, Desc: "Who is eligible (default: every identified customer)."},
		{Name: "variants", Kind: vList, Obj: variantDef, Required: true, MinItems: 1, Desc: "The arms."},
		{Name: "layer", Kind: vString, Ident: true, Desc: "Experiments of one layer never share a customer."},
		{Name: "buckets", Kind: vBuckets, Desc: "The layer's buckets this experiment uses, FROM-TO within 0-9999."},
		{Name: "status", Kind: vString, Enum: []string{"running", ExperimentStopped}, Desc: "stopped: keeps its buckets and enrolls no one."},
	}}
	priorDef = &objDef{Name: "prior", Desc: "the Beta prior {alpha, beta} of every offer's reward rate (default {alpha: 1, beta: 1})", Keys: []keyDef{
		{Name: "alpha", Kind: vNumber, Range: &numRange{Min: 0, MinExcl: true, Max: MaxPrior, HasMax: true}, Desc: "prior successes plus one: more than 0"},
		{Name: "beta", Kind: vNumber, Range: &numRange{Min: 0, MinExcl: true, Max: MaxPrior, HasMax: true}, Desc: "prior failures plus one: more than 0"},
	}}
	learningDef = &objDef{Name: "learning", Desc: "learning arbitration: scores may read `propensity`, each offer's reward rate learnt from outcomes", Keys: []keyDef{
		{Name: "method", Kind: vString, Enum: []string{LearnThompson, LearnMean}, Desc: "thompson (one draw from each offer's posterior per decision, seeded by the decision id) or mean (the posterior mean)"},
		{Name: "reward", Kind: vString, Enum: []string{RewardConverted, RewardAccepted}, Desc: "the outcome type that counts as a success: converted (default) or accepted"},
		{Name: "by", Kind: vStrings, Desc: "segments that make cells: statistics are kept per offer and the first of these segments matched, else \"all\""},
		{Name: "prior", Kind: vObject, Obj: priorDef, Desc: "the Beta prior {alpha, beta} of every offer's reward rate (default {alpha: 1, beta: 1})"},
		{Name: "refresh", Kind: vDuration, Desc: "how often a replica reloads the statistics (default 10s; 1s to 1h)"},
		{Name: "half_life", Kind: vDuration, Desc: "optional: trials and successes lose half their weight every half-life (e.g. 14d), so that a change of season is learnt"},
	}}
	arbitrationDef = &objDef{Name: "arbitration", Desc: "How the eligible offers are chosen.", Keys: []keyDef{
		{Name: "max_actions", Kind: vInteger, Range: between(1, 100), Desc: "Actions per decision, 1 to 100 (default 3)."},
		{Name: "max_discount_percent", Kind: vNumber, Range: between(0, 100), Desc: "The most a decision's discounts may take off the cart, 0 to 100."},
		{Name: "holdout", Kind: vNumber, Range: between(0, 100), Desc: "Percent of identified customers who get no offer (a control group)."},
		{Name: "fallback", Kind: vStrings, Desc: "Offers given when nothing else is."},
		{Name: "learning", Kind: vObject, Obj: learningDef, Nullable: true, Desc: "learning arbitration: scores may read `propensity`, each offer's reward rate learnt from outcomes"},
	}}
	expectDef = &objDef{Name: "expect", Desc: "What the test checks.", Keys: []keyDef{
		{Name: "segments", Kind: vStrings, Desc: "These segments must match (others may too)."},
		{Name: "not_segments", Kind: vStrings, Desc: "These segments must not match."},
		{Name: "actions", Kind: vStrings, Desc: "Exactly these offers, in this order ([] for none)."},
		{Name: "discount_total", Kind: vNumber, Desc: "The sum of the actions' discount amounts, in major units."},
		{Name: "experiments", Kind: vVariantMap, Desc: "Experiment id → the variant the customer is in."},
		{Name: "holdout", Kind: vBool, Desc: "Whether the customer is held out."},
	}}
	testDef = &objDef{Name: "a rule test", Desc: "One rule test.", Keys: []keyDef{
		{Name: "name", Kind: vString, Required: true, Desc: "What the case shows."},
		{Name: "now", Kind: vTime, Desc: "The decision's time, RFC 3339 (default: the request's now, else the file's now:, else 2026-01-01T00:00:00Z)."},
		{Name: "profile", Kind: vFreeMap, Desc: "The customer's profile (id and schema fields); leave out for an anonymous visitor."},
		{Name: "request", Kind: vFreeMap, Desc: "A /v1/decide body (placement, cart, context)."},
		{Name: "expect", Kind: vObject, Obj: expectDef, Required: true, Desc: "What the decision must show."},
	}}
	ruleFileDef = &objDef{Name: "a rule file", Desc: "One Arbiter rule file. Files whose name ends in _test.yaml hold only `tests:`.", Keys: []keyDef{
		{Name: "profile", Kind: vProfile, Desc: "The profile schema: field name → type (string, int, number, bool, time, [string], [number]) or {type, default, description, pii}."},
		{Name: "segments", Kind: vList, Obj: segmentDef, Nullable: true, Desc: "Named groups of customers."},
		{Name: "offers", Kind: vList, Obj: offerDef, Nullable: true, Desc: "Next best actions, with or without a discount."},
		{Name: "experiments", Kind: vList, Obj: experimentDef, Nullable: true, Desc: "A/B tests over offers."},
		{Name: "arbitration", Kind: vObject, Obj: arbitrationDef, Nullable: true, Desc: "How the eligible offers are chosen."},
		{Name: "currency", Kind: vCurrency, Desc: "The ISO 4217 currency the rules' money numbers are written in, like USD."},
		{Name: "rates", Kind: vRates, Range: moreThan(0), Desc: "Exchange rates: currency code → the value of one unit in `currency`."},
		{Name: "tests", Kind: vList, Obj: testDef, TestOnly: true, Desc: "Rule tests (only in files whose name ends in _test.yaml, and alone there)."},
	}}
	testFileDef = &objDef{Name: "a _test.yaml file (it holds only `tests:` and `now:`)", Keys: []keyDef{
		{Name: "now", Kind: vTime, Desc: "The decision time of the file's cases that set none (RFC 3339)."},
		{Name: "tests", Kind: vList, Obj: testDef, Nullable: true, Desc: "Rule tests."},
	}}
)

// allObjDefs lists every mapping kind of the table, for the searches of
// misplaced keys.
func allObjDefs() []*objDef {
	var out []*objDef
	seen := map[*objDef]bool{}
	var walk func(o *objDef)
	walk = func(o *objDef) {
		if o == nil || seen[o] {
			return
		}
		seen[o] = true
		out = append(out, o)
		for _, k := range o.Keys {
			walk(k.Obj)
		}
	}
	walk(ruleFileDef)
	walk(fieldDef)
	return out
}

// parentsOf lists the mappings whose key holds o, with that key.
func parentsOf(o *objDef) []struct {
	obj *objDef
	key string
} {
	var out []struct {
		obj *objDef
		key string
	}
	for _, p := range allObjDefs() {
		for _, k := range p.Keys {
			if k.Obj == o {
				out = append(out, struct {
					obj *objDef
					key string
				}{p, k.Name})
			}
		}
	}
	return out
}

// misplacedHint says where a key unknown in o belongs when it is a key of a
// mapping one level below or above: "check the indentation: `max_amount`
// belongs under `discount`". prev is the key written just before it in the
// same mapping ("" if none), which wins when several children hold it.
func misplacedHint(o *objDef, name, prev string) string {
	if o == nil {
		return ""
	}
	var under []string
	for _, k := range o.Keys {
		if k.Obj == nil {
			continue
		}
		if _, ok := k.Obj.key(name); ok {
			if k.Name == prev {
				under = []string{k.Name}
				break
			}
			under = append(under, k.Name)
		}
	}
	if len(under) > 0 {
		where := make([]string, len(under))
		for i, u := range under {
			where[i] = "`" + u + "`"
			if k, _ := o.key(u); k.Kind == vList {
				where[i] = "an item of `" + u + "`"
			}
		}
		return "check the indentation: `" + name + "` belongs under " + joinOr(where) + ", indented below it"
	}
	for _, p := range parentsOf(o) {
		if _, ok := p.obj.key(name); ok {
			return "check the indentation: `" + name + "` belongs beside `" + p.key + "`, one level up (less indented), not under it"
		}
	}
	return ""
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
