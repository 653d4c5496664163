package exprenv

import (
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

func TestDidYouMean(t *testing.T) {
	cases := []struct{ name, want string }{
		{"lvt", "ltv"}, {"ltvv", "ltv"}, {"LTV", "ltv"}, {"orderz", "orders"}, {"xyz", ""}, {"daySince", "daysSince"},
	}
	for _, c := range cases {
		if got := Closest(c.name, []string{"ltv", "orders", "daysSince", "tier"}); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func run(t *testing.T, x *Expr, env map[string]any) any {
	t.Helper()
	out, err := vm.Run(x.prog, addFlatNames(env))
	if err != nil {
		t.Fatalf("%s: %v", x.Source, err)
	}
	return out
}

// mustCompile compiles src, failing the test on any error.
func mustCompile(t testing.TB, c *Compiler, kind Kind, src string) *Expr {
	t.Helper()
	x, errs := c.Compile(src, kind, "test")
	if len(errs) > 0 || x == nil {
		t.Fatalf("%s: %+v", src, errs)
	}
	return x
}

func TestFunctionsAndEnv(t *testing.T) {
	c := NewCompiler(Config{Profile: []Field{{"last", TypeTime}, {"birthday", TypeTime}, {"tz", TypeString}}})
	segs := []*Expr{
		mustCompile(t, c, KindCond, `daysSince(profile.last) < 2.5 && hoursSince(profile.last) == 48 && daysUntil(profile.last) == -2`),
		mustCompile(t, c, KindCond, `anniversaryWithin(profile.birthday, 7)`),
		mustCompile(t, c, KindCond, `hourIn("Asia/Shanghai") == 20 && weekdayIn("Asia/Shanghai") == "fri" && hourIn(profile.tz) == 12`),
	}
	percent := mustCompile(t, c, KindNumber, `min(20, 5 + cart.item_count)`)
	items := mustCompile(t, c, KindItems, `item.price > 1 && "x" in item.tags`)
	score := mustCompile(t, c, KindScore, `priority * 2`)
	c.Finish(nil)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // a Friday
	env := map[string]any{
		EnvProfile:  map[string]any{"id": "c", "known": true, "last": now.Add(-48 * time.Hour), "birthday": time.Date(1990, 12, 3, 0, 0, 0, 0, time.UTC), "tz": "UTC"},
		EnvCart:     map[string]any{"total": 10.0, "currency": "USD", "item_count": 3, "items": []any{}},
		EnvCtx:      map[string]any{"placement": "checkout", "channel": ""},
		EnvNow:      now,
		EnvSegments: []string{},
	}
	for _, x := range segs {
		if got := run(t, x, env); got != true {
			t.Errorf("%s = %v", x.Source, got)
		}
	}
	if got := run(t, percent, env); got != 8.0 {
		t.Errorf("percent = %#v, want float64 8", got)
	}
	env[EnvPriority] = 10.0
	if got := run(t, score, env); got != 20.0 {
		t.Errorf("score = %#v", got)
	}
	env[EnvItem] = map[string]any{"sku": "a", "category": "c", "price": 2.0, "quantity": 1, "tags": []string{"x"}}
	if got := run(t, items, env); got != true {
		t.Errorf("items = %#v", got)
	}
	// a zero time is very long ago
	env[EnvProfile].(map[string]any)["last"] = time.Time{}
	if got := run(t, segs[len(segs)-1], env); got == nil {
		t.Error("nil")
	}
}

func TestAnniversaryWithin(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 15, 0, 0, 0, time.UTC) }
	cases := []struct {
		now, t time.Time
		days   float64
		want   bool
	}{
		{day(2026, 3, 10), day(1990, 3, 10), 0, true},  // today counts as 0
		{day(2026, 3, 10), day(1990, 3, 17), 7, true},  // 7 days ahead
		{day(2026, 3, 10), day(1990, 3, 18), 7, false}, // 8 days ahead
		{day(2026, 3, 10), day(1990, 3, 9), 7, false},  // yesterday: next is a year away
		{day(2026, 12, 30), day(1990, 1, 2), 3, true},  // over the new year
		{day(2027, 2, 27), day(2000, 2, 29), 1, true},  // Feb 29 is Feb 28 in 2027
		{day(2028, 2, 28), day(2000, 2, 29), 0, false}, // 2028 is a leap year: Feb 29
		{day(2028, 2, 28), day(2000, 2, 29), 1, true},
		{day(2026, 3, 10), time.Time{}, 365, false}, // unknown date
	}
	for i, c := range cases {
		if got := anniversaryWithin(c.now, c.t, c.days); got != c.want {
			t.Errorf("case %d: anniversaryWithin(%s, %s, %v) = %v", i, c.now, c.t, c.days, got)
		}
	}
}

// TestCommaInNumberHint: a comma inside a number is a syntax error, and the
// hint must name the number the marketer meant: a decimal comma (`12,5`)
// is a decimal point, but a comma before three digits (`1,000`) separates
// thousands, and `1.000` (one) would be a threshold a thousand times too low.
func TestCommaInNumberHint(t *testing.T) {
	cases := []struct{ src, want string }{
		{`cart.total * 12,5 / 100`, "write a decimal point: `12.5`, not `12,5`"},
		{`cart.total >= 0,75`, "write a decimal point: `0.75`, not `0,75`"},
		{`cart.total >= 1,000`, "write `1000`, without a thousands separator, not `1,000`"},
		{`cart.total >= 1,000,000`, "write `1000000`, without a thousands separator, not `1,000,000`"},
		{`cart.total >= 1,000.50`, "write `1000.50`, without a thousands separator, not `1,000.50`"},
	}
	for _, tc := range cases {
		c := NewCompiler(Config{})
		_, errs := c.Compile(tc.src, KindCond, "test")
		if len(errs) == 0 {
			t.Errorf("%s: compiled", tc.src)
			continue
		}
		if errs[0].Hint != tc.want {
			t.Errorf("%s: hint %q, want %q", tc.src, errs[0].Hint, tc.want)
		}
	}
}

// TestUnknownNameHint: a bare word that names nothing says what to write:
// a segment's id is tested with `"id" in segments`, and any other word is
// a text, written in quotes (`profile.tier == gold`).
func TestUnknownNameHint(t *testing.T) {
	cases := []struct{ src, want string }{
		{`profile.tier == gold`, "write a text in quotes: `\"gold\"`"},
		{`vip && cart.total > 5`, "to test a segment, write `\"vip\" in segments`"},
		{`profile.tier != vip`, "write a text in quotes: `\"vip\"`"},
		{`profile.tierr == "gold"`, "did you mean `profile.tier`?"},
		{`total >= 50`, ""},
	}
	for _, tc := range cases {
		c := NewCompiler(Config{Profile: []Field{{"tier", TypeString}}, Segments: []string{"vip"}})
		_, errs := c.Compile(tc.src, KindCond, "test")
		if len(errs) == 0 {
			t.Errorf("%s: compiled", tc.src)
			continue
		}
		if errs[0].Hint != tc.want {
			t.Errorf("%s: hint %q, want %q", tc.src, errs[0].Hint, tc.want)
		}
	}
}

// TestMarketerExprHints: expressions as a marketer first writes them get
// what to write instead.
func TestMarketerExprHints(t *testing.T) {
	cases := []struct{ src, want string }{
		{`profile.tags contains "shoes"`, "to test a list, write `\"shoes\" in profile.tags`"},
		{`profile.tier == "gold" AND profile.ltv > 5`, "write `and` or `&&`, in lower case"},
		{`profile.tier == "gold" OR profile.ltv > 5`, "write `or` or `||`, in lower case"},
		{`profile.last > "2020-01-01"`, "to compare with a date, write `date(\"2020-01-01\")`, or count days: `daysSince(profile.last) <= 30`"},
		{`profile.last > now - 30d`, "to count days, write `daysSince(profile.last) < 30`"},
		{`profile.last <= now - 90d`, "to count days, write `daysSince(profile.last) >= 90`"},
		{`profile.tier == "gold" && profile.last > "2020-01-01"`, "to compare with a date, write `date(\"2020-01-01\")`, or count days: `daysSince(profile.last) <= 30`"},
		{`profile.tier == "gold" &&`, "the expression ends after `&&`: finish it, or remove the `&&`"},
		{`profile.tier in ["gold", `, ""},
		{`profile.last > now - 12h`, "to count hours, write `hoursSince(profile.last) < 12`"},
	}
	for _, tc := range cases {
		c := NewCompiler(Config{Profile: []Field{{"tags", TypeStringList}, {"tier", TypeString}, {"ltv", TypeNumber}, {"last", TypeTime}}})
		_, errs := c.Compile(tc.src, KindCond, "test")
		if len(errs) == 0 {
			t.Errorf("%s: compiled", tc.src)
			continue
		}
		if errs[0].Hint != tc.want {
			t.Errorf("%s: %s: hint %q, want %q", tc.src, errs[0].Msg, errs[0].Hint, tc.want)
		}
	}
}
