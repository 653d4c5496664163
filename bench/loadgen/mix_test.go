package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/arbiterhq/arbiter/wire"
)

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c-%06d", i+1)
	}
	return out
}

func TestMixProportions(t *testing.T) {
	m, err := NewMix(MixConfig{KnownIDs: ids(1000), AnonymousShare: 0.10, UnknownShare: 0.15}, 42)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Generator()
	const n = 20000
	kinds := map[Kind]int{}
	placements := map[string]int{}
	channels := map[string]int{}
	items := map[int]int{}
	var body []byte
	for i := 0; i < n; i++ {
		var d Request
		body, d = g.Next(body[:0])
		kinds[d.Kind]++
		placements[d.Placement]++
		channels[d.Channel]++
		items[d.Items]++
	}
	// Binomial standard deviation at n=20000 is at most 0.35%: 1.5% is
	// more than 4 of them.
	near := func(what string, got int, want float64) {
		t.Helper()
		if share := float64(got) / n; math.Abs(share-want) > 0.015 {
			t.Errorf("%s: share %.3f, want %.3f", what, share, want)
		}
	}
	near("anonymous", kinds[Anonymous], 0.10)
	near("unknown", kinds[Unknown], 0.15)
	near("known", kinds[Known], 0.75)
	for _, w := range DefaultPlacements() {
		near("placement "+w.Value, placements[w.Value], w.Weight)
	}
	for _, w := range DefaultChannels() {
		near("channel "+w.Value, channels[w.Value], w.Weight)
	}
	// Carts: 1 to 8 items whenever there is a cart; product views without
	// one half the time.
	noCart := float64(placements["product"]) / 2 / n
	near("no cart", items[0], noCart)
	for k := range items {
		if k < 0 || k > 8 {
			t.Errorf("a cart of %d items", k)
		}
	}
	if items[1] <= items[8] {
		t.Errorf("carts of 1 item (%d) should be more common than of 8 (%d)", items[1], items[8])
	}
}

// Every generated body is a valid /v1/decide request for Arbiter's own
// decoder, with the customer it says.
func TestMixBodiesDecode(t *testing.T) {
	m, err := NewMix(MixConfig{KnownIDs: ids(50), AnonymousShare: 0.2, UnknownShare: 0.2}, 7)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Generator()
	for i := 0; i < 2000; i++ {
		body, d := g.Next(nil)
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("body %d is not JSON: %v\n%s", i, err, body)
		}
		req, err := wire.DecodeDecide(body, 3)
		if err != nil {
			t.Fatalf("body %d rejected by wire.DecodeDecide: %v\n%s", i, err, body)
		}
		id, _ := raw["customer_id"].(string)
		switch d.Kind {
		case Anonymous:
			if id != "" {
				t.Fatalf("anonymous body %d has customer_id %q", i, id)
			}
		case Known:
			if id < "c-000001" || id > "c-000050" {
				t.Fatalf("known body %d has id %q, not one of the profiles", i, id)
			}
		case Unknown:
			if len(id) != 9 || id[:3] != "c-9" {
				t.Fatalf("unknown body %d has id %q, want c-9NNNNNN", i, id)
			}
		}
		if req.Placement != d.Placement {
			t.Fatalf("body %d: placement %q, want %q", i, req.Placement, d.Placement)
		}
		if got := len(req.Cart.Items); got != d.Items {
			t.Fatalf("body %d: %d items, want %d", i, got, d.Items)
		}
		for j, it := range req.Cart.Items {
			if it.Quantity < 1 || it.Category == "" {
				t.Fatalf("body %d item %d: %+v", i, j, it)
			}
		}
	}
}

func TestMixSequentialVisitsEveryIDOnce(t *testing.T) {
	m, err := NewMix(MixConfig{KnownIDs: ids(300), Sequential: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	gens := []*Generator{m.Generator(), m.Generator(), m.Generator()}
	for i := 0; i < 300; i++ {
		body, _ := gens[i%3].Next(nil)
		var raw struct {
			CustomerID string `json:"customer_id"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		seen[raw.CustomerID]++
	}
	if len(seen) != 300 {
		t.Errorf("300 sequential requests saw %d distinct customers, want 300", len(seen))
	}
}

func TestNewMixErrors(t *testing.T) {
	tests := []MixConfig{
		{KnownIDs: ids(1), AnonymousShare: 0.6, UnknownShare: 0.5},
		{KnownIDs: ids(1), AnonymousShare: -0.1},
		{AnonymousShare: 0.5}, // no ids, yet half the requests need one
	}
	for i, cfg := range tests {
		if _, err := NewMix(cfg, 1); err == nil {
			t.Errorf("case %d: NewMix(%+v) = nil error", i, cfg)
		}
	}
	if _, err := NewMix(MixConfig{AnonymousShare: 0.5, UnknownShare: 0.5}, 1); err != nil {
		t.Errorf("no ids but no known requests: %v", err)
	}
}
