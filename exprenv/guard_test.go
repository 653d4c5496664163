package exprenv

import (
	"slices"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

// TestGuard: the guard of a condition is its leftmost conjunct's test of
// one name against string constants, and whenever the name holds another
// string the program gives false, with no error, whatever else the
// environment holds.
func TestGuard(t *testing.T) {
	cases := []struct {
		src    string
		name   string // "" when there is no guard
		values []string
	}{
		{`profile.tier == "gold"`, "profile.tier", []string{"gold"}},
		{`"gold" == profile.tier`, "profile.tier", []string{"gold"}},
		{`profile.tier in ["gold", "platinum", "gold"]`, "profile.tier", []string{"gold", "platinum"}},
		{`profile.tier == "gold" && profile.ltv > 10 && ctx.x > 3`, "profile.tier", []string{"gold"}},
		{`(ctx.channel == "app" && ctx.n > 1) && profile.ltv > 10`, "ctx.channel", []string{"app"}},
		{`ctx.device in ["mobile"] and ctx.n / 0 > 1`, "ctx.device", []string{"mobile"}},
		{`ctx.channel == "app" && any(cart.items, .price > ctx.n)`, "ctx.channel", []string{"app"}},
		{`cart.currency == "EUR" && cart.total > 50`, "cart.currency", []string{"EUR"}},
		{`profile.ltv > 10 && profile.tier == "gold"`, "", nil},
		{`profile.tier == "gold" || profile.ltv > 10`, "", nil},
		{`profile.tier != "gold"`, "", nil},
		{`profile.tier not in ["gold"]`, "", nil},
		{`ctx.n == 3 && profile.tier == "gold"`, "", nil},
		{`profile.tier == profile.first && profile.ltv > 1`, "", nil},
		{`"vip" in segments && profile.tier == "gold"`, "", nil},
		{`"shoes" not in profile.tags`, "", nil},
		{`"shoes" in ctx.list`, "", nil},
	}
	c := NewCompiler(Config{Segments: []string{"vip"}, Profile: []Field{{"ltv", TypeNumber}, {"tier", TypeString}, {"first", TypeString}, {"tags", TypeStringList}}})
	exprs := make([]*Expr, len(cases))
	for i, tc := range cases {
		exprs[i] = mustCompile(t, c, KindCond, tc.src)
	}
	lists := []struct {
		src, name, value string
	}{
		{`"shoes" in profile.tags`, "profile.tags", "shoes"},
		{`"shoes" in profile.tags && ctx.n / 0 > 1 && profile.ltv > 10`, "profile.tags", "shoes"},
	}
	listExprs := make([]*Expr, len(lists))
	for i, l := range lists {
		listExprs[i] = mustCompile(t, c, KindCond, l.src)
	}
	layout := c.Finish([]string{"vip"})
	for i, l := range lists {
		x := listExprs[i]
		g, ok := x.Guard()
		if !ok || !g.List || layout.Flat()[g.Flat].Key != l.name || !slices.Equal(g.Values, []string{l.value}) {
			t.Errorf("%s: guard %+v (ok %v), want the list %s holding %s", l.src, g, ok, l.name, l.value)
			continue
		}
		var machine vm.VM
		for _, list := range [][]string{{}, {"a", "b"}, nil} {
			env := addFlatNames(map[string]any{
				EnvProfile: map[string]any{"ltv": "x", "tier": 1, "first": nil, "tags": list},
				EnvCart:    map[string]any{}, EnvCtx: map[string]any{"n": "s"}, EnvNow: time.Time{}, EnvSegments: []string{},
			})
			if out, err := machine.Run(x.prog, env); err != nil || out != false {
				t.Errorf("%s with %v: %v, %v; want false", l.src, list, out, err)
			}
		}
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var machine vm.VM
	for i, tc := range cases {
		g, ok := exprs[i].Guard()
		if tc.name == "" {
			if ok {
				t.Errorf("%s: guard %+v, want none", tc.src, g)
			}
			continue
		}
		if !ok || layout.Flat()[g.Flat].Key != tc.name || !slices.Equal(g.Values, tc.values) {
			t.Errorf("%s: guard %+v (ok %v), want %s %v", tc.src, g, ok, tc.name, tc.values)
			continue
		}
		// another string in the name: false, no error, whatever the rest
		for _, other := range []any{"zinc", "", 7.0, "x"} {
			for _, rest := range []any{nil, "s", 5.0, []any{1}} {
				env := addFlatNames(map[string]any{
					EnvProfile: map[string]any{"ltv": rest, "tier": "zinc", "first": rest, "tags": rest},
					EnvCart:    map[string]any{"total": rest, "currency": "USD", "items": []any{map[string]any{"price": rest}}},
					EnvCtx:     map[string]any{"channel": "web", "device": "desktop", "n": rest, "x": rest},
					EnvNow:     now, EnvSegments: []string{},
				})
				env[tc.name] = other
				out, err := machine.Run(exprs[i].prog, env)
				if s, isString := other.(string); isString && !slices.Contains(tc.values, s) && (err != nil || out != false) {
					t.Errorf("%s with %s = %v: %v, %v; want false", tc.src, tc.name, other, out, err)
				}
			}
		}
	}
	var e Env
	e.Begin(layout, &Input{Now: now, Attrs: map[string]any{"tier": "gold", "ltv": 3.0, "tags": []string{"a"}}, Context: map[string]any{"device": 4.0}})
	for i, f := range layout.Flat() {
		s, ok := e.FlatString(i)
		switch f.Key {
		case "profile.tier":
			if !ok || s != "gold" {
				t.Errorf("%s: %q %v", f.Key, s, ok)
			}
		case "ctx.device", "profile.ltv":
			if ok {
				t.Errorf("%s: a string %q", f.Key, s)
			}
		}
		l, ok := e.FlatStrings(i)
		if f.Key == "profile.tags" != (ok && slices.Equal(l, []string{"a"})) {
			t.Errorf("%s: list %v %v", f.Key, l, ok)
		}
	}
	e.End()
}
