package profilegen_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
)

// TestGeneratedProfilesHitEverySegment loads the example ruleset and runs a
// dry-run decision for each of 3000 generated customers, with requests that
// vary channel, device, source and cart the way shop traffic does (every
// fourth one during the Black Friday flash sale), and checks that every
// segment of the ruleset matched at least once, that every offer was chosen
// at least once (with 100 visitors without a customer id added, for the
// visitors' newsletter offer), and that no expression failed at run time.
func TestGeneratedProfilesHitEverySegment(t *testing.T) {
	rs, err := rulefiles.Load(filepath.Join("..", "checkout"))
	if err != nil {
		t.Fatalf("loading examples/checkout: %v", err)
	}
	ref := profilegen.DefaultRef()
	eng := engine.New(engine.Options{Ledger: memledger.New()})
	flash := time.Date(2026, 11, 27, 20, 0, 0, 0, time.FixedZone("EST", -5*3600))
	r := rand.New(rand.NewPCG(7, 7))
	hits := map[string]int{}
	chosen := map[string]int{}
	for i, m := range profilegen.Generate(1, 3000, ref) {
		// Through JSON, as the profiles reach Arbiter.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var jm map[string]any
		if err := json.Unmarshal(b, &jm); err != nil {
			t.Fatal(err)
		}
		p, err := profiles.FromJSON(&rs.Schema, jm)
		if err != nil {
			t.Fatalf("profile %s: %v", jm["id"], err)
		}
		req := shopRequest(r, i, p.ID)
		req.Now = ref
		if i%4 == 3 {
			req.Now = flash
		}
		d, err := eng.Decide(context.Background(), rs, p, req)
		if err != nil {
			t.Fatalf("decide for %s: %v", p.ID, err)
		}
		for _, s := range d.Segments {
			hits[s]++
		}
		for _, a := range d.Actions {
			chosen[a.OfferID]++
		}
		if d.Explain != nil {
			for _, s := range d.Explain.Segments {
				if s.Error != "" {
					t.Errorf("%s: segment %s failed: %s", p.ID, s.ID, s.Error)
				}
			}
			for _, o := range d.Explain.Offers {
				if o.Error != "" {
					t.Errorf("%s: offer %s failed: %s", p.ID, o.ID, o.Error)
				}
			}
		}
	}
	// Visitors without a customer id, whose newsletter offer is their own
	// (newsletter_signup_visitor: a per-customer cap cannot count them).
	for i := 0; i < 100; i++ {
		req := shopRequest(r, 3000+i, "")
		req.Now = ref
		d, err := eng.Decide(context.Background(), rs, engine.DefaultProfile(&rs.Schema, ""), req)
		if err != nil {
			t.Fatalf("decide for visitor %d: %v", i, err)
		}
		for _, a := range d.Actions {
			chosen[a.OfferID]++
		}
	}
	for _, s := range rs.Segments {
		if hits[s.ID] == 0 {
			t.Errorf("segment %s matched none of 3000 generated customers", s.ID)
		}
	}
	for _, o := range rs.Offers {
		if chosen[o.ID] == 0 {
			t.Errorf("offer %s was chosen for none of 3000 generated customers", o.ID)
		}
	}
	t.Logf("segment hits: %v", hits)
	t.Logf("offers chosen: %v", chosen)
}

// shopRequest makes the i-th request of a day of shop traffic: a third in
// the app, half on phones, a fifth from the newsletter, mostly checkouts,
// with carts from $5 to several hundred dollars.
func shopRequest(r *rand.Rand, i int, customerID string) *engine.Request {
	req := &engine.Request{
		DecisionID: fmt.Sprintf("dcs_test_%d", i),
		CustomerID: customerID,
		Placement:  "checkout",
		Channel:    "web",
		Context:    map[string]any{"device": "desktop", "country": "US"},
		DryRun:     true,
		Explain:    true,
	}
	if i%3 == 0 {
		req.Channel = "app"
	}
	if i%2 == 0 {
		req.Context["device"] = "mobile"
	}
	if i%5 == 0 {
		req.Context["utm_source"] = "newsletter"
	}
	placements := []string{"checkout", "checkout", "cart", "product", "home"}
	req.Placement = placements[r.IntN(len(placements))]
	if req.Placement == "home" {
		return req
	}
	req.Cart.Currency = "USD"
	cats := append(profilegen.Categories(), "gift_cards")
	for n := 1 + r.IntN(4); n > 0; n-- {
		c := cats[r.IntN(len(cats))]
		sku := fmt.Sprintf("%s-%d", c, r.IntN(50))
		if slices.ContainsFunc(req.Cart.Items, func(it engine.Item) bool { return it.SKU == sku }) {
			continue
		}
		req.Cart.Items = append(req.Cart.Items, engine.Item{
			SKU:      sku,
			Category: c,
			Price:    int64(500 + r.IntN(20000)), // $5.00 to $205.00, in cents
			Quantity: 1 + r.IntN(3),
		})
	}
	return req
}
