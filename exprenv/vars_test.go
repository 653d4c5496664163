package exprenv

import (
	"strings"
	"testing"
)

// propensity and discount are names of scores only; propensity only when
// the ruleset learns. Each error says where to write it instead.
func TestScoreVarsAreScoped(t *testing.T) {
	fields := []Field{{"ltv", TypeNumber}}
	cases := []struct {
		learning bool
		kind     Kind
		src      string
		msg      string // "" when it compiles
		hint     string
		offset   int
	}{
		{true, KindScore, `propensity * (cart.total * 0.35 - discount)`, "", "", 0},
		{false, KindScore, `priority + discount / 10`, "", "", 0},
		{false, KindScore, `cart.total * 0.35 - propensity`, "`propensity` needs learning", "under `arbitration:`", 20},
		{true, KindCond, `propensity > 0.1`, "unknown name `propensity`", "only known in an offer's score", 0},
		{false, KindNumber, `min(20, discount)`, "unknown name `discount`", "only known in an offer's score", 8},
		{true, KindItems, `item.price > discount`, "unknown name `discount`", "only known in an offer's score", 13},
	}
	for _, tc := range cases {
		c := NewCompiler(Config{Profile: fields, Learning: tc.learning})
		x, errs := c.Compile(tc.src, tc.kind, "test")
		if tc.msg == "" {
			if len(errs) > 0 || x == nil {
				t.Errorf("%s: %+v", tc.src, errs)
			}
			continue
		}
		if len(errs) != 1 {
			t.Errorf("%s: %d errors %+v, want 1", tc.src, len(errs), errs)
			continue
		}
		e := errs[0]
		if !strings.Contains(e.Msg, tc.msg) || !strings.Contains(e.Hint, tc.hint) || e.Offset != tc.offset {
			t.Errorf("%s: %q (%q) at %d, want %q (%q) at %d", tc.src, e.Msg, e.Hint, e.Offset, tc.msg, tc.hint, tc.offset)
		}
	}
}

// Reads tells which scores read propensity: the engine draws only for
// those.
func TestReads(t *testing.T) {
	c := NewCompiler(Config{Profile: []Field{{"ltv", TypeNumber}}, Learning: true})
	cases := []struct {
		src                  string
		propensity, discount bool
	}{
		{`priority`, false, false},
		{`propensity * 100`, true, false},
		{`propensity * (cart.total * 0.35 - discount)`, true, true},
		{`cart.total - discount`, false, true},
		{`$env.priority`, true, true},
	}
	for _, tc := range cases {
		x := mustCompile(t, c, KindScore, tc.src)
		if x.Reads(VarPropensity) != tc.propensity || x.Reads(VarDiscount) != tc.discount {
			t.Errorf("%s: reads propensity %v, discount %v", tc.src, x.Reads(VarPropensity), x.Reads(VarDiscount))
		}
	}
	if x := mustCompile(t, c, KindScore, `priority`); !x.Reads(VarPriority) || x.Reads(Var(99)) {
		t.Error("Reads(VarPriority) of `priority`")
	}
}

// The vars reach the VM too, when the fast path cannot answer (a score
// with a shape it does not know).
func TestScoreVarsOnTheVM(t *testing.T) {
	c := NewCompiler(Config{Profile: []Field{{"ltv", TypeNumber}}, Learning: true})
	x := mustCompile(t, c, KindScore, `let m = cart.total * 0.35 - discount; m > 0 ? propensity * m : 0`)
	l := c.Finish(nil)
	var env Env
	env.Begin(l, &Input{Total: 100, Currency: "USD", Attrs: map[string]any{"ltv": 1.0}})
	defer env.End()
	env.SetVar(VarPropensity, 0.1)
	env.SetVar(VarDiscount, 15)
	got, err := env.Number(x)
	if err != nil || got < 1.999999 || got > 2.000001 {
		t.Fatalf("got %v %v, want 2", got, err)
	}
	if x.Fast() {
		t.Log("the let expression has a fast form now; pick another shape for this test")
	}
}
