package engine

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// exported is d without the memory it keeps for reuse, for comparisons.
func exported(d *Decision) Decision {
	c := *d
	c.discounts, c.percents, c.amounts, c.text = nil, nil, nil, nil
	c.learnBuf = [4]LearningUse{}
	if c.Profile == &d.defProfile {
		p := d.defProfile
		c.Profile = &p
	}
	c.defProfile = Profile{}
	return c
}

// A decision made into a reused Decision is the decision Decide makes,
// whatever the Decision held before.
func TestDecideIntoReusedMatchesDecide(t *testing.T) {
	rs := loadDir(t, "../examples/checkout")
	vip := profileOf(rs, "c-1042", map[string]any{
		"ltv": 1800.0, "orders": 9, "orders_90d": 3, "avg_order_value": 120.0, "first_name": "Ada", "country": "US",
		"last_order_at": time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), "top_categories": []string{"shoes", "apparel"},
		"discount_share": 0.4, "churn_risk": 0.3, "tier": "gold", "points": 1200,
	})
	big := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	small := cart("USD", "GIFT-1", "gift_cards", 10.0, 1)
	type tc struct {
		name string
		p    *Profile
		req  Request
	}
	cases := []tc{
		{"vip checkout", vip, Request{CustomerID: "c-1042", Placement: "checkout", Channel: "web", Cart: big, Now: testNow, DryRun: true}},
		{"anonymous", nil, Request{Placement: "checkout", Channel: "app", Cart: small, Now: testNow, DryRun: true}},
		{"explain", vip, Request{CustomerID: "c-1042", Placement: "cart", Cart: big, Now: testNow, DryRun: true, Explain: true}},
		{"no cart", nil, Request{CustomerID: "c-7", Placement: "product", Now: testNow, DryRun: true}},
		{"limit 1", vip, Request{CustomerID: "c-1042", Placement: "checkout", Cart: big, Now: testNow, DryRun: true, Limit: 1}},
	}
	ctx := context.Background()
	var reused Decision
	for round := 0; round < 3; round++ {
		for i := range cases {
			c := cases[(i+round)%len(cases)]
			want, err := New(Options{Ledger: newTestLedger()}).Decide(ctx, rs, c.p, &c.req)
			if err != nil {
				t.Fatal(err)
			}
			if err := New(Options{Ledger: newTestLedger()}).DecideInto(ctx, rs, c.p, &c.req, &reused); err != nil {
				t.Fatal(err)
			}
			if g, w := exported(&reused), exported(want); !reflect.DeepEqual(g, w) {
				t.Fatalf("round %d, %s:\n got %+v\nwant %+v", round, c.name, g, w)
			}
		}
	}
}

// BenchmarkDecideInto is BenchmarkDecide as the server decides: into a
// reused decision, from a reused request.
func BenchmarkDecideInto(b *testing.B) {
	rs := loadDir(b, "../examples/checkout")
	eng := New(Options{Ledger: newTestLedger()})
	p := profileOf(rs, "c-1042", map[string]any{
		"ltv": 1800.0, "orders": 9, "orders_90d": 3, "avg_order_value": 120.0, "first_name": "Ada", "country": "US",
		"last_order_at": time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), "signed_up_at": time.Date(2023, 5, 2, 0, 0, 0, 0, time.UTC),
		"top_categories": []string{"shoes", "apparel"}, "discount_share": 0.4, "churn_risk": 0.3, "tier": "gold", "points": 1200,
	})
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	ctx := context.Background()
	req := Request{DecisionID: "dcs_1", CustomerID: "c-1042", Placement: "checkout", Channel: "web",
		Cart: c, Context: map[string]any{"device": "mobile"}, Now: testNow, DryRun: true}
	var d Decision
	b.ReportAllocs()
	cpu := cpuNanos()
	for b.Loop() {
		if err := eng.DecideInto(ctx, rs, p, &req, &d); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}
