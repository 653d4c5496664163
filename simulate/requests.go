package simulate

import (
	"math/rand/v2"
	"strconv"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
)

// The request mix: where the shop asks, from which channel and device, and
// what is in the cart. Carts lean towards the customer's favourite
// categories; totals run from a single accessory to a few pairs of shoes
// and a coat.

// simCurrency is the currency of every simulated cart.
const simCurrency = "USD"

// placements and their shares: the checkout asks most.
var placements = [...]struct {
	name  string
	share float64
}{{"checkout", 0.6}, {"cart", 0.3}, {"product", 0.1}}

// priceRange is the price range of a category, in dollars.
func priceRange(category string) (lo, hi float64) {
	switch category {
	case "shoes":
		return 40, 140
	case "outerwear":
		return 60, 220
	case "apparel":
		return 15, 80
	case "beauty":
		return 8, 60
	case "home":
		return 12, 120
	case "sports":
		return 20, 150
	case "kids":
		return 10, 50
	}
	return 5, 40 // accessories and the rest
}

// request makes decision i's request for customer p.
func request(r *rand.Rand, i int, p *engine.Profile) engine.Request {
	u := r.Float64()
	placement := placements[len(placements)-1].name
	for _, pl := range placements {
		if u < pl.share {
			placement = pl.name
			break
		}
		u -= pl.share
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
	cats := profilegen.Categories()
	var top []string
	if l, ok := p.Value("top_categories").([]string); ok {
		top = l
	}
	lines := 1 + r.IntN(3)
	if r.IntN(4) == 0 {
		lines++
	}
	items := make([]engine.Item, 0, lines)
	for k := 0; k < lines; k++ {
		cat := cats[r.IntN(len(cats))]
		if len(top) > 0 && r.IntN(2) == 0 {
			cat = top[r.IntN(len(top))]
		}
		lo, hi := priceRange(cat)
		price := int64((lo + r.Float64()*(hi-lo)) * 100)
		price = price - price%100 + 99 // x.99
		qty := 1
		if r.IntN(5) == 0 {
			qty = 2
		}
		if cat == "accessories" && r.IntN(10) == 0 {
			cat = "gift_cards"
			price = 2500
		}
		items = append(items, engine.Item{SKU: cat + "-" + strconv.Itoa(r.IntN(50)), Category: cat, Price: price, Quantity: qty})
	}
	id := "sim-" + strconv.Itoa(i)
	return engine.Request{
		DecisionID: id,
		Ref:        id, // the ledger keeps the decision's grant records, for its outcomes
		CustomerID: p.ID,
		Placement:  placement,
		Channel:    channel,
		Cart:       engine.Cart{Currency: simCurrency, Items: items},
		Context:    ctx,
	}
}
