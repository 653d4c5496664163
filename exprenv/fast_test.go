package exprenv

import (
	"fmt"
	"math"
	"math/rand/v2"
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
		`cart.total_base >= 50 || cart.total_base * 2 < 10.5`,
		`"s0" in segments && !("s1" in segments)`,
		`"s1" not in segments`,
		`daysSince(profile.last) <= 30`,
		`hoursSince(profile.last) > 48.5`,
		`daysUntil(profile.last) < -2`,
		`!profile.birthday.IsZero() && profile.birthday.Month() == now.Month()`,
		`profile.birthday.Day() == now.Day() || profile.birthday.Weekday() == now.Weekday()`,
		`anniversaryWithin(profile.birthday, 7)`,
		`true`,
		`any(cart.items, .category == "shoes")`,
		`any(cart.items, .category == "shoes" && .quantity >= 2)`,
		`all(cart.items, .price > 10)`,
		`none(cart.items, "sale" in .tags || .sku == "A")`,
		`"s0" in segments && any(cart.items, .category != "gift_cards")`,
		`cart.total >= 50 && all(cart.items, .price >= 10 || .quantity > 2)`,
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
		`propensity * (cart.total * 0.35 - discount)`,
		`propensity * priority / 0.05`,
		`discount`,
		`max(0, propensity * (cart.total - discount)) + priority / 1000`,
	}
	segIDs := []string{"s0", "s1"}
	for i := range conds {
		segIDs = append(segIDs, fmt.Sprintf("c%02d", i))
	}
	c := NewCompiler(Config{TotalBase: true, Segments: segIDs, Learning: true, Profile: []Field{{"ltv", TypeNumber}, {"orders", TypeInt}, {"tier", TypeString},
		{"tags", TypeStringList}, {"opt_in", TypeBool}, {"last", TypeTime}, {"birthday", TypeTime}, {"churn", TypeNumber}}})
	mustCompile(t, c, KindCond, `profile.orders > 1`)
	mustCompile(t, c, KindCond, `profile.ltv > 100`)
	var condExprs, itemExprs, numExprs []*Expr
	for _, src := range conds {
		condExprs = append(condExprs, mustCompile(t, c, KindCond, src))
	}
	for _, src := range items {
		itemExprs = append(itemExprs, mustCompile(t, c, KindItems, src))
	}
	for _, src := range scores {
		numExprs = append(numExprs, mustCompile(t, c, KindScore, src))
	}
	layout := c.Finish(segIDs)
	for _, e := range append(condExprs, itemExprs...) {
		if e.cond == nil {
			t.Errorf("%s: no fast form", e.Source)
		}
	}
	for _, e := range numExprs {
		if e.num == nil {
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
		var lines []Item
		var lineMaps []any
		for range r.IntN(4) {
			it := Item{SKU: pick("A", "B").(string), Category: pick("gift_cards", "shoes").(string),
				Price: pick(5.0, 10.0, 10.5).(float64), Quantity: pick(1, 2, 3).(int), Tags: pick([]string(nil), []string{"sale"}).([]string)}
			lines = append(lines, it)
			lineMaps = append(lineMaps, map[string]any{"sku": it.SKU, "category": it.Category, "price": it.Price, "quantity": it.Quantity, "tags": it.Tags})
		}
		if lineMaps == nil {
			lineMaps = []any{}
		}
		cart := map[string]any{"total": pick(0.0, 49.99, 50.0, 75.0, 120.5), "currency": "USD", "item_count": pick(0, 1, 2, 5), "items": lineMaps,
			"total_base": pick(0.0, 4.0, 49.99, 50.0, 120.5, noRate{"CHF"})}
		var segs []string
		flags := make([]bool, len(segIDs))
		for i, id := range segIDs[:2] {
			if r.IntN(2) == 0 {
				segs = append(segs, id)
				flags[i] = true
			}
		}
		env := addFlatNames(map[string]any{EnvProfile: profile, EnvCart: cart, EnvCtx: ctx, EnvNow: now, EnvSegments: segs})
		fe := &fastEnv{Now: now, Vals: make([]any, len(layout.Flat())), Flags: flags, Items: lines}
		fe.Vars[VarPriority] = 5
		fe.Vars[VarPropensity] = pick(0.0, 0.05, 0.5, 1.0).(float64)
		fe.Vars[VarDiscount] = pick(0.0, 12.5, 40.0, 1e6).(float64)
		for i, f := range layout.Flat() {
			fe.Vals[i] = env[f.Key]
		}
		check := func(e *Expr, env map[string]any) {
			want, err := machine.Run(e.prog, env)
			var got any
			var ok bool
			if e.cond != nil {
				got, ok = e.cond(fe)
			} else {
				got, ok = e.num(fe)
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
		it := &Item{SKU: pick("A", "B").(string), Category: pick("gift_cards", "shoes").(string),
			Price: pick(5.0, 10.0, 10.5).(float64), Quantity: pick(1, 2, 3).(int), Tags: pick([]string(nil), []string{"sale"}).([]string)}
		fe.Item = it
		env[EnvItem] = map[string]any{"sku": it.SKU, "category": it.Category, "price": it.Price, "quantity": it.Quantity, "tags": it.Tags}
		for _, e := range itemExprs {
			check(e, env)
		}
		env[EnvPriority] = 5.0
		env[EnvPropensity] = fe.Vars[VarPropensity]
		env[EnvDiscount] = fe.Vars[VarDiscount]
		for _, e := range numExprs {
			check(e, env)
		}
	}
	if fastRuns < 3000*len(conds)/3 {
		t.Errorf("the fast path answered only %d times", fastRuns)
	}
}
