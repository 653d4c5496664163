package examples_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/ruletest"
)

// TestNoOffersStackIntoAGiveAway decides, dry, for customers who qualify for
// as much as the example's playbook offers at once (a gold VIP at risk or
// lapsed, with a birthday this week, a sign-up anniversary, points to
// redeem, shoes and beauty among their favourites, price sensitive, not on
// the newsletter; a new customer; an anonymous visitor), with carts of
// shoes, coats and gift cards, on every placement, channel and device, in
// every currency the shop sells in (and one it has no rate for), on an
// ordinary day and at the Black Friday flash sale's hours (New York), and
// checks DOMAIN.md's "what must never happen": at most one checkout
// discount (and one offer of any group), at most three actions, the
// discounts together within 30% of the cart (the guardrail), every
// discount in the cart's currency and none above what it applies to.
func TestNoOffersStackIntoAGiveAway(t *testing.T) {
	rs := loadCheckout(t)
	eng := engine.New(engine.Options{Ledger: memledger.New()})
	groupOf := map[string]string{}
	for _, o := range rs.Offers {
		groupOf[o.ID] = o.Group
	}
	everything := func(id, lastOrder string) map[string]any {
		return map[string]any{
			"id": id, "first_name": "Eve", "ltv": 5000, "orders": 20, "orders_90d": 0, "avg_order_value": 250,
			"first_order_at": "2019-01-10T12:00:00Z", "last_order_at": lastOrder,
			"signed_up_at": "2019-11-30T10:00:00Z", "birthday": "1990-11-30T00:00:00Z",
			"tier": "platinum", "points": 5000, "newsletter_opt_in": false,
			"top_categories": []any{"shoes", "beauty"}, "discount_share": 0.9, "churn_risk": 1.0,
		}
	}
	profiles := map[string]map[string]any{
		// c-vip-ada is in discount_depth's deep variant (20%), c-vip-boris in its control.
		"VIP at risk (deep)":     everything("c-vip-ada", "2026-08-20T12:00:00Z"),
		"VIP at risk (control)":  everything("c-vip-boris", "2026-08-20T12:00:00Z"),
		"VIP lapsed (deep)":      everything("c-vip-ada", "2026-03-01T12:00:00Z"),
		"VIP active, churn risk": everything("c-vip-hal", "2026-11-20T12:00:00Z"),
		"new customer": {"id": "c-welcome-lina", "signed_up_at": "2026-11-10T09:00:00Z", "birthday": "1990-11-30T00:00:00Z",
			"top_categories": []any{"shoes"}, "tier": "gold", "points": 900},
		"anonymous": nil,
	}
	// Prices in the shop's dollars; a yen cart's are 150 times as many.
	type line struct {
		sku, category string
		price         float64
		qty           int
	}
	carts := map[string][]line{
		"three equal pairs of shoes": {{"SHOE-A", "shoes", 50, 1}, {"SHOE-B", "shoes", 50, 1}, {"SHOE-C", "shoes", 50, 1}},
		"six pairs and a coat":       {{"SHOE-A", "shoes", 80, 3}, {"SHOE-B", "shoes", 70, 3}, {"COAT-1", "outerwear", 300, 1}},
		"shoes and a big gift card":  {{"SHOE-A", "shoes", 60, 3}, {"GIFTCARD-500", "gift_cards", 500, 1}},
		"only gift cards":            {{"GIFTCARD-100", "gift_cards", 100, 3}},
		"a $60 cart":                 {{"TEE-1", "apparel", 30, 2}},
		"a $2000 coat":               {{"COAT-9", "outerwear", 2000, 1}},
	}
	times := []string{
		"2026-11-18T15:00:00Z",      // an ordinary Wednesday
		"2026-11-27T20:00:00-05:00", // Black Friday evening, the flash sale
		"2026-11-29T23:59:00-05:00", // its last minute
		"2026-11-27T12:00:00-05:00", // Black Friday noon
	}
	currencies := []string{"USD", "EUR", "GBP", "CAD", "JPY", "CHF"}
	placements := []string{"checkout", "cart", "product", "home", "account"}
	channels := []map[string]any{
		{"channel": "app", "context": map[string]any{"device": "mobile", "utm_source": "newsletter"}},
		{"channel": "web", "context": map[string]any{"device": "mobile"}},
		{"channel": "web", "context": map[string]any{"device": "desktop"}},
	}
	decided, flash := 0, 0
	for pname, profile := range profiles {
		for cname, cart := range carts {
			for _, cur := range currencies {
				scale := 1.0
				if cur == "JPY" {
					scale = 150
				}
				items := []any{}
				for _, l := range cart {
					items = append(items, map[string]any{"sku": l.sku, "category": l.category, "price": l.price * scale, "quantity": l.qty})
				}
				for _, now := range times {
					for _, placement := range placements {
						for _, ch := range channels {
							request := map[string]any{"placement": placement, "channel": ch["channel"], "context": ch["context"],
								"cart": map[string]any{"currency": cur, "items": items}, "now": now}
							name := fmt.Sprintf("%s, %s in %s, %s at %s, %s %v", pname, cname, cur, placement, now, ch["channel"], ch["context"])
							req, p, err := ruletest.Prepare(rs, profile, request)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							d, err := eng.Decide(context.Background(), rs, p, req)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							decided++
							checkNoGiveAway(t, name, d, groupOf, rs.Arbitration.MaxDiscountPercent)
							if chosen(d, "black_friday_flash") {
								flash++
							}
						}
					}
				}
			}
		}
	}
	if flash == 0 {
		t.Errorf("the flash sale was never granted in %d decisions: the sweep does not reach its hours", decided)
	}
}

func checkNoGiveAway(t *testing.T, name string, d *engine.Decision, groupOf map[string]string, maxPercent float64) {
	t.Helper()
	if len(d.Actions) > 3 {
		t.Errorf("%s: %d actions, at most 3", name, len(d.Actions))
	}
	groups := map[string]string{}
	var total int64
	for _, a := range d.Actions {
		if g := groupOf[a.OfferID]; g != "" {
			if other, ok := groups[g]; ok {
				t.Errorf("%s: %s and %s are both of the group %s", name, other, a.OfferID, g)
			}
			groups[g] = a.OfferID
		}
		if a.Discount == nil {
			continue
		}
		if a.Discount.Currency != d.Currency || a.Discount.Amount.Exp != d.CartTotal.Exp {
			t.Errorf("%s: %s's discount is in %s (exp %d), the cart in %s (exp %d)", name, a.OfferID,
				a.Discount.Currency, a.Discount.Amount.Exp, d.Currency, d.CartTotal.Exp)
		}
		var lines int64
		for _, it := range a.Discount.Items {
			lines += it.Amount.Minor
		}
		if a.Discount.Amount.Minor < 0 || (!a.Discount.FreeShipping && lines != a.Discount.Amount.Minor) {
			t.Errorf("%s: %s's discount %d is not the sum of its lines %d", name, a.OfferID, a.Discount.Amount.Minor, lines)
		}
		total += a.Discount.Amount.Minor
	}
	// The guardrail: the discounts together never above maxPercent of the
	// cart (in integers: total*100 <= percent*cart).
	if float64(total)*100 > maxPercent*float64(d.CartTotal.Minor) {
		t.Errorf("%s: discounts of %d on a cart of %d (minor units): more than %v%%: %v",
			name, total, d.CartTotal.Minor, maxPercent, d.Actions)
	}
}
