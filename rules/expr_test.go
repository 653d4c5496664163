package rules

import (
	"strings"
	"testing"
	"time"
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
