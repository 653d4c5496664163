package examples_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/ruletest"
)

func loadCheckout(t *testing.T) *rules.Ruleset {
	t.Helper()
	rs, err := rulefiles.LoadFS(checkoutFS(t))
	if err != nil {
		t.Fatalf("rulefiles.LoadFS(examples.Checkout/checkout): %v", err)
	}
	return rs
}

// TestCheckoutRuleTests runs the example's rule tests (tests/*_test.yaml)
// as `arbiter rules test examples/checkout` does.
func TestCheckoutRuleTests(t *testing.T) {
	rs := loadCheckout(t)
	eng := engine.New(engine.Options{Ledger: engine.NewMemoryLedger()})
	results := ruletest.Run(context.Background(), rs, eng)
	if len(results) != len(rs.Tests) || len(results) == 0 {
		t.Fatalf("%d results for %d tests", len(results), len(rs.Tests))
	}
	for _, r := range results {
		if r.Pass {
			continue
		}
		var b strings.Builder
		if r.Err != nil {
			fmt.Fprintf(&b, "\n  error: %v", r.Err)
		}
		for _, m := range r.Mismatches {
			fmt.Fprintf(&b, "\n  %s: expected %s, got %s", m.What, m.Expected, m.Got)
		}
		for _, line := range ruletest.Explanation(r.Decision) {
			b.WriteString("\n    " + line)
		}
		t.Errorf("%s%s", r.Name(), b.String())
	}
}

// grantTester makes real (not dry-run) decisions against one in-memory
// ledger, so that caps and budgets are consumed as in production.
type grantTester struct {
	t   *testing.T
	rs  *rules.Ruleset
	eng *engine.Engine
	seq int
}

func newGrantTester(t *testing.T) *grantTester {
	return &grantTester{t: t, rs: loadCheckout(t), eng: engine.New(engine.Options{Ledger: engine.NewMemoryLedger()})}
}

// decide decides for the profile (JSON form) at checkout with one line of
// the given category and price, at now.
func (g *grantTester) decide(profile map[string]any, channel string, price float64, now time.Time) *engine.Decision {
	g.t.Helper()
	p, err := profiles.FromJSON(&g.rs.Schema, profile)
	if err != nil {
		g.t.Fatal(err)
	}
	g.seq++
	req := &engine.Request{
		DecisionID: fmt.Sprintf("dcs_example_%d", g.seq),
		CustomerID: p.ID,
		Placement:  "checkout",
		Channel:    channel,
		Cart: engine.Cart{Currency: "USD", Items: []engine.Item{
			{SKU: "COAT-1", Category: "outerwear", Price: int64(price * 100), Quantity: 1},
		}},
		Context: map[string]any{},
		Explain: true,
		Now:     now,
	}
	d, err := g.eng.Decide(context.Background(), g.rs, p, req)
	if err != nil {
		g.t.Fatal(err)
	}
	return d
}

func chosen(d *engine.Decision, offerID string) bool {
	for _, a := range d.Actions {
		if a.OfferID == offerID {
			return true
		}
	}
	return false
}

func reason(d *engine.Decision, offerID string) string {
	if d.Explain == nil {
		return "(no explanation)"
	}
	for _, o := range d.Explain.Offers {
		if o.ID == offerID {
			if o.Chosen {
				return "chosen"
			}
			return o.Reason
		}
	}
	return "(not in the explanation)"
}

func inHoldout(id string) bool { return engine.Bucket("holdout", id) < 500 }

// TestWinbackOncePerCustomer: the win-back coupon has per_customer
// {limit: 1} without a window: a lapsed customer gets it once, and never
// again, however long they stay lapsed; other lapsed customers still get it.
// The carts are under $100, where spend-and-save (which would earn more at
// the prior, see arbitration.yaml's learning) does not apply.
func TestWinbackOncePerCustomer(t *testing.T) {
	g := newGrantTester(t)
	lapsed := func(id string) map[string]any {
		return map[string]any{
			"id": id, "first_name": "Marta", "ltv": 500.0, "orders": 3.0, "last_order_at": "2026-05-02T12:00:00Z",
			"tier": "silver", "newsletter_opt_in": true, "discount_share": 0.3, "churn_risk": 0.9,
		}
	}
	now := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	d := g.decide(lapsed("c-lapsed-marta"), "web", 90, now)
	if !chosen(d, "winback_20") {
		t.Fatalf("first visit: winback_20 not granted (%s)", reason(d, "winback_20"))
	}
	for _, later := range []time.Duration{time.Hour, 7 * 24 * time.Hour, 400 * 24 * time.Hour} {
		d = g.decide(lapsed("c-lapsed-marta"), "web", 90, now.Add(later))
		if chosen(d, "winback_20") {
			t.Fatalf("%v later: winback_20 granted a second time", later)
		}
		if r := reason(d, "winback_20"); r != engine.ReasonCapPerCustomer {
			t.Errorf("%v later: winback_20 not chosen for %q, want %q", later, r, engine.ReasonCapPerCustomer)
		}
		// with a $150 cart, spend-and-save takes the checkout_discount slot
		d = g.decide(lapsed("c-lapsed-marta"), "web", 150, now.Add(later))
		if chosen(d, "winback_20") || !chosen(d, "spend_and_save") {
			t.Errorf("%v later, $150: want spend_and_save and no winback_20, got %v", later, d.Actions)
		}
	}
	d = g.decide(lapsed("c-lapsed-lou"), "web", 90, now)
	if !chosen(d, "winback_20") {
		t.Fatalf("another lapsed customer: winback_20 not granted (%s)", reason(d, "winback_20"))
	}
}

// TestFirst1000AppOrders: app_first_1000 has caps.total 1000: the first
// 1000 app orders get $10 off, the 1001st does not.
func TestFirst1000AppOrders(t *testing.T) {
	g := newGrantTester(t)
	now := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	granted, i := 0, 0
	for granted < 1000 {
		i++
		if i > 2000 {
			t.Fatalf("only %d grants in %d app orders", granted, i-1)
		}
		id := fmt.Sprintf("c-app-%05d", i)
		if inHoldout(id) {
			continue
		}
		d := g.decide(map[string]any{"id": id, "orders": 1.0, "ltv": 60.0, "last_order_at": "2026-10-29T12:00:00Z",
			"tier": "silver", "newsletter_opt_in": true, "discount_share": 0.3}, "app", 60, now)
		if !chosen(d, "app_first_1000") {
			t.Fatalf("app order %d (%s): not granted (%s) after %d grants", i, id, reason(d, "app_first_1000"), granted)
		}
		granted++
	}
	for {
		i++
		id := fmt.Sprintf("c-app-%05d", i)
		if inHoldout(id) {
			continue
		}
		d := g.decide(map[string]any{"id": id, "orders": 1.0, "ltv": 60.0, "last_order_at": "2026-10-29T12:00:00Z",
			"tier": "silver", "newsletter_opt_in": true, "discount_share": 0.3}, "app", 60, now)
		if chosen(d, "app_first_1000") {
			t.Fatal("the 1001st app order was granted app_first_1000")
		}
		if r := reason(d, "app_first_1000"); r != engine.ReasonCapTotal {
			t.Errorf("the 1001st app order: reason %q, want %q", r, engine.ReasonCapTotal)
		}
		break
	}
}

// TestFlashSaleBudget: the flash sale stops when its $25,000 budget is
// spent: 250 orders at its $100 maximum, then the reason is budget.
func TestFlashSaleBudget(t *testing.T) {
	g := newGrantTester(t)
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) // Friday 20:00 in New York
	spent, i := 0.0, 0
	for spent < 25000 {
		i++
		if i > 600 {
			t.Fatalf("only $%.2f spent in %d orders", spent, i-1)
		}
		id := fmt.Sprintf("c-bf-%05d", i)
		if inHoldout(id) {
			continue
		}
		d := g.decide(map[string]any{"id": id, "orders": 4.0, "ltv": 600.0, "last_order_at": "2026-11-17T12:00:00Z",
			"tier": "silver", "newsletter_opt_in": true, "discount_share": 0.3}, "web", 400, now)
		if !chosen(d, "black_friday_flash") {
			t.Fatalf("order %d: flash sale not granted (%s) after $%.2f", i, reason(d, "black_friday_flash"), spent)
		}
		for _, a := range d.Actions {
			if a.OfferID == "black_friday_flash" {
				spent += float64(a.Discount.Amount.Minor) / 100
			}
		}
	}
	if spent != 25000 {
		t.Fatalf("spent $%.2f, want exactly $25,000", spent)
	}
	d := g.decide(map[string]any{"id": "c-bf-late", "orders": 4.0, "ltv": 600.0, "last_order_at": "2026-11-17T12:00:00Z",
		"tier": "silver", "newsletter_opt_in": true, "discount_share": 0.3}, "web", 400, now)
	if chosen(d, "black_friday_flash") {
		t.Fatal("the flash sale was granted past its budget")
	}
	if r := reason(d, "black_friday_flash"); r != engine.ReasonBudget {
		t.Errorf("past the budget: reason %q, want %q", r, engine.ReasonBudget)
	}
	if !chosen(d, "spend_and_save") {
		t.Errorf("past the budget, spend_and_save should take the slot; got %v", d.Actions)
	}
}
