package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

// The fast path must answer as the program does, whenever it answers: a
// differential test over random environments, with values of the wrong
// type too (a profile field read from a bad hash, a context field of any
// JSON type). Each shape listed must have a fast form, so that a change
// that silently loses it fails here.
func TestFastPathAgreesWithTheProgram(t *testing.T) {
	conds := []string{
		`profile.ltv >= 1000`,
		`profile.ltv >= 250 && profile.ltv < 1000`,
		`profile.orders > 0 && profile.ltv < 250.5`,
		`profile.orders == 3 || profile.orders != 4`,
		`profile.ltv == profile.orders`,
		`-profile.ltv < -10`,
		`-profile.orders < 0`,
		`-profile.orders < -9007199254740992`,
		`-profile.orders < 2.5`,
		`ctx.n == 9007199254740992`,
		`profile.tier != "basic"`,
		`profile.tier in ["gold", "platinum"]`,
		`profile.tier not in ["gold"]`,
		`profile.tier < "m"`,
		`"shoes" in profile.tags`,
		`profile.known && !profile.opt_in`,
		`not profile.opt_in or profile.known`,
		`ctx.channel == "app"`,
		`ctx.device == "mobile"`,
		`"mobile" == ctx.device`,
		`ctx.device != "mobile"`,
		`ctx.flag == true`,
		`ctx.n == 3`,
		`ctx.n == 2.5`,
		`ctx.missing == nil`,
		`cart.total >= 75 || ("s0" in segments && cart.total >= 50)`,
		`cart.item_count >= 2`,
		`"s0" in segments && !("s1" in segments)`,
		`"s1" not in segments`,
		`daysSince(profile.last) <= 30`,
		`hoursSince(profile.last) > 48.5`,
		`daysUntil(profile.last) < -2`,
		`!profile.birthday.IsZero() && profile.birthday.Month() == now.Month()`,
		`profile.birthday.Day() == now.Day() || profile.birthday.Weekday() == now.Weekday()`,
		`anniversaryWithin(profile.birthday, 7)`,
		`true`,
	}
	items := []string{
		`item.category != "gift_cards"`,
		`item.price > 10 && item.quantity >= 2`,
		`"sale" in item.tags || item.sku == "A"`,
	}
	scores := []string{
		`priority + 10 * profile.churn`,
		`priority * 2`,
		`profile.ltv / 100 - priority`,
		`10.5`,
		`min(20, 5 + profile.churn * 20)`,
		`max(priority, profile.ltv / 10, 3)`,
		`min(profile.ltv, profile.orders)`,
	}
	var b strings.Builder
	b.WriteString("profile:\n  ltv: number\n  orders: int\n  tier: string\n  tags: \"[string]\"\n  opt_in: bool\n  last: time\n  birthday: time\n  churn: number\nsegments:\n")
	b.WriteString("  - id: s0\n    when: profile.orders > 1\n  - id: s1\n    when: profile.ltv > 100\n")
	for i, c := range conds {
		fmt.Fprintf(&b, "  - id: c%02d\n    when: %q\n", i, c)
	}
	b.WriteString("offers:\n")
	for i, it := range items {
		fmt.Fprintf(&b, "  - id: i%d\n    discount: {percent: 10, items: %q}\n", i, it)
	}
	for i, sc := range scores {
		fmt.Fprintf(&b, "  - id: x%d\n    priority: 5\n    score: %q\n", i, sc)
	}
	rs := mustLoad(t, map[string]string{"r.yaml": b.String()})

	var condExprs, itemExprs, numExprs []*Expr
	for _, s := range rs.Segments {
		if strings.HasPrefix(s.ID, "c") {
			condExprs = append(condExprs, s.When)
		}
	}
	for _, o := range rs.Offers {
		if o.Discount != nil && o.Discount.Items != nil {
			itemExprs = append(itemExprs, o.Discount.Items)
		}
		if o.Score != nil {
			numExprs = append(numExprs, o.Score)
		}
	}
	for _, e := range append(condExprs, itemExprs...) {
		if e.Fast == nil {
			t.Errorf("%s: no fast form", e.Source)
		}
	}
	for _, e := range numExprs {
		if e.FastNum == nil {
			t.Errorf("%s: no fast form", e.Source)
		}
	}

	r := rand.New(rand.NewPCG(7, 8))
	pick := func(vs ...any) any { return vs[r.IntN(len(vs))] }
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := func() any { return now.Add(time.Duration(r.IntN(800)-400) * 24 * time.Hour) }
	var machine vm.VM
	fastRuns := 0
	for round := 0; round < 3000; round++ {
		profile := map[string]any{
			"id": "c", "known": pick(true, false),
			"ltv":      pick(0.0, 99.5, 250.0, 999.99, 1000.0, 3.0, "x", nil),
			"orders":   pick(0, 1, 3, 4, 3.0, "3", math.MinInt64, 1<<53+1),
			"tier":     pick("basic", "gold", "platinum", "zinc", 7),
			"tags":     pick([]string{}, []string{"shoes"}, []string{"a", "shoes"}, []any{"shoes"}),
			"opt_in":   pick(true, false, "true"),
			"last":     pick(day(), day(), time.Time{}, "2026-01-01"),
			"birthday": pick(day(), day(), time.Time{}, now, 12),
			"churn":    pick(0.0, 0.5, 1.0, 2, "x"),
		}
		ctx := map[string]any{"placement": "checkout", "channel": pick("web", "app")}
		for _, k := range []string{"device", "flag", "n"} {
			if v := pick("mobile", "desktop", true, false, 3.0, 2.5, 3, 1<<53+1, nil, []any{"mobile"}, map[string]any{}, "absent"); v != "absent" {
				ctx[k] = v
			}
		}
		cart := map[string]any{"total": pick(0.0, 49.99, 50.0, 75.0, 120.5), "currency": "USD", "item_count": pick(0, 1, 2, 5), "items": []any{}}
		var segs []string
		flags := make([]bool, len(rs.Segments))
		for i, s := range rs.Segments {
			if (s.ID == "s0" || s.ID == "s1") && r.IntN(2) == 0 {
				segs = append(segs, s.ID)
				flags[i] = true
			}
		}
		env := FlatEnv(map[string]any{EnvProfile: profile, EnvCart: cart, EnvCtx: ctx, EnvNow: now, EnvSegments: segs})
		fe := &FastEnv{Now: now, Vals: make([]any, len(rs.Flat)), Flags: flags, Priority: 5}
		for i, f := range rs.Flat {
			fe.Vals[i] = env[f.Key]
		}
		check := func(e *Expr, env map[string]any) {
			want, err := machine.Run(e.Program, env)
			var got any
			var ok bool
			if e.Fast != nil {
				got, ok = e.Fast(fe)
			} else {
				got, ok = e.FastNum(fe)
			}
			if !ok {
				return
			}
			fastRuns++
			if err != nil {
				t.Fatalf("round %d: %s: fast gives %v, the program an error: %v\nenv %v", round, e.Source, got, err, env)
			}
			if got != want {
				t.Fatalf("round %d: %s: fast gives %v, the program %v\nenv %v", round, e.Source, got, want, env)
			}
		}
		for _, e := range condExprs {
			check(e, env)
		}
		it := &FastItem{SKU: pick("A", "B").(string), Category: pick("gift_cards", "shoes").(string),
			Price: pick(5.0, 10.0, 10.5).(float64), Quantity: pick(1, 2, 3).(int), Tags: pick([]string(nil), []string{"sale"}).([]string)}
		fe.Item = it
		env[EnvItem] = map[string]any{"sku": it.SKU, "category": it.Category, "price": it.Price, "quantity": it.Quantity, "tags": it.Tags}
		for _, e := range itemExprs {
			check(e, env)
		}
		env[EnvPriority] = 5.0
		for _, e := range numExprs {
			check(e, env)
		}
	}
	if fastRuns < 3000*len(conds)/3 {
		t.Errorf("the fast path answered only %d times", fastRuns)
	}
}
