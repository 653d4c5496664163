package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

// TestPositionMapping checks that an error inside an expression points at
// the right line and column (the unknown field name) for every YAML
// scalar style.
func TestPositionMapping(t *testing.T) {
	cases := []struct {
		name, yaml string
		line, col  int
	}{
		{"plain", "segments:\n  - id: s\n    when: cart.total > 1 && cart.totl > 2\n", 3, 34},
		{"single quoted", "segments:\n  - id: s\n    when: 'cart.total > 1 && cart.totl > 2'\n", 3, 35},
		{"single quoted with ''", "segments:\n  - id: s\n    when: 'ctx.x == ''a'' && cart.totl > 2'\n", 3, 35},
		{"double quoted with escapes", "segments:\n  - id: s\n    when: \"ctx.x == \\\"a\\\" && cart.totl > 2\"\n", 3, 35},
		{"literal block", "segments:\n  - id: s\n    when: |\n      cart.total > 1 &&\n        cart.totl > 2\n", 5, 14},
		{"folded block", "segments:\n  - id: s\n    when: >-\n      cart.total > 1\n      && cart.totl > 2\n", 5, 15},
		{"flow mapping", "segments:\n  - {id: s, when: cart.totl > 2}\n", 2, 24},
		{"unicode before", "segments:\n  - id: s\n    when: ctx.x == \"été\" && cart.totl > 2\n", 3, 34},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := loadErrs(t, map[string]string{"r.yaml": tc.yaml})
			if len(es) != 1 {
				t.Fatalf("errors = %v", es)
			}
			if es[0].Pos.Line != tc.line || es[0].Pos.Col != tc.col {
				t.Errorf("at %d:%d, want %d:%d (%v)", es[0].Pos.Line, es[0].Pos.Col, tc.line, tc.col, es[0])
			}
			if es[0].Hint != "did you mean `cart.total`?" {
				t.Errorf("hint = %q", es[0].Hint)
			}
		})
	}
}

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

func run(t *testing.T, rs *Ruleset, e *Expr, env map[string]any) any {
	t.Helper()
	out, err := vm.Run(e.Program, FlatEnv(env))
	if err != nil {
		t.Fatalf("%s: %v", e.Source, err)
	}
	return out
}

func TestFunctionsAndEnv(t *testing.T) {
	rs := mustLoad(t, map[string]string{"r.yaml": `
profile:
  last: time
  birthday: time
  tz: string
segments:
  - id: recent
    when: daysSince(profile.last) < 2.5 && hoursSince(profile.last) == 48 && daysUntil(profile.last) == -2
  - id: bday
    when: anniversaryWithin(profile.birthday, 7)
  - id: evening
    when: hourIn("Asia/Shanghai") == 20 && weekdayIn("Asia/Shanghai") == "fri" && hourIn(profile.tz) == 12
offers:
  - id: o
    discount:
      percent: "min(20, 5 + cart.item_count)"
      items: item.price > 1 && "x" in item.tags
    score: priority * 2
    priority: 10
`})
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // a Friday
	env := map[string]any{
		EnvProfile:  map[string]any{"id": "c", "known": true, "last": now.Add(-48 * time.Hour), "birthday": time.Date(1990, 12, 3, 0, 0, 0, 0, time.UTC), "tz": "UTC"},
		EnvCart:     map[string]any{"total": 10.0, "currency": "USD", "item_count": 3, "items": []any{}},
		EnvCtx:      map[string]any{"placement": "checkout", "channel": ""},
		EnvNow:      now,
		EnvSegments: []string{},
	}
	for _, s := range rs.Segments {
		if got := run(t, rs, s.When, env); got != true {
			t.Errorf("%s = %v", s.ID, got)
		}
	}
	o := rs.Offers[0]
	if got := run(t, rs, o.Discount.Percent.Expr, env); got != 8.0 {
		t.Errorf("percent = %#v, want float64 8", got)
	}
	env[EnvPriority] = 10.0
	if got := run(t, rs, o.Score, env); got != 20.0 {
		t.Errorf("score = %#v", got)
	}
	env[EnvItem] = map[string]any{"sku": "a", "category": "c", "price": 2.0, "quantity": 1, "tags": []string{"x"}}
	if got := run(t, rs, o.Discount.Items, env); got != true {
		t.Errorf("items = %#v", got)
	}
	// a zero time is very long ago
	env[EnvProfile].(map[string]any)["last"] = time.Time{}
	if got := run(t, rs, rs.Segments[len(rs.Segments)-1].When, env); got == nil {
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

func TestNumberConstantsAndExpressions(t *testing.T) {
	rs := mustLoad(t, map[string]string{"r.yaml": `
offers:
  - id: a
    discount: {percent: 10}
  - id: b
    discount: {amount: "cart.total / 10"}
  - id: c
    discount: {tiers: [{min_total: 100, amount: 15}, {min_total: 200, percent: 10}]}
  - id: d
    discount: {buy_x_get_y: {buy: 2, get: 1}}
  - id: e
    discount: {free_shipping: true}
    caps: {per_customer: {limit: 1, per: 7d}, total: 1000, budget: 5000}
    schedule: {start: 2026-11-27T00:00:00+08:00, end: 2026-12-02T00:00:00+08:00, days: [fri, sat, sun], hours: "18:00-23:59", timezone: Asia/Shanghai}
`})
	a, _ := rs.Offer("a")
	b, _ := rs.Offer("b")
	c, _ := rs.Offer("c")
	d, _ := rs.Offer("d")
	e, _ := rs.Offer("e")
	if a.Discount.Percent.Value != 10 || a.Discount.Percent.Expr != nil || !a.Discount.HasPercentLike {
		t.Errorf("a = %+v", a.Discount)
	}
	if b.Discount.Amount.Expr == nil || b.Discount.HasPercentLike {
		t.Errorf("b = %+v", b.Discount)
	}
	if len(c.Discount.Tiers) != 2 || !c.Discount.Tiers[1].IsPercent || !c.Discount.HasPercentLike {
		t.Errorf("c = %+v", c.Discount)
	}
	if d.Discount.Buy != 2 || d.Discount.Get != 1 || d.Discount.BuyGetPercent != 100 {
		t.Errorf("d = %+v", d.Discount)
	}
	if e.Caps.Window != 7*24*time.Hour || e.Caps.Total != 1000 || e.Caps.Budget != 5000 || !e.Caps.Any() {
		t.Errorf("caps = %+v", e.Caps)
	}
	s := e.Schedule
	if !s.Days[time.Friday] || !s.Days[time.Sunday] || s.Days[time.Monday] || s.FromMinute != 1080 || s.ToMinute != 1439 || s.Location.String() != "Asia/Shanghai" {
		t.Errorf("schedule = %+v", s)
	}
	if !strings.HasPrefix(s.Start.UTC().Format(time.RFC3339), "2026-11-26T16:00") {
		t.Errorf("start = %s", s.Start)
	}
}
