package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/examples/rulegen"
	"github.com/arbiterhq/arbiter/rules"
)

// The scale benchmarks: how a decision's cost grows with the playbook
// (examples/rulegen's generated rulesets of 50, 200 and 1,000 offers, and
// the example shop), over one mix of requests: the example's customers
// (profilegen), unknown and anonymous ones, the placements and channels of
// bench/loadgen's mix, carts of 1 to 8 lines, cycled.

// scaleSizes are the generated playbooks' sizes.
var scaleSizes = []int{50, 200, 1000}

// scaleRuleset is the generated playbook of n offers (seed 1).
func scaleRuleset(tb testing.TB, n int, seed int64) *rules.Ruleset {
	tb.Helper()
	gen := rulegen.Generate(seed, n, testNow)
	files := make([]rules.File, len(gen))
	for i, f := range gen {
		files[i] = rules.File{Path: f.Path, Data: f.Data}
	}
	rs, err := rules.Compile(files)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// scaleCase is one request with its profile.
type scaleCase struct {
	p   *Profile
	req Request
}

// genProfile converts a profilegen customer (JSON types) to a Profile under
// the schema.
func genProfile(rs *rules.Ruleset, m map[string]any) *Profile {
	id, _ := m["id"].(string)
	attrs := map[string]any{}
	for _, f := range rs.Schema.Fields {
		v, ok := m[f.Name]
		if !ok {
			continue
		}
		switch f.Type {
		case rules.TypeInt:
			if x, ok := v.(float64); ok {
				v = int(x)
			}
		case rules.TypeTime:
			if s, ok := v.(string); ok {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					continue
				}
				v = t.UTC()
			}
		case rules.TypeStringList:
			if l, ok := v.([]any); ok {
				out := make([]string, 0, len(l))
				for _, e := range l {
					if s, ok := e.(string); ok {
						out = append(out, s)
					}
				}
				v = out
			}
		}
		attrs[f.Name] = v
	}
	return profileOf(rs, id, attrs)
}

// scaleRequests makes n requests of the mix (seeded) under rs.
func scaleRequests(rs *rules.Ruleset, n int, seed uint64) []scaleCase {
	r := rand.New(rand.NewPCG(seed, 42))
	customers := profilegen.Generate(int64(seed), 400, profilegen.DefaultRef())
	profiles := make([]*Profile, len(customers))
	for i, m := range customers {
		profiles[i] = genProfile(rs, m)
	}
	weighted := func(vals []string, w []float64) string {
		u := r.Float64()
		for i, x := range w {
			if u < x {
				return vals[i]
			}
			u -= x
		}
		return vals[len(vals)-1]
	}
	cats := []string{"shoes", "apparel", "beauty", "home", "accessories", "outerwear", "sports", "kids", "gift_cards"}
	catW := []float64{0.24, 0.22, 0.15, 0.10, 0.10, 0.07, 0.06, 0.04, 0.02}
	out := make([]scaleCase, n)
	for i := range out {
		c := &out[i]
		switch u := r.Float64(); {
		case u < 0.05: // anonymous
			c.p = DefaultProfile(&rs.Schema, "")
		case u < 0.15: // an id without a stored profile
			id := "u-" + strconv.Itoa(i)
			c.p = DefaultProfile(&rs.Schema, id)
			c.req.CustomerID = id
		default:
			c.p = profiles[r.IntN(len(profiles))]
			c.req.CustomerID = c.p.ID
		}
		c.req.DecisionID = "dcs_" + strconv.Itoa(i)
		c.req.Placement = weighted([]string{"checkout", "cart", "product"}, []float64{0.35, 0.35, 0.30})
		c.req.Channel = weighted([]string{"web", "app", "mobile_web"}, []float64{0.55, 0.30, 0.15})
		cur := weighted([]string{"USD", "EUR", "GBP"}, []float64{0.8, 0.12, 0.08})
		var lines []any
		for j := range 1 + r.IntN(8) {
			cat := weighted(cats, catW)
			lines = append(lines, fmt.Sprintf("%s-%d", strings.ToUpper(cat[:3]), j), cat, float64(5+r.IntN(150))+0.99, 1+r.IntN(3))
		}
		c.req.Cart = cart(cur, lines...)
		ctx := map[string]any{"device": weighted([]string{"mobile", "desktop", "tablet"}, []float64{0.55, 0.38, 0.07}),
			"country": weighted([]string{"US", "CA", "GB", "DE", "FR", "AU"}, []float64{0.6, 0.1, 0.1, 0.08, 0.07, 0.05})}
		if r.IntN(4) == 0 {
			ctx["utm_source"] = weighted([]string{"newsletter", "google", "instagram"}, []float64{0.5, 0.3, 0.2})
		}
		c.req.Context = ctx
		c.req.Now = testNow.Add(time.Duration(r.IntN(72*60)-36*60) * time.Minute)
		c.req.DryRun = true
	}
	return out
}

// scaleRulesets are the rulesets of the scale benchmarks: the example
// shop, then the generated playbooks.
func scaleRulesets(b *testing.B) []struct {
	name string
	rs   *rules.Ruleset
} {
	out := []struct {
		name string
		rs   *rules.Ruleset
	}{{"checkout", loadDir(b, "../examples/checkout")}}
	for _, n := range scaleSizes {
		out = append(out, struct {
			name string
			rs   *rules.Ruleset
		}{"offers=" + strconv.Itoa(n), scaleRuleset(b, n, 1)})
	}
	return out
}

// BenchmarkDecideScale decides the request mix under the example shop
// and the generated playbooks of 50, 200 and 1,000 offers.
func BenchmarkDecideScale(b *testing.B) {
	for _, tc := range scaleRulesets(b) {
		cases := scaleRequests(tc.rs, 1024, 1)
		b.Run(tc.name, func(b *testing.B) {
			eng := New(Options{Ledger: newTestLedger()})
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			cpu := startCPU()
			for b.Loop() {
				c := &cases[i&1023]
				i++
				req := c.req
				if _, err := eng.Decide(ctx, tc.rs, c.p, &req); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// startCPU collects the garbage of the benchmark's setup, so that its
// collection is not counted, and returns cpuNanos.
func startCPU() int64 {
	runtime.GC()
	return cpuNanos()
}

// reportCPU reports the process's CPU time per op since from (cpuNanos),
// beside ns/op: on a machine shared with other work it varies far less
// than wall time.
func reportCPU(b *testing.B, from int64) {
	if to := cpuNanos(); to > 0 && b.N > 0 {
		b.ReportMetric(float64(to-from)/float64(b.N), "cpu-ns/op")
	}
}

// naive is the baseline a decision engine is measured against: every
// expression of the ruleset (segments, experiments, offers' when, discount
// numbers and item filters, scores) compiled with plain expr.Compile
// against a map environment and run one by one on one reused VM, with no
// fast path, no flat names and no index.
type naive struct {
	rs       *rules.Ruleset
	segs     []*vm.Program
	exps     []*vm.Program // nil: no when
	offers   []naiveOffer
	vm       vm.VM
	env      map[string]any
	now      time.Time
	zones    map[string]*time.Location
	segments []string
}

type naiveOffer struct {
	when, percent, amount, items, score *vm.Program
}

func newNaive(tb testing.TB, rs *rules.Ruleset) *naive {
	n := &naive{rs: rs, zones: map[string]*time.Location{}}
	n.env = n.template()
	compile := func(x *rules.Expr, cond bool) *vm.Program {
		if x == nil || x.Expr == nil {
			return nil
		}
		opts := []expr.Option{expr.Env(n.env), expr.AllowUndefinedVariables()}
		if cond {
			opts = append(opts, expr.AsBool())
		} else {
			opts = append(opts, expr.AsFloat64())
		}
		p, err := expr.Compile(x.Source, opts...)
		if err != nil {
			tb.Fatalf("naive: %s: %v", x.Source, err)
		}
		return p
	}
	for _, s := range rs.Segments {
		n.segs = append(n.segs, compile(s.When, true))
	}
	for _, x := range rs.Experiments {
		n.exps = append(n.exps, compile(x.When, true))
	}
	for _, o := range rs.Offers {
		no := naiveOffer{when: compile(o.When, true), score: compile(o.Score, false)}
		if d := o.Discount; d != nil {
			no.percent = compile(d.Percent.Expr, false)
			no.amount = compile(d.Amount.Expr, false)
			no.items = compile(d.Items, true)
		}
		n.offers = append(n.offers, no)
	}
	return n
}

// template is the environment's shape, with the functions of the rules
// reading n.now.
func (n *naive) template() map[string]any {
	days := func(d time.Duration) float64 { return d.Hours() / 24 }
	return map[string]any{
		"profile":    map[string]any{},
		"cart":       map[string]any{},
		"ctx":        map[string]any{},
		"item":       map[string]any{},
		"now":        time.Time{},
		"segments":   []string{},
		"priority":   0.0,
		"discount":   0.0,
		"propensity": 0.0,
		"daysSince":  func(t time.Time) float64 { return days(n.now.Sub(t)) },
		"hoursSince": func(t time.Time) float64 { return n.now.Sub(t).Hours() },
		"daysUntil":  func(t time.Time) float64 { return days(t.Sub(n.now)) },
		"anniversaryWithin": func(t time.Time, d float64) bool {
			next := time.Date(n.now.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
			today := time.Date(n.now.Year(), n.now.Month(), n.now.Day(), 0, 0, 0, 0, time.UTC)
			if next.Before(today) {
				next = next.AddDate(1, 0, 0)
			}
			return days(next.Sub(today)) <= d
		},
		"hourIn":    func(tz string) int { return n.now.In(n.zone(tz)).Hour() },
		"weekdayIn": func(tz string) string { return strings.ToLower(n.now.In(n.zone(tz)).Weekday().String()[:3]) },
	}
}

func (n *naive) zone(tz string) *time.Location {
	if l, ok := n.zones[tz]; ok {
		return l
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		l = time.UTC
	}
	n.zones[tz] = l
	return l
}

// decide runs every expression for one request; it returns how many
// conditions were true (so that the work cannot be optimised away).
func (n *naive) decide(p *Profile, req *Request) int {
	n.now = req.Now
	exp, _ := CurrencyExp(req.Cart.Currency)
	var total int64
	items := make([]any, len(req.Cart.Items))
	count := 0
	for i, it := range req.Cart.Items {
		total += lineValue(&it)
		count += it.Quantity
		items[i] = map[string]any{"sku": it.SKU, "category": it.Category, "price": Money{Minor: it.Price, Exp: exp}.Major(),
			"quantity": it.Quantity, "tags": it.Tags}
	}
	major := Money{Minor: total, Exp: exp}.Major()
	base := major
	if r, ok := n.rs.Rates[req.Cart.Currency]; ok {
		base = major * r.Float()
	}
	ctx := make(map[string]any, len(req.Context)+2)
	for k, v := range req.Context {
		ctx[k] = v
	}
	ctx["placement"], ctx["channel"] = req.Placement, req.Channel
	env := n.env
	env["profile"] = p.Attrs
	env["cart"] = map[string]any{"total": major, "currency": req.Cart.Currency, "item_count": count, "items": items, "total_base": base}
	env["ctx"] = ctx
	env["now"] = req.Now
	n.segments = n.segments[:0]
	env["segments"] = n.segments
	hits := 0
	cond := func(prog *vm.Program) bool {
		out, err := n.vm.Run(prog, env)
		b, _ := out.(bool)
		if err == nil && b {
			hits++
		}
		return b
	}
	num := func(prog *vm.Program) float64 {
		out, _ := n.vm.Run(prog, env)
		f, _ := out.(float64)
		return f
	}
	for i, prog := range n.segs {
		if prog != nil && cond(prog) {
			n.segments = append(n.segments, n.rs.Segments[i].ID)
			env["segments"] = n.segments
		}
	}
	for _, prog := range n.exps {
		if prog != nil {
			cond(prog)
		}
	}
	for i, o := range n.offers {
		if o.when != nil {
			cond(o.when)
		}
		if o.items != nil {
			for _, it := range items {
				env["item"] = it
				cond(o.items)
			}
		}
		if o.percent != nil {
			num(o.percent)
		}
		if o.amount != nil {
			num(o.amount)
		}
		if o.score != nil {
			env["priority"] = n.rs.Offers[i].Priority
			env["propensity"] = 0.05
			if math.IsNaN(num(o.score)) {
				hits--
			}
		}
	}
	return hits
}

// BenchmarkNaive runs every expression of the ruleset one by one on one
// expr VM for the requests of BenchmarkDecideScale: the baseline of the
// ratio in BENCHMARKS.md (BenchmarkDecideScale/X over BenchmarkNaive/X).
// checkout-vip is BenchmarkDecide's one request.
func BenchmarkNaive(b *testing.B) {
	for _, tc := range scaleRulesets(b) {
		cases := scaleRequests(tc.rs, 1024, 1)
		if tc.name == "checkout" {
			b.Run("checkout-vip", func(b *testing.B) {
				n := newNaive(b, tc.rs)
				p, req := vipCase(tc.rs)
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					n.decide(p, &req)
				}
				reportCPU(b, cpu)
			})
		}
		b.Run(tc.name, func(b *testing.B) {
			n := newNaive(b, tc.rs)
			b.ReportAllocs()
			i := 0
			cpu := startCPU()
			for b.Loop() {
				c := &cases[i&1023]
				i++
				n.decide(c.p, &c.req)
			}
			reportCPU(b, cpu)
		})
	}
}

// vipCase is BenchmarkDecide's request: a VIP with a three-line cart at
// checkout.
func vipCase(rs *rules.Ruleset) (*Profile, Request) {
	p := profileOf(rs, "c-1042", map[string]any{
		"ltv": 1800.0, "orders": 9, "orders_90d": 3, "avg_order_value": 120.0, "first_name": "Ada", "country": "US",
		"last_order_at": time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), "signed_up_at": time.Date(2023, 5, 2, 0, 0, 0, 0, time.UTC),
		"top_categories": []string{"shoes", "apparel"}, "discount_share": 0.4, "churn_risk": 0.3, "tier": "gold", "points": 1200,
	})
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	return p, Request{DecisionID: "dcs_1", CustomerID: "c-1042", Placement: "checkout", Channel: "web",
		Cart: c, Context: map[string]any{"device": "mobile"}, Now: testNow, DryRun: true}
}

// TestNaiveAgrees: the naive baseline matches the segments Decide finds,
// so that it does the same work.
func TestNaiveAgrees(t *testing.T) {
	for _, rs := range []*rules.Ruleset{loadDir(t, "../examples/checkout"), scaleRuleset(t, 200, 1)} {
		n := newNaive(t, rs)
		eng := New(Options{})
		for i, c := range scaleRequests(rs, 200, 2) {
			n.decide(c.p, &c.req)
			req := c.req
			d, err := eng.Decide(context.Background(), rs, c.p, &req)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(n.segments, ","), strings.Join(d.Segments, ","); got != want {
				t.Fatalf("request %d: naive segments %s, Decide %s", i, got, want)
			}
		}
	}
}
