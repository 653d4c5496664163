package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
)

// TestPacingTenDays: "the Black Friday 10 days" paced evenly, with a total
// of 1000 grants and a budget of 500.00 USD, under a demand far above
// either (a decision every 90 s, each a 1.00 USD discount, so the budget
// binds first): at the end of every day the grants never exceed
// ⌈1000 × f⌉ and the spend never exceeds 500.00 × f, each day's share is
// taken, and an offer held back says `pacing` in explain (and `budget`
// once the budget is spent).
func TestPacingTenDays(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(`
offers:
  - id: ten_days
    discount: {amount: 1}
    schedule: {start: 2026-11-20T00:00:00Z, end: 2026-11-30T00:00:00Z}
    caps: {total: 1000, budget: 500, pacing: even}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	eng := engine.New(engine.Options{Ledger: memledger.New()})
	c := engine.Cart{Currency: "USD", Items: []engine.Item{{SKU: "A", Price: 5000, Quantity: 1}}}
	granted, paced := 0, 0
	for k := 0; k < 10*24*40; k++ {
		now := start.Add(time.Duration(k) * 90 * time.Second)
		d, err := eng.Decide(context.Background(), rs, engine.ProfileOf(rs, "c1", nil),
			&engine.Request{CustomerID: "c1", Placement: "checkout", Cart: c, Now: now, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Actions) == 1 {
			granted++
		} else if r := d.Explain.Offers[0].Reason; r == engine.ReasonPacing {
			paced++
		} else if r != engine.ReasonBudget || granted != 500 {
			t.Fatalf("at %v: not granted, reason %q", now, r)
		}
		if next := now.Add(90 * time.Second); next.Sub(start)%(24*time.Hour) == 0 {
			day := int(next.Sub(start) / (24 * time.Hour))
			t.Logf("day %2d: %3d grants = %6.2f USD spent (share %6.2f USD, %4d grants); %d held back by pacing",
				day, granted, float64(granted), 50.0*float64(day), 100*day, paced)
			if granted > 50*day || granted < 50*day-1 {
				t.Errorf("day %d: %d USD spent, share %d", day, granted, 50*day)
			}
		}
	}
	if granted != 500 {
		t.Errorf("%d USD spent over the window, want the whole 500", granted)
	}
}
