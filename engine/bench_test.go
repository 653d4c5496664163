package engine

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDecide decides on the example checkout ruleset (28 segments, 17
// offers, an experiment, caps through the in-memory ledger) for a VIP with
// a three-line cart, as the checkout asks on every view.
func BenchmarkDecide(b *testing.B) {
	rs := loadDir(b, "../examples/checkout")
	eng := New(Options{Ledger: newTestLedger()})
	p := profileOf(rs, "c-1042", map[string]any{
		"ltv": 1800.0, "orders": 9, "orders_90d": 3, "avg_order_value": 120.0, "first_name": "Ada", "country": "US",
		"last_order_at": time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), "signed_up_at": time.Date(2023, 5, 2, 0, 0, 0, 0, time.UTC),
		"top_categories": []string{"shoes", "apparel"}, "discount_share": 0.4, "churn_risk": 0.3, "tier": "gold", "points": 1200,
	})
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	cpu := startCPU()
	for b.Loop() {
		i++
		req := Request{DecisionID: "dcs_" + strconv.Itoa(i&1023), CustomerID: "c-1042", Placement: "checkout", Channel: "web",
			Cart: c, Context: map[string]any{"device": "mobile"}, Now: testNow, DryRun: true}
		if _, err := eng.Decide(ctx, rs, p, &req); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}
