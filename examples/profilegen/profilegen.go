// Package profilegen generates realistic, reproducible customer profiles for
// the example ruleset in examples/checkout: the demo loads them into its
// embedded Redis, and tests use them to exercise every segment.
//
// Profiles are in the JSON form of the spec (an object with "id" and the
// fields of examples/checkout/profile.yaml; times as RFC 3339 strings in
// UTC; a field the customer has no value for is left out). The output
// depends only on the seed, the count and the reference time: no clock and
// no global random source is read, so the same arguments give the same
// customers on every machine.
//
// The mix is what an online shop sees, with enough of every kind to reach
// every segment of the example rules: about 14% new customers without an
// order, 6% RFM champions, active, occasional, at-risk and lapsed customers,
// price-sensitive and full-price buyers, category lovers (shoes above all),
// loyalty club members of every tier, birthdays in the week after the
// reference time and sign-up anniversaries around it.
package profilegen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"
)

// DefaultRef returns the reference time used when Generate is given the zero
// time: 2026-11-18 15:00 UTC, an ordinary Wednesday before Black Friday.
func DefaultRef() time.Time { return time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC) }

// Categories are the shop's product categories, as they appear in
// top_categories and in cart items.
func Categories() []string {
	return []string{"shoes", "apparel", "beauty", "home", "accessories", "outerwear", "sports", "kids"}
}

// Fields lists the keys a generated profile may hold: "id" and the fields of
// the example schema (examples/checkout/profile.yaml).
func Fields() []string {
	return []string{
		"id", "first_name", "country", "birthday", "signed_up_at", "newsletter_opt_in",
		"ltv", "orders", "orders_90d", "avg_order_value", "first_order_at", "last_order_at",
		"top_categories", "discount_share", "churn_risk", "tier", "points",
	}
}

// archetype is a kind of customer, with its share of the population.
type archetype int

const (
	newCustomer archetype = iota // signed up, no order yet
	champion                     // high value, recent, frequent
	active                       // ordered in the last 60 days
	occasional                   // one or two small orders
	atRisk                       // last order 61 to 180 days ago
	lapsed                       // no order for more than 180 days
)

// The tables below are arrays returned by value (constants in all but
// name), so that the package holds no mutable state.

// archetypeShares are cumulative: newCustomer 14%, champion 6%, active
// 25%, occasional 15%, atRisk 18%, lapsed 22%.
func archetypeShares() [6]struct {
	kind archetype
	upTo float64
} {
	return [6]struct {
		kind archetype
		upTo float64
	}{
		{newCustomer, 0.14}, {champion, 0.20}, {active, 0.45}, {occasional, 0.60}, {atRisk, 0.78}, {lapsed, 1.00},
	}
}

func firstNames() [25]string {
	return [25]string{
		"Ada", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena",
		"Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vera", "Wen", "Yusuf", "Zoe",
	}
}

// countryShares are cumulative.
func countryShares() [6]struct {
	code string
	upTo float64
} {
	return [6]struct {
		code string
		upTo float64
	}{
		{"US", 0.70}, {"CA", 0.80}, {"GB", 0.88}, {"DE", 0.93}, {"AU", 0.97}, {"FR", 1.00},
	}
}

// categoryWeights weigh Categories() for top_categories: shoes are the
// shop's biggest line.
func categoryWeights() [8]float64 { return [8]float64{0.26, 0.22, 0.16, 0.10, 0.09, 0.07, 0.06, 0.04} }

const day = 24 * time.Hour

// Generate returns n customers for the given seed, relative to ref (the
// "now" of the data set: recency, birthdays and anniversaries are placed
// around it; the zero time means DefaultRef()). Ids are "c-000001" to
// "c-00000n". Values have the Go types encoding/json decodes to (string,
// float64, bool, []any), so a profile can be given to profiles.FromJSON as
// is, or written as JSON.
func Generate(seed int64, n int, ref time.Time) []map[string]any {
	if n <= 0 {
		return []map[string]any{}
	}
	if ref.IsZero() {
		ref = DefaultRef()
	}
	ref = ref.UTC()
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = generateOne(r, i+1, ref)
	}
	return out
}

// WriteJSONL writes Generate(seed, n, ref) to w, one JSON object per line
// (keys sorted), the format of `arbiter profiles import` and of the demo.
func WriteJSONL(w io.Writer, seed int64, n int, ref time.Time) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i, p := range Generate(seed, n, ref) {
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("profilegen: profile %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("profilegen: write: %w", err)
	}
	return nil
}

func generateOne(r *rand.Rand, seq int, ref time.Time) map[string]any {
	names := firstNames()
	p := map[string]any{
		"id":         fmt.Sprintf("c-%06d", seq),
		"first_name": names[r.IntN(len(names))],
		"country":    pickCountry(r),
	}
	kind := pickArchetype(r)

	// Value and recency.
	var (
		orders, orders90 int
		ltv              float64
		lastAgo          float64 // days since the last order
		churn            float64
	)
	switch kind {
	case newCustomer:
		churn = between(r, 0.3, 0.7)
	case champion:
		orders = 8 + r.IntN(33)
		ltv = between(r, 1500, 6000)
		lastAgo = between(r, 0.2, 30)
		orders90 = 3 + r.IntN(6)
		churn = between(r, 0.02, 0.2)
	case active:
		orders = 2 + r.IntN(11)
		ltv = logUniform(r, 150, 1800)
		lastAgo = between(r, 0.5, 60)
		orders90 = 1 + r.IntN(3)
		churn = between(r, 0.05, 0.45)
		if r.Float64() < 0.12 { // the churn model flags some active customers
			churn = between(r, 0.7, 0.95)
		}
	case occasional:
		orders = 1 + r.IntN(2)
		ltv = between(r, 15, 240)
		lastAgo = between(r, 1, 120)
		churn = between(r, 0.2, 0.6)
	case atRisk:
		orders = 1 + r.IntN(10)
		ltv = logUniform(r, 40, 2500)
		lastAgo = between(r, 61, 180)
		churn = between(r, 0.4, 0.9)
	case lapsed:
		orders = 1 + r.IntN(8)
		ltv = logUniform(r, 25, 2000)
		lastAgo = between(r, 181, 900)
		churn = between(r, 0.6, 0.99)
	}
	if orders > 0 && orders90 == 0 && lastAgo <= 90 {
		orders90 = 1
	}
	orders90 = min(orders90, orders)

	// Dates: sign-up, first and last order.
	var signedUp time.Time
	if orders == 0 {
		signedUp = ago(ref, between(r, 0.1, 60))
	} else {
		last := ago(ref, lastAgo)
		first := last
		if orders > 1 {
			first = last.Add(-time.Duration(between(r, 30, 1500) * float64(day))).Truncate(time.Second)
		}
		signedUp = first.Add(-time.Duration(between(r, 0, 90) * float64(day))).Truncate(time.Second)
		p["first_order_at"] = rfc3339(first)
		p["last_order_at"] = rfc3339(last)
		// 3% of customers who signed up over a year ago have their
		// sign-up anniversary within 3 days of ref.
		if r.Float64() < 0.03 {
			if t, ok := anniversaryBefore(ref, r.IntN(4), first); ok {
				signedUp = t
			}
		}
	}
	p["signed_up_at"] = rfc3339(signedUp)

	// Birthday: 10% unknown; 4% in the week from ref; the rest any day.
	if b := r.Float64(); b >= 0.10 {
		year := 1950 + r.IntN(57)
		var md time.Time
		if b < 0.14 {
			md = ref.AddDate(0, 0, r.IntN(8))
		} else {
			md = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(365))
		}
		p["birthday"] = rfc3339(time.Date(year, md.Month(), md.Day(), 0, 0, 0, 0, time.UTC))
	}
	p["newsletter_opt_in"] = r.Float64() < 0.55

	// Value fields.
	ltv = round2(ltv)
	p["ltv"] = ltv
	p["orders"] = float64(orders)
	p["orders_90d"] = float64(orders90)
	if orders > 0 {
		p["avg_order_value"] = round2(ltv / float64(orders))
	} else {
		p["avg_order_value"] = 0.0
	}

	// Behaviour: categories, price sensitivity, churn.
	p["top_categories"] = pickCategories(r, orders)
	var share float64
	switch d := r.Float64(); {
	case orders == 0:
		share = 0
	case d < 0.30: // waits for deals
		share = between(r, 0.5, 1)
	case d < 0.55: // pays full price
		share = between(r, 0, 0.1)
	default:
		share = between(r, 0.1, 0.5)
	}
	p["discount_share"] = round2(share)
	p["churn_risk"] = round2(churn)

	// Loyalty club.
	tier := pickTier(r, kind, ltv)
	p["tier"] = tier
	points := 0
	if tier != "basic" {
		points = int(ltv*between(r, 0.1, 1.2)) + r.IntN(200)
	}
	p["points"] = float64(points)
	return p
}

func pickArchetype(r *rand.Rand) archetype {
	x := r.Float64()
	for _, s := range archetypeShares() {
		if x < s.upTo {
			return s.kind
		}
	}
	return lapsed
}

func pickCountry(r *rand.Rand) string {
	x := r.Float64()
	for _, c := range countryShares() {
		if x < c.upTo {
			return c.code
		}
	}
	return "US"
}

// pickCategories returns 0 to 3 distinct categories, weighted; customers
// without an order have none.
func pickCategories(r *rand.Rand, orders int) []any {
	out := []any{}
	if orders == 0 {
		return out
	}
	cats := Categories()
	k := 1 + r.IntN(3)
	if orders == 1 {
		k = 1
	}
	weights := categoryWeights()
	var taken [len(weights)]bool
	for len(out) < k {
		x := r.Float64()
		i := 0
		for acc := 0.0; i < len(weights)-1; i++ {
			acc += weights[i]
			if x < acc {
				break
			}
		}
		if taken[i] {
			continue
		}
		taken[i] = true
		out = append(out, cats[i])
	}
	return out
}

// pickTier places big spenders in the upper tiers; new customers are
// rarely members yet.
func pickTier(r *rand.Rand, kind archetype, ltv float64) string {
	x := r.Float64()
	switch {
	case kind == newCustomer:
		if x < 0.1 {
			return "silver"
		}
		return "basic"
	case ltv >= 2000:
		switch {
		case x < 0.15:
			return "basic"
		case x < 0.40:
			return "silver"
		case x < 0.80:
			return "gold"
		}
		return "platinum"
	default:
		switch {
		case x < 0.50:
			return "basic"
		case x < 0.85:
			return "silver"
		case x < 0.97:
			return "gold"
		}
		return "platinum"
	}
}

// anniversaryBefore returns a sign-up time whose anniversary falls daysAhead
// days after ref, at least a year before ref and no later than notAfter.
func anniversaryBefore(ref time.Time, daysAhead int, notAfter time.Time) (time.Time, bool) {
	md := ref.AddDate(0, 0, daysAhead)
	for years := 1; years <= 10; years++ {
		t := time.Date(ref.Year()-years, md.Month(), md.Day(), 10, 0, 0, 0, time.UTC)
		if !t.After(notAfter) && ref.Sub(t) >= 365*day {
			return t, true
		}
	}
	return time.Time{}, false
}

func between(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return math.Exp(between(r, math.Log(lo), math.Log(hi)))
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func ago(ref time.Time, days float64) time.Time {
	return ref.Add(-time.Duration(days * float64(day))).Truncate(time.Second)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
