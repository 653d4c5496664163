package simulate

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseTrafficErrors(t *testing.T) {
	rs := loadRules(t, "testdata/beauty/rules")
	const cats = "categories: {skincare: {price: [14, 60]}}\n"
	cases := []struct{ src, want string }{
		{"", "t.yaml:1:1: the traffic file is empty (write categories: {skincare: {price: [14, 60]}})"},
		{"- a\n", "t.yaml:1:1: a traffic file is a mapping (currency, start, placements, categories), got a list"},
		{"currency: EUR\n", "t.yaml:1:1: the traffic has no categories: what its carts hold, and at what prices (write categories:"},
		{cats + "currncy: EUR\n", "t.yaml:2:1: unknown key `currncy` (known: currency, start, placements, categories) (did you mean `currency`?)"},
		{cats + cats, "t.yaml:2:1: key `categories` appears twice (keep one)"},
		{cats + "start, placements: 1\n", "t.yaml:2:1: unknown key `start, placements` (known: currency, start, placements, categories)"},
		{cats + "currency: eur\n", "t.yaml:2:11: currency must be a currency code, got \"eur\" (write EUR)"},
		{cats + "currency: EURO\n", "t.yaml:2:11: currency must be a currency code, got \"EURO\" (write an ISO 4217 code, like EUR)"},
		{cats + "start: 2026-03-02\n", "t.yaml:2:8: start must be a time, got \"2026-03-02\" (write an RFC 3339 time, like 2026-03-02T09:00:00Z)"},
		{cats + "placements: [basket]\n", "t.yaml:2:13: placements must be a mapping of placements to their shares, got a list (write placements: {basket: 0.8, product: 0.2})"},
		{cats + "placements: {basket: 0}\n", "t.yaml:2:22: placement `basket`: its share must be a number above 0, got \"0\" (a share of the requests, like 0.8)"},
		{cats + "placements: {basket: 1, basket: 2}\n", "t.yaml:2:25: placement `basket` is listed twice (keep one)"},
		{"categories: [skincare]\n", "t.yaml:1:13: categories must be a mapping of categories to their prices, got a list"},
		{"categories: {skincare: [14, 60]}\n", "t.yaml:1:24: category `skincare`: write its prices as a mapping, got a list (write {price: [14, 60]}"},
		{"categories: {skincare: {}}\n", "t.yaml:1:24: category `skincare` has no price (write price: [LOWEST, HIGHEST]"},
		{"categories: {skincare: {prices: [1, 2]}}\n", "t.yaml:1:25: category `skincare`: unknown key `prices` (known: price, skus) (did you mean `price`?)"},
		{"categories: {skincare: {price: 14}}\n", "t.yaml:1:32: category `skincare`: price must be a list of two amounts, got \"14\""},
		{"categories: {skincare: {price: [60, 14]}}\n", "t.yaml:1:32: category `skincare`: price [60, 14] is no range of prices: the lowest comes first"},
		{"categories: {skincare: {price: [0, 0]}}\n", "t.yaml:1:32: category `skincare`: price [0, 0] is no range of prices"},
		{"categories: {skincare: {price: [1.005, 2]}}\n", "t.yaml:1:33: category `skincare`: a price must be an amount of 0 or more in EUR, with at most 2 decimals, got \"1.005\""},
		{"currency: JPY\ncategories: {skincare: {price: [1.5, 2]}}\n", "t.yaml:2:33: category `skincare`: a price must be an amount of 0 or more in JPY, with at most 0 decimals"},
		{"categories: {skincare: {price: [-1, 2]}}\n", "t.yaml:1:33: category `skincare`: a price must be an amount of 0 or more"},
		{"categories: {skincare: {price: [1, 2], skus: serum}}\n", "t.yaml:1:46: category `skincare`: skus must be a list of SKUs, got \"serum\" (write skus: [serum-30, cream-50])"},
		{"categories: {skincare: {price: [1, 2], skus: [a, ~]}}\n", "t.yaml:1:50: category `skincare`: a SKU is a name, got nothing"},
		{"categories: {skincare: {price: [1, 2]}, skincare: {price: [1, 2]}}\n", "t.yaml:1:41: category `skincare` is listed twice (keep one)"},
		// a category's price or skus given twice: an error, not the last one silently
		{"categories: {skincare: {price: [1, 2], price: [30, 40]}}\n", "t.yaml:1:40: category `skincare`: `price` is given twice, first at 1:25 (keep one)"},
		{"categories: {skincare: {price: [1, 2], skus: [a], skus: [b]}}\n", "t.yaml:1:51: category `skincare`: `skus` is given twice, first at 1:40 (keep one)"},
		// YAML that does not parse is placed too, as the rules' is.
		{"currency: EUR\ncategories:\n  makeup: {price: [8, 35]\n  skincare: x\n", "t.yaml:3:3: invalid YAML: did not find expected ',' or '}' (check the indentation"},
		{"categories: [\n", "t.yaml:1:1: invalid YAML: did not find expected node content"},
		// Shares are weights, but one so small next to the others that it
		// is no share of the requests at all is an error, not a placement
		// that never asks.
		{cats + "placements: {basket: 5e-324, product: 1e308}\n", "t.yaml:2:22: placement `basket`: its share 5e-324 is nothing next to the others' (1e+308 in all)"},
	}
	for _, c := range cases {
		_, err := ParseTraffic(rs, "t.yaml", []byte(c.src))
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%q: %v, want Errors", c.src, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n%v\nwant it to hold\n%s", c.src, err, c.want)
		}
	}
}

// What a traffic file does not write comes from the rules: their currency
// and the placements their offers name; prices are in minor units of the
// currency, shares are weights.
func TestParseTrafficDefaults(t *testing.T) {
	rs := loadRules(t, "testdata/beauty/rules")
	tr, err := ParseTraffic(rs, "t.yaml", []byte("categories:\n  skincare: {price: [14, 60.5], skus: [serum-30]}\n  makeup: {price: [8, 8]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Currency != "EUR" || !tr.Start.Equal(Start()) || len(tr.Placements) != 1 || tr.Placements[0] != (Placement{"basket", 1}) {
		t.Errorf("currency %s, start %v, placements %v: want the rules' EUR, the default start, the offers' basket", tr.Currency, tr.Start, tr.Placements)
	}
	want := []Category{{Name: "skincare", Lo: 1400, Hi: 6050, SKUs: []string{"serum-30"}}, {Name: "makeup", Lo: 800, Hi: 800}}
	if len(tr.Categories) != 2 || tr.Categories[0].Lo != want[0].Lo || tr.Categories[0].Hi != want[0].Hi || tr.Categories[0].SKUs[0] != "serum-30" ||
		tr.Categories[1].Lo != 800 || tr.Categories[1].Hi != 800 {
		t.Errorf("categories %+v, want %+v", tr.Categories, want)
	}
	tr, err = ParseTraffic(rs, "t.yaml", []byte("currency: JPY\nstart: 2026-03-02T10:00:00+01:00\nplacements: {basket: 3, product: 1}\ncategories: {skincare: {price: [1400, 6000]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Currency != "JPY" || !tr.Start.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) || tr.Categories[0].Hi != 6000 {
		t.Errorf("%+v", tr)
	}
	if len(tr.Placements) != 2 || tr.Placements[0].Share != 0.75 || tr.Placements[1].Share != 0.25 {
		t.Errorf("placements %v, want basket 0.75 and product 0.25", tr.Placements)
	}
	// rules whose offers name no placement: checkout
	none := loadRules(t, "../examples/checkout")
	for i := range none.Offers {
		none.Offers[i].Placements = nil
	}
	if tr, err := ParseTraffic(none, "t.yaml", []byte("categories: {a: {price: [1, 2]}}\n")); err != nil || tr.Currency != "USD" || tr.Placements[0].Name != "checkout" {
		t.Errorf("%v %+v", err, tr)
	}
}

// The requests of a traffic file's shop: its currency, placements by
// their shares, its categories at prices within their ranges, its SKUs.
func TestRequestsOfATrafficFile(t *testing.T) {
	rs := loadRules(t, "testdata/beauty/rules")
	tr, err := ParseTraffic(rs, "t.yaml", []byte("currency: JPY\nplacements: {basket: 3, product: 1}\n"+
		"categories:\n  skincare: {price: [1400, 1402], skus: [serum-30, cream-50]}\n  makeup: {price: [800, 800]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, opts, _ := beauty(t)
	ps := opts.Profiles.List
	r := rand.New(rand.NewPCG(1, 2))
	at := map[string]int{}
	prices := map[int64]bool{}
	const n = 20000
	for i := 0; i < n; i++ {
		req := request(r, tr, i, ps[i%len(ps)])
		at[req.Placement]++
		if req.Cart.Currency != "JPY" || len(req.Cart.Items) == 0 {
			t.Fatalf("request %+v", req)
		}
		for _, it := range req.Cart.Items {
			switch it.Category {
			case "skincare":
				if it.SKU != "serum-30" && it.SKU != "cream-50" || it.Price < 1400 || it.Price > 1402 {
					t.Fatalf("line %+v", it)
				}
				prices[it.Price] = true
			case "makeup":
				if !strings.HasPrefix(it.SKU, "makeup-") || it.Price != 800 {
					t.Fatalf("line %+v", it)
				}
			default:
				t.Fatalf("line %+v of a category the traffic does not sell", it)
			}
		}
	}
	if len(at) != 2 || math.Abs(float64(at["basket"])/n-0.75) > 0.02 {
		t.Errorf("placements %v, want basket 3 in 4", at)
	}
	if len(prices) != 3 {
		t.Errorf("skincare prices %v, want 1400 to 1402, both ends included", prices)
	}
}

func TestLoadProfilesErrors(t *testing.T) {
	rs := loadRules(t, "testdata/beauty/rules")
	cases := []struct{ src, want string }{
		{"", "p.jsonl:1:1: the profiles file has no profiles (write one JSON object a line"},
		{"\n\n", "p.jsonl:2:1: the profiles file has no profiles"},
		{`{"id": "a", "skin_typ": "dry"}`, "p.jsonl:1:13: profile.skin_typ: unknown field (did you mean `skin_type`?"},
		{"{\"id\": \"a\"}\n  {\"id\": \"b\", \"orders\": \"many\"}", "p.jsonl:2:15: profile.orders: "},
		{`{"orders": 3}`, "p.jsonl:1:1: profile.id: missing"},
		{"{\"id\": \"a\"}\n{\"id\": \"a\"}\n", "p.jsonl:2:2: customer `a` is on line 1 too (keep one line per customer)"},
		{`{"id": "a",}`, "p.jsonl:1:12: not a JSON object: invalid character '}'"},
		{`[1]`, "p.jsonl:1:1: not a JSON object"},
		{`{"id": "a"} {"id": "b"}`, "p.jsonl:1:1: more than one JSON value on the line"},
		{strings.Repeat("{\"id\": 1.5}\n", 30), "p.jsonl:20:1: stopped reading after 20 errors (fix these, then run again)"},
	}
	for _, c := range cases {
		_, err := LoadProfiles(rs, "p.jsonl", strings.NewReader(c.src))
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%q: %v, want Errors", c.src, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n%v\nwant it to hold\n%s", c.src, err, c.want)
		}
	}
}

// A profile is read as a server reads it once imported: its values typed,
// defaults filled in, the customer known.
func TestLoadProfiles(t *testing.T) {
	rs := loadRules(t, "testdata/beauty/rules")
	ps, err := LoadProfiles(rs, "p.jsonl", bytes.NewReader([]byte("{\"id\": \"a\", \"skin_type\": \"dry\", \"top_categories\": [\"makeup\"]}\n\n{\"id\": 42}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.List) != 2 || ps.File != "p.jsonl" {
		t.Fatalf("%+v", ps)
	}
	a, b := ps.List[0], ps.List[1]
	if a.ID != "a" || !a.Known || a.Value("skin_type") != "dry" || a.Value("orders") != 0 {
		t.Errorf("a: %+v", a)
	}
	if l, ok := a.Value("top_categories").([]string); !ok || len(l) != 1 || l[0] != "makeup" {
		t.Errorf("a's top_categories %#v", a.Value("top_categories"))
	}
	if b.ID != "42" || b.Value("skin_type") != "" {
		t.Errorf("b: %+v", b)
	}
}
