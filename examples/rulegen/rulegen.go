// Package rulegen writes generated rule files of a large playbook over the
// example shop's profile schema (examples/checkout/profile.yaml): N offers
// with about one segment per two offers, for measuring how a decision's
// cost grows with the playbook (engine's BenchmarkDecideScale). The
// segments are what marketers write: equality on profile and context fields
// (tier, country, channel), numeric thresholds (orders, lifetime value,
// recency), segments built on other segments (`"x" in segments`), cart
// conditions; the offers name placements (checkout, cart, product, or all),
// segments and excluded segments, `when` conditions, percent and amount
// discounts (some computed, some on matching items), scores, groups and
// schedules (running, ended or not started at the reference time). The
// same seed gives the same files. It does no I/O: it returns the files'
// contents, which rules.Compile compiles.
//
// A playbook grows the way a shop's does: by targeted campaigns. The first
// Evergreen offers are the standing ones, open to everyone or to one of
// the first BroadSegments segments (broad ones: a tier, a channel, a
// threshold; each holds a fifth to a half of the customers); every offer
// after them is a campaign for one or two audiences (segments after the
// broad ones: a country, tier or channel narrowed by one or two more
// conditions, a few percent of the customers each), most of them
// scheduled, and most of those ended or not started. So a playbook of 50
// offers is nearly all standing offers, and one of 1,000 is 40 standing
// offers and 960 campaigns: a customer at one placement is eligible for a
// few more offers, not twenty times as many.
package rulegen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// File is one generated rule file: its path relative to the rules
// directory and its content (rules.File's fields).
type File struct {
	Path string
	Data []byte
}

// ProfileSchema is the profile section of every generated ruleset: the
// fields of examples/checkout/profile.yaml, so that the example's customers
// (examples/profilegen) can be decided under it.
const ProfileSchema = `profile:
  first_name: string
  country: string
  birthday: time
  signed_up_at: time
  newsletter_opt_in: bool
  ltv: number
  orders: int
  orders_90d: int
  avg_order_value: number
  first_order_at: time
  last_order_at: time
  top_categories: "[string]"
  discount_share: number
  churn_risk: number
  tier: {type: string, default: basic}
  points: int
`

// Values the generated conditions compare with: those of the example's
// customers (examples/profilegen) and of bench/loadgen's requests.
var (
	tiers      = []string{"basic", "silver", "gold", "platinum"}
	countries  = []string{"US", "CA", "GB", "DE", "AU", "FR"}
	channels   = []string{"web", "app", "mobile_web"}
	categories = []string{"shoes", "apparel", "beauty", "home", "accessories", "outerwear", "sports", "kids"}
	placements = []string{"checkout", "cart", "product"}
	devices    = []string{"mobile", "desktop", "tablet"}
	utms       = []string{"newsletter", "google", "instagram", "affiliate"}
)

// SegmentsFor is the number of segments generated with n offers: one per
// two offers, at least 4.
func SegmentsFor(offers int) int { return max(4, offers/2) }

// Evergreen is the number of standing offers (the rest are campaigns), and
// BroadSegments the number of broad segments (the rest are audiences).
const (
	Evergreen     = 40
	BroadSegments = 25
)

// Generate returns the rule files of a playbook of offers offers (at least
// 1) and SegmentsFor(offers) segments, drawn from seed; schedules are placed
// around ref (ended before it, starting after it, or running across it).
// The files are profile.yaml (ProfileSchema), money.yaml, arbitration.yaml,
// experiments.yaml, segments.yaml and offers.yaml.
func Generate(seed int64, offers int, ref time.Time) []File {
	offers = max(offers, 1)
	g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x5eed_0f_0ffe75)), ref: ref.UTC()}
	nSeg := SegmentsFor(offers)
	var seg strings.Builder
	seg.WriteString("segments:\n")
	for i := range nSeg {
		g.segment(&seg, i)
	}
	var off strings.Builder
	off.WriteString("offers:\n")
	for i := range offers {
		g.offer(&off, i, nSeg)
	}
	arb := "arbitration:\n  max_actions: 3\n  max_discount_percent: 30\n  holdout: 5\n  fallback: [" + offerID(0) + "]\n"
	money := "currency: USD\nrates:\n  EUR: 1.08\n  GBP: 1.27\n  CAD: 0.73\n"
	return []File{
		{Path: "arbitration.yaml", Data: []byte(arb)},
		{Path: "experiments.yaml", Data: []byte(g.experiments(offers, nSeg))},
		{Path: "money.yaml", Data: []byte(money)},
		{Path: "offers.yaml", Data: []byte(off.String())},
		{Path: "profile.yaml", Data: []byte(ProfileSchema)},
		{Path: "segments.yaml", Data: []byte(seg.String())},
	}
}

type gen struct {
	r   *rand.Rand
	ref time.Time
}

func segmentID(i int) string { return fmt.Sprintf("seg_%04d", i) }
func offerID(i int) string   { return fmt.Sprintf("offer_%04d", i) }

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

// quote writes s as a single-quoted YAML scalar.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// equality is a condition on one profile or context field with constants.
func (g *gen) equality() string {
	switch g.r.IntN(6) {
	case 0:
		return fmt.Sprintf(`profile.tier == %q`, g.pick(tiers[1:]))
	case 1:
		a, b := g.pick(tiers[1:]), g.pick(tiers[1:])
		if a == b {
			return fmt.Sprintf(`profile.tier == %q`, a)
		}
		return fmt.Sprintf(`profile.tier in [%q, %q]`, a, b)
	case 2:
		return fmt.Sprintf(`profile.country == %q`, g.pick(countries))
	case 3:
		return fmt.Sprintf(`ctx.channel == %q`, g.pick(channels))
	case 4:
		return fmt.Sprintf(`ctx.device == %q`, g.pick(devices))
	default:
		return fmt.Sprintf(`ctx.utm_source == %q`, g.pick(utms))
	}
}

// threshold is a numeric condition on the profile.
func (g *gen) threshold() string {
	switch g.r.IntN(7) {
	case 0:
		return fmt.Sprintf("profile.orders >= %d", 1+g.r.IntN(12))
	case 1:
		return fmt.Sprintf("profile.ltv >= %d", 100*(1+g.r.IntN(30)))
	case 2:
		return fmt.Sprintf("profile.orders > 0 && daysSince(profile.last_order_at) <= %d", 15*(1+g.r.IntN(12)))
	case 3:
		return fmt.Sprintf("profile.churn_risk >= %.1f", 0.3+0.1*float64(g.r.IntN(6)))
	case 4:
		return fmt.Sprintf("profile.avg_order_value >= %d", 25*(1+g.r.IntN(8)))
	case 5:
		return fmt.Sprintf("profile.points >= %d", 250*(1+g.r.IntN(8)))
	default:
		return fmt.Sprintf("profile.orders >= 2 && profile.discount_share >= %.1f", 0.2+0.1*float64(g.r.IntN(6)))
	}
}

// cartCond is a condition on the cart in front of the customer.
func (g *gen) cartCond() string {
	switch g.r.IntN(4) {
	case 0:
		return fmt.Sprintf("cart.total >= %d", 25*(1+g.r.IntN(12)))
	case 1:
		return fmt.Sprintf("cart.item_count >= %d", 2+g.r.IntN(4))
	case 2:
		return fmt.Sprintf("cart.total_base >= %d", 50*(1+g.r.IntN(6)))
	default:
		return fmt.Sprintf(`any(cart.items, .category == %q)`, g.pick(categories))
	}
}

// segment writes segment i, which may use the segments before it: a
// broad one, or an audience.
func (g *gen) segment(b *strings.Builder, i int) {
	if i >= BroadSegments {
		g.audience(b, i)
		return
	}
	var when string
	u := g.r.IntN(100)
	switch {
	case u < 30: // a field equal to a constant, sometimes narrowed by a threshold
		when = g.equality()
		if g.r.IntN(2) == 0 {
			when += " && " + g.threshold()
		}
	case u < 55:
		when = g.threshold()
	case u < 65:
		when = fmt.Sprintf(`%q in profile.top_categories`, g.pick(categories))
	case u < 80 && i >= 4: // built on earlier segments
		a := segmentID(g.r.IntN(i))
		switch g.r.IntN(3) {
		case 0:
			when = fmt.Sprintf(`%q in segments && %s`, a, g.threshold())
		case 1:
			when = fmt.Sprintf(`%q in segments && %s`, a, g.cartCond())
		default:
			c := segmentID(g.r.IntN(i))
			when = fmt.Sprintf(`%q in segments || %q in segments`, a, c)
		}
	case u < 92:
		when = g.cartCond()
	default:
		when = fmt.Sprintf(`%s && %s`, g.equality(), g.cartCond())
	}
	fmt.Fprintf(b, "  - id: %s\n    description: generated segment %d\n    when: %s\n", segmentID(i), i, quote(when))
}

// audience writes segment i, a narrow audience: mostly a country, tier,
// channel or device narrowed by one or two more conditions (another field,
// a threshold, a category, an earlier segment, the cart), else a category
// with a threshold and recency.
func (g *gen) audience(b *strings.Builder, i int) {
	var atoms []string
	if g.r.IntN(100) < 80 {
		atoms = append(atoms, g.equality())
	} else {
		atoms = append(atoms, fmt.Sprintf(`%q in profile.top_categories`, g.pick(categories)))
		atoms = append(atoms, fmt.Sprintf("profile.orders > 0 && daysSince(profile.last_order_at) <= %d", 30*(1+g.r.IntN(6))))
	}
	for range 1 + g.r.IntN(2) {
		switch g.r.IntN(5) {
		case 0:
			atoms = append(atoms, g.equality())
		case 1:
			atoms = append(atoms, g.threshold())
		case 2:
			atoms = append(atoms, fmt.Sprintf(`%q in profile.top_categories`, g.pick(categories)))
		case 3:
			atoms = append(atoms, fmt.Sprintf(`%q in segments`, segmentID(g.r.IntN(i))))
		default:
			atoms = append(atoms, g.cartCond())
		}
	}
	fmt.Fprintf(b, "  - id: %s\n    description: generated audience %d\n    when: %s\n", segmentID(i), i, quote(strings.Join(atoms, " && ")))
}

// segmentFor picks the segment an offer targets: for a standing offer one
// of the broad segments, for a campaign one of the audiences (any segment
// when there are none).
func (g *gen) segmentFor(campaign bool, nSeg int) string {
	broad := min(nSeg, BroadSegments)
	if campaign && nSeg > broad {
		return segmentID(broad + g.r.IntN(nSeg-broad))
	}
	return segmentID(g.r.IntN(broad))
}

// offer writes offer i.
func (g *gen) offer(b *strings.Builder, i, nSeg int) {
	campaign := i >= Evergreen
	id := offerID(i)
	fmt.Fprintf(b, "  - id: %s\n", id)
	if i == 0 { // the fallback: an action for everyone
		b.WriteString("    title: Join the newsletter\n    kind: action\n    priority: 1\n    payload: {cta: /newsletter}\n")
		return
	}
	discount := g.r.IntN(10) < 7
	dtype := g.r.IntN(100) // < 45 percent, < 60 a computed percent, else an amount
	if discount {
		title := fmt.Sprintf("Offer %d - {{percent}}%% off", i)
		if dtype >= 60 {
			title = fmt.Sprintf("Offer %d - {{amount}} off", i)
		}
		fmt.Fprintf(b, "    title: %s\n    message: %s\n    kind: discount\n", quote(title), quote("You save {{amount}} {{currency}}"))
	} else {
		fmt.Fprintf(b, "    title: %s\n    kind: action\n", quote(fmt.Sprintf("Action %d for {{profile.first_name}}", i)))
	}
	switch u := g.r.IntN(100); {
	case u < 30:
		b.WriteString("    placements: [checkout]\n")
	case u < 50:
		b.WriteString("    placements: [cart]\n")
	case u < 65:
		b.WriteString("    placements: [product]\n")
	case u < 80:
		b.WriteString("    placements: [checkout, cart]\n")
	}
	if campaign || g.r.IntN(100) < 60 {
		n := 1 + g.r.IntN(2)
		ids := make([]string, 0, n)
		for range n {
			ids = append(ids, g.segmentFor(campaign, nSeg))
		}
		if n == 2 && ids[0] == ids[1] {
			ids = ids[:1]
		}
		fmt.Fprintf(b, "    segments: [%s]\n", strings.Join(ids, ", "))
	}
	if g.r.IntN(100) < 10 {
		fmt.Fprintf(b, "    exclude_segments: [%s]\n", g.segmentFor(false, nSeg))
	}
	if g.r.IntN(100) < 50 {
		when := g.cartCond()
		if g.r.IntN(4) == 0 {
			when = g.equality() + " && " + when
		}
		fmt.Fprintf(b, "    when: %s\n", quote(when))
	}
	if discount {
		b.WriteString("    discount:\n")
		switch u := dtype; {
		case u < 45:
			fmt.Fprintf(b, "      percent: %d\n      max_amount: %d\n", 5+g.r.IntN(21), 10*(1+g.r.IntN(10)))
		case u < 60:
			fmt.Fprintf(b, "      percent: %s\n", quote(fmt.Sprintf("min(%d, 5 + profile.churn_risk * %d)", 15+g.r.IntN(11), 10+g.r.IntN(20))))
		default:
			fmt.Fprintf(b, "      amount: %d\n", 5*(1+g.r.IntN(6)))
		}
		if g.r.IntN(100) < 30 {
			fmt.Fprintf(b, "      items: %s\n", quote(fmt.Sprintf(`item.category == %q`, g.pick(categories))))
		}
		fmt.Fprintf(b, "    group: discount_%d\n", g.r.IntN(8))
	}
	fmt.Fprintf(b, "    priority: %d\n", 1+g.r.IntN(100))
	if g.r.IntN(100) < 20 {
		b.WriteString("    score: priority * (1 + profile.churn_risk)\n")
	}
	if campaign && g.r.IntN(100) < 70 {
		g.campaignSchedule(b)
	} else if !campaign && g.r.IntN(100) < 20 {
		g.schedule(b)
	}
	if g.r.IntN(100) < 10 {
		fmt.Fprintf(b, "    caps:\n      per_customer: {limit: %d, per: 24h}\n", 1+g.r.IntN(3))
	}
}

// campaignSchedule writes a campaign's schedule: ended (45%), not started
// (25%) or running (30%) at the reference time.
func (g *gen) campaignSchedule(b *strings.Builder) {
	switch u := g.r.IntN(100); {
	case u < 45:
		g.window(b, 0)
	case u < 70:
		g.window(b, 1)
	default:
		g.window(b, 2)
	}
}

// schedule writes a schedule: ended, not started, or running at the
// reference time, a fifth of them on some days and hours.
func (g *gen) schedule(b *strings.Builder) { g.window(b, g.r.IntN(3)) }

// window writes a schedule that has ended (kind 0), has not started (1)
// or is running (2) at the reference time, a fifth of them on some days and
// hours.
func (g *gen) window(b *strings.Builder, kind int) {
	day := 24 * time.Hour
	var start, end time.Time
	switch kind {
	case 0: // ended
		end = g.ref.Add(-time.Duration(1+g.r.IntN(60)) * day)
		start = end.Add(-time.Duration(1+g.r.IntN(30)) * day)
	case 1: // not started
		start = g.ref.Add(time.Duration(1+g.r.IntN(60)) * day)
		end = start.Add(time.Duration(1+g.r.IntN(30)) * day)
	default: // running
		start = g.ref.Add(-time.Duration(1+g.r.IntN(30)) * day)
		end = g.ref.Add(time.Duration(1+g.r.IntN(60)) * day)
	}
	fmt.Fprintf(b, "    schedule:\n      start: %s\n      end: %s\n", start.Format(time.RFC3339), end.Format(time.RFC3339))
	if g.r.IntN(5) == 0 {
		b.WriteString("      days: [fri, sat, sun]\n      hours: \"08:00-21:59\"\n      timezone: America/New_York\n")
	}
}

// experiments writes one experiment whose variant changes a few offers.
func (g *gen) experiments(offers, nSeg int) string {
	var b strings.Builder
	b.WriteString("experiments:\n  - id: gen_depth\n    traffic: 50\n    variants:\n      - id: control\n        weight: 50\n      - id: treated\n        weight: 50\n")
	if offers < 4 {
		return b.String()
	}
	b.WriteString("        offers:\n")
	seen := map[int]bool{}
	for range 3 {
		i := 1 + g.r.IntN(offers-1)
		if seen[i] {
			continue
		}
		seen[i] = true
		switch len(seen) {
		case 1:
			fmt.Fprintf(&b, "          %s: {disabled: true}\n", offerID(i))
		case 2:
			fmt.Fprintf(&b, "          %s: {placements: [product], segments: [%s]}\n", offerID(i), segmentID(g.r.IntN(nSeg)))
		default:
			fmt.Fprintf(&b, "          %s: {priority: 500, when: 'cart.total >= 10'}\n", offerID(i))
		}
	}
	return b.String()
}
