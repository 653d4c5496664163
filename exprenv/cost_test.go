package exprenv

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Whether an expression is accepted must not depend on how long its
// trial run takes on this machine (a busy machine, a slow one): here
// every trial run takes an hour of the bubble's clock, and the same
// expressions are accepted.
func TestAcceptanceDoesNotDependOnTheClock(t *testing.T) {
	srcs := []string{
		`profile.ltv > 100`,
		`any(cart.items, any(.tags, # == "tag3"))`,
		`len(map(cart.items, map(cart.items, .tags))) > 0`,
		`all(1..1000, all(cart.items, .price > 0))`,
	}
	synctest.Test(t, func(t *testing.T) {
		c := NewCompiler(Config{Profile: []Field{{"ltv", TypeNumber}}})
		run := c.runTrial
		c.runTrial = func(p *vm.Program, env map[string]any) (any, error) {
			time.Sleep(time.Hour) // a slow machine
			return run(p, env)
		}
		for _, src := range srcs {
			if _, errs := c.Compile(src, KindCond, "segment `s`: when"); len(errs) > 0 {
				t.Errorf("%s: %+v", src, errs)
			}
		}
	})
}

// The cost bound rejects the loops that could slow decisions down, with
// the same kind of message as the memory budget, and accepts the loops
// marketers write; an expression far beyond the bound is not even run.
func TestCostlyExpressionsAreRejected(t *testing.T) {
	cases := []struct {
		src    string
		reject string // "" when accepted
		ran    bool
	}{
		{`any(cart.items, any(.tags, # == "sale"))`, "", true},
		{`"vip" in profile.tags && all(cart.items, .price > 10)`, "", true},
		{`len(map(cart.items, map(cart.items, .tags))) > 0`, "", true},
		{`all(1..1000, all(cart.items, .price > 0))`, "", true},
		{`all(1..1000, all(cart.items, .price > 0 && .quantity > 0 && .sku != "x" && "tag1" in .tags))`, "", true},
		{`any(1..1000, any(profile.tags, # in profile.tags))`,
			"segment `s`: when `any(1..1000, any(profile.tags, # in profile.tags))` is too costly: on a cart of 200 items it can take 40603004 steps, more than the limit of 10000000", false},
		{`any(1..1000, toJSON(cart) == "")`, "it can take 60005004 steps", false},
		{`any(1..100, any(cart.items, .sku matches ("^" + .category)))`, "it can take 10180304 steps", true},
		{`len(map(1..1000, map(1..1000, #))) > 0`, "it exceeds the memory budget of 250000", true},
	}
	for _, tc := range cases {
		c := NewCompiler(Config{Profile: []Field{{"tags", TypeStringList}}})
		runs := 0
		run := c.runTrial
		c.runTrial = func(p *vm.Program, env map[string]any) (any, error) {
			runs++
			return run(p, env)
		}
		_, errs := c.Compile(tc.src, KindCond, "segment `s`: when")
		switch {
		case tc.reject == "" && len(errs) > 0:
			t.Errorf("%s: %+v", tc.src, errs)
		case tc.reject != "" && (len(errs) != 1 || !strings.Contains(errs[0].Msg, tc.reject) || errs[0].Offset != 0 ||
			errs[0].Hint != "avoid nesting loops over lists (all, any, filter, map inside one another) and large ranges"):
			t.Errorf("%s: errors %+v, want one with %q", tc.src, errs, tc.reject)
		}
		if (runs == 1) != tc.ran {
			t.Errorf("%s: run %d times on the trial environment", tc.src, runs)
		}
	}
}
