package engine

import (
	"context"
	"fmt"
	"github.com/arbiterhq/arbiter/rules"
	"testing"
)

// layersRules: three experiments in one layer, each with a `when` on its
// own attribute (so that a customer may be eligible for any of them), one
// stopped, and an experiment of another layer.
const layersRules = `
experiments:
  - id: by_value
    layer: pricing
    traffic: 30
    when: profile.ltv >= 500
    variants: [{id: control, weight: 50}, {id: test, weight: 50}]
  - id: by_orders
    layer: pricing
    traffic: 30
    when: profile.orders >= 2
    variants: [{id: control, weight: 20}, {id: a, weight: 30}, {id: b, weight: 50}]
  - id: paused
    layer: pricing
    traffic: 20
    status: stopped
    variants: [{id: control, weight: 50}, {id: test, weight: 50}]
  - id: everyone
    layer: pricing
    traffic: 20
    variants: [{id: control, weight: 50}, {id: test, weight: 50}]
  - id: ship_test
    layer: shipping
    traffic: 100
    variants: [{id: control, weight: 50}, {id: test, weight: 50}]
`

// TestLayers decides for 20,000 customers of every kind and checks the
// layer contract: no customer is in two experiments of a layer, whatever
// the experiments' conditions; a customer is in the experiment whose range
// holds their layer bucket when its condition holds, else in none of the
// layer; the variant is the first k with b × W < 10000 × C_k; a stopped
// experiment enrolls no one; events name the layer; and the shares come
// out right.
func TestLayers(t *testing.T) {
	rs := load(t, map[string]string{"x.yaml": layersRules})
	ranges := map[string][2]int{"by_value": {0, 2999}, "by_orders": {3000, 5999}, "paused": {6000, 7999}, "everyone": {8000, 9999}}
	eng := New(Options{})
	counts := map[string]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c-%06d", i)
		attrs := map[string]any{"ltv": float64(i % 1000), "orders": i % 3}
		req := Request{CustomerID: id, Now: testNow}
		d, err := eng.Decide(context.Background(), rs, profileOf(rs, id, attrs), &req)
		if err != nil {
			t.Fatal(err)
		}
		if d.Holdout {
			continue
		}
		perLayer := map[string]int{}
		for _, a := range d.Experiments {
			perLayer[a.Layer]++
			counts[a.ID+"/"+a.Variant]++
			counts[a.ID]++
		}
		if perLayer["pricing"] > 1 || perLayer["shipping"] != 1 {
			t.Fatalf("%s: %v: %v", id, d.Experiments, perLayer)
		}
		lb := Bucket("pricing", id)
		var want string
		for x, r := range ranges {
			if lb >= r[0] && lb <= r[1] {
				want = x
			}
		}
		eligible := map[string]bool{"by_value": attrs["ltv"].(float64) >= 500, "by_orders": attrs["orders"].(int) >= 2, "paused": false, "everyone": true}[want]
		got := ""
		for _, a := range d.Experiments {
			if a.Layer == "pricing" {
				got = a.ID
				x := rs.Experiments[indexOf(t, rs.Experiments, a.ID)]
				if k := splitVariant(x, int64(Bucket(x.ID, id)), Buckets); x.Variants[k].ID != a.Variant {
					t.Fatalf("%s: %s/%s, want %s", id, a.ID, a.Variant, x.Variants[k].ID)
				}
			}
		}
		if (got == want) != eligible || (got != "" && got != want) {
			t.Fatalf("%s: layer bucket %d (range of %s, eligible %v), enrolled in %q", id, lb, want, eligible, got)
		}
	}
	if counts["paused"] != 0 {
		t.Errorf("a stopped experiment enrolled %d customers", counts["paused"])
	}
	// Shares: everyone gets ~20% of the non-held-out customers, split 50/50.
	if e := counts["everyone"]; e < 3500 || e > 4100 {
		t.Errorf("everyone: %d customers, want about 3,800", e)
	}
	if c, b := counts["by_orders/control"], counts["by_orders/b"]; c == 0 || b < 2*c {
		t.Errorf("by_orders: control %d, b %d: want b about 2.5 × control", c, b)
	}
}

func indexOf(t *testing.T, xs []*rules.Experiment, id string) int {
	t.Helper()
	for i, x := range xs {
		if x.ID == id {
			return i
		}
	}
	t.Fatalf("no experiment %s", id)
	return -1
}
