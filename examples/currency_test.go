package examples_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
)

// TestFlashSaleBudgetAcrossCurrencies: the flash sale's $25,000 budget is
// one budget, whatever the currencies of the carts: orders in dollars,
// euros, pounds and yen use it up together (each grant counted in dollars,
// rounded up), it is never overspent, and a cart in a currency without a
// rate never touches it.
func TestFlashSaleBudgetAcrossCurrencies(t *testing.T) {
	rs := loadCheckout(t)
	ledger := engine.NewMemoryLedger()
	eng := engine.New(engine.Options{Ledger: ledger})
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) // Friday 20:00 in New York
	carts := []struct {
		cur   string
		price int64 // minor units: a coat of about $400
	}{{"USD", 40000}, {"EUR", 37000}, {"GBP", 31500}, {"JPY", 60000}, {"CHF", 36000}}
	granted := map[string]int{}
	for i := 0; i < 600; i++ {
		id := fmt.Sprintf("c-bf-%05d", i)
		if inHoldout(id) {
			continue
		}
		p, err := profiles.FromJSON(&rs.Schema, map[string]any{"id": id, "orders": 4.0, "ltv": 600.0,
			"last_order_at": "2026-11-17T12:00:00Z", "tier": "silver", "newsletter_opt_in": true, "discount_share": 0.3})
		if err != nil {
			t.Fatal(err)
		}
		c := carts[i%len(carts)]
		req := &engine.Request{DecisionID: "dcs_" + id, CustomerID: id, Placement: "checkout", Channel: "web", Explain: true, Now: now,
			Cart: engine.Cart{Currency: c.cur, Items: []engine.Item{{SKU: "COAT-1", Category: "outerwear", Price: c.price, Quantity: 1}}}}
		d, err := eng.Decide(context.Background(), rs, p, req)
		if err != nil {
			t.Fatal(err)
		}
		if chosen(d, "black_friday_flash") {
			granted[c.cur]++
		} else if c.cur == "CHF" && reason(d, "black_friday_flash") != engine.ReasonCurrency {
			t.Fatalf("a CHF cart: reason %q, want currency", reason(d, "black_friday_flash"))
		}
	}
	spent := ledger.Spent("black_friday_flash", "USD")
	if spent > 25000_00 || spent < 25000_00-100_00 {
		t.Errorf("counted %d cents against the $25,000 budget", spent)
	}
	for _, cur := range []string{"EUR", "GBP", "JPY", "CHF"} {
		if n := ledger.Spent("black_friday_flash", cur); n != 0 {
			t.Errorf("%d counted in %s", n, cur)
		}
		if cur != "CHF" && granted[cur] == 0 {
			t.Errorf("no grant in %s", cur)
		}
	}
	if granted["CHF"] != 0 {
		t.Errorf("%d grants to CHF carts, which have no rate", granted["CHF"])
	}
	t.Logf("grants per currency %v, %d cents counted", granted, spent)
}
