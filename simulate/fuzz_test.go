package simulate

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/engine"
)

// FuzzParseTruth: any text as a truth file parses or fails with positioned
// errors; it never panics, and what parses has probabilities in [0, 1].
func FuzzParseTruth(f *testing.F) {
	rs := loadRules(f, "../examples/checkout")
	if b, err := os.ReadFile("../examples/checkout/shop_truth.yaml"); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{"", "offers: {}\nvalue: 1\n", "offers: [\n", "offers: {stay_with_us: {at_risk: 2}}\nvalue: x\n", "- 1", "value: &a [*a]",
		"offers: {stay_with_us: [1]}\nvalue: cart.total\ndelay: 9999999999999999999\n", "offers: {stay_with_us: {default: .5, vip: 1e-3}}\nvalue: 'discount'\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tr, err := ParseTruth(rs, "t.yaml", []byte(text))
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				if e.Line < 1 || e.Col < 1 || e.File != "t.yaml" {
					t.Fatalf("an error without a position: %+v", e)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("an error without a position: %v", err)
		}
		for _, o := range tr.Offers {
			for _, p := range append([]float64{o.Default}, rates(o)...) {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("probability %v", p)
				}
			}
		}
		if tr.Value == nil || tr.Delay < 0 {
			t.Fatalf("parsed without a value or with delay %d", tr.Delay)
		}
	})
}

func rates(o TruthOffer) []float64 {
	var out []float64
	for _, s := range o.Segments {
		out = append(out, s.P)
	}
	return out
}

// FuzzParseTraffic: any text as a traffic file parses or fails with
// positioned errors; it never panics, and what parses can make requests:
// a known currency, placements whose shares sum to 1, categories with a
// range of prices.
func FuzzParseTraffic(f *testing.F) {
	rs := loadRules(f, "testdata/beauty/rules")
	if b, err := os.ReadFile("testdata/beauty/traffic.yaml"); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{"", "categories: {a: {price: [1, 2]}}\n", "currency: JPY\ncategories: {a: {price: [0, 1e300]}}\n",
		"placements: {a: 1e308, b: 1e308}\ncategories: {a: {price: [1, 2]}}\n", "placements: {a: 5e-324, b: 1e308}\ncategories: {a: {price: [1, 2]}}\n",
		"categories: {a: {price: [1, 2]}\n  b: x\n", "categories: {a: {price: [1, 2], skus: [x, *y]}}\n",
		"start: 2026-03-02T09:00:00Z\nplacements: {basket: .5}\ncategories: {a: {price: [0.01, 0.01]}}\n", "- 1", "categories: &a [*a]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tr, err := ParseTraffic(rs, "t.yaml", []byte(text))
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				if e.Line < 1 || e.Col < 1 || e.File != "t.yaml" {
					t.Fatalf("an error without a position: %+v", e)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("an error without a position: %v", err)
		}
		if _, ok := engine.CurrencyExp(tr.Currency); !ok || len(tr.Placements) == 0 || len(tr.Categories) == 0 {
			t.Fatalf("parsed into traffic that makes no requests: %+v", tr)
		}
		sum := 0.0
		for _, pl := range tr.Placements {
			if !(pl.Share > 0) {
				t.Fatalf("share %v", pl.Share)
			}
			sum += pl.Share
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("shares sum to %v", sum)
		}
		for _, c := range tr.Categories {
			if c.Lo < 0 || c.Hi < c.Lo || c.Hi == 0 {
				t.Fatalf("category %+v", c)
			}
		}
		r := rand.New(rand.NewPCG(1, 1))
		p := &engine.Profile{ID: "c", Known: true}
		for i := 0; i < 20; i++ {
			req := request(r, tr, i, p)
			for _, it := range req.Cart.Items {
				if it.Price < 0 || it.Quantity < 1 || it.SKU == "" {
					t.Fatalf("line %+v", it)
				}
			}
		}
	})
}

// FuzzLoadProfiles: any text as a profiles file loads or fails with
// positioned errors; it never panics, and what loads is known customers,
// each on one line.
func FuzzLoadProfiles(f *testing.F) {
	rs := loadRules(f, "testdata/beauty/rules")
	if b, err := os.ReadFile("testdata/beauty/profiles.jsonl"); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{"", "{\"id\": \"a\"}\n{\"id\": \"a\"}\n", "{\"id\": 1e400}", "{\"id\": \"é\", \"skin_typé\": 1}", "{\"id\":\"a\",\"orders\":7.0}\n\n",
		"\t{\"id\": \"a\"", "{\"id\": \"a\", \"top_categories\": [null]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ps, err := LoadProfiles(rs, "p.jsonl", strings.NewReader(text))
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				if e.Line < 1 || e.Col < 1 || e.File != "p.jsonl" {
					t.Fatalf("an error without a position: %+v", e)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("an error without a position: %v", err)
		}
		seen := map[string]bool{}
		for _, p := range ps.List {
			if p.ID == "" || !p.Known || seen[p.ID] {
				t.Fatalf("profile %+v (seen: %v)", p, seen[p.ID])
			}
			seen[p.ID] = true
		}
		if len(ps.List) == 0 {
			t.Fatal("loaded no profiles without an error")
		}
	})
}
