package simulate

import (
	"math/rand/v2"
	"strconv"

	"github.com/arbiterhq/arbiter/engine"
)

// The request mix: where the shop asks (the traffic's placements, by
// their shares), from which channel and device, and what is in the cart:
// 1 to 4 lines of the traffic's categories, half of them from the
// customer's top_categories when the profile has that list.

// request makes decision i's request for customer p in traffic t.
func request(r *rand.Rand, t *Traffic, i int, p *engine.Profile) engine.Request {
	u := r.Float64()
	placement := t.Placements[len(t.Placements)-1].Name
	for _, pl := range t.Placements {
		if u < pl.Share {
			placement = pl.Name
			break
		}
		u -= pl.Share
	}
	channel, device := "web", "desktop"
	switch x := r.Float64(); {
	case x < 0.35:
		channel, device = "app", "mobile"
	case x < 0.65:
		device = "mobile"
	}
	ctx := map[string]any{"device": device}
	if r.IntN(10) == 0 {
		ctx["utm_source"] = "newsletter"
	}
	var top []int // the customer's top categories that the traffic sells
	if l, ok := p.Value("top_categories").([]string); ok {
		for _, name := range l {
			if k, ok := t.index[name]; ok {
				top = append(top, k)
			}
		}
	}
	lines := 1 + r.IntN(3)
	if r.IntN(4) == 0 {
		lines++
	}
	items := make([]engine.Item, 0, lines)
	for k := 0; k < lines; k++ {
		c := &t.Categories[r.IntN(len(t.Categories))]
		if len(top) > 0 && r.IntN(2) == 0 {
			c = &t.Categories[top[r.IntN(len(top))]]
		}
		var price int64
		if t.example {
			// the example shop's prices, in dollars, end in .99
			lo, hi := float64(c.Lo)/100, float64(c.Hi)/100
			price = int64((lo + r.Float64()*(hi-lo)) * 100)
			price = price - price%100 + 99
		} else {
			price = min(c.Hi, c.Lo+int64(r.Float64()*float64(c.Hi-c.Lo+1)))
		}
		qty := 1
		if r.IntN(5) == 0 {
			qty = 2
		}
		cat := c.Name
		if t.example && cat == "accessories" && r.IntN(10) == 0 {
			cat = "gift_cards"
			price = 2500
		}
		var sku string
		if len(c.SKUs) > 0 {
			sku = c.SKUs[r.IntN(len(c.SKUs))]
		} else {
			sku = cat + "-" + strconv.Itoa(r.IntN(50))
		}
		items = append(items, engine.Item{SKU: sku, Category: cat, Price: price, Quantity: qty})
	}
	id := "sim-" + strconv.Itoa(i)
	return engine.Request{
		DecisionID: id,
		Ref:        id, // the ledger keeps the decision's grant records, for its outcomes
		CustomerID: p.ID,
		Placement:  placement,
		Channel:    channel,
		Cart:       engine.Cart{Currency: t.Currency, Items: items},
		Context:    ctx,
	}
}
