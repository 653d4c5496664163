package simulate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/rules"
)

// Traffic is the shop the requests come from: the currency of its carts,
// the placements that ask and how often, the categories its carts hold
// and their prices, and when the run starts. ExampleTraffic is the
// example shop's; ParseTraffic reads another shop's from a traffic file.
type Traffic struct {
	// File is the traffic file it was read from; "" for the example
	// shop's.
	File string
	// Currency is every cart's currency (ISO 4217).
	Currency string
	// Start is the time of the first decision.
	Start time.Time
	// Placements are where the shop asks, with their shares of the
	// requests (they sum to 1), in the order written.
	Placements []Placement
	// Categories are what the carts hold, in the order written.
	Categories []Category

	// example: the example shop's prices (x.99, and one accessory line
	// in ten a $25 gift card), drawn as they always were.
	example bool
	index   map[string]int // category name → its index in Categories
}

// Placement is one placement of the traffic and its share of the
// requests.
type Placement struct {
	Name  string
	Share float64
}

// Category is one category of the carts: a line's price is drawn
// uniformly from Lo to Hi (minor units of the traffic's currency), its
// SKU from SKUs (none written: CATEGORY-0 to CATEGORY-49).
type Category struct {
	Name   string
	Lo, Hi int64
	SKUs   []string
}

// ExampleTraffic is the example shop's traffic: carts in USD of its
// categories (profilegen.Categories), at checkout (60%), cart (30%) and
// product (10%), from profilegen's reference time.
func ExampleTraffic() *Traffic {
	t := &Traffic{Currency: "USD", Start: profilegen.DefaultRef(), example: true,
		Placements: []Placement{{"checkout", 0.6}, {"cart", 0.3}, {"product", 0.1}}}
	for _, c := range profilegen.Categories() {
		lo, hi := examplePrices(c)
		t.Categories = append(t.Categories, Category{Name: c, Lo: lo * 100, Hi: hi * 100})
	}
	t.indexCategories()
	return t
}

// examplePrices is the price range of an example category, in dollars.
func examplePrices(category string) (lo, hi int64) {
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

func (t *Traffic) indexCategories() {
	t.index = make(map[string]int, len(t.Categories))
	for i, c := range t.Categories {
		t.index[c.Name] = i
	}
}

// describe says what the traffic is, for the notes: its carts ("carts in
// USD of its categories (...), at the placements ...") and its times
// ("from ... to ..., 2s per decision").
func (t *Traffic) describe(decisions int) (carts, times string) {
	cats := make([]string, len(t.Categories))
	for i, c := range t.Categories {
		cats[i] = c.Name
	}
	names := make([]string, len(t.Placements))
	for i, pl := range t.Placements {
		names[i] = pl.Name
	}
	at := "the placement " + names[0]
	if len(names) > 1 {
		at = "the placements " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	end := t.Start.Add(time.Duration(decisions-1) * Step)
	return fmt.Sprintf("carts in %s of its categories (%s), at %s", t.Currency, strings.Join(cats, ", "), at),
		fmt.Sprintf("from %s to %s, %s per decision", t.Start.Format(time.RFC3339), end.Format(time.RFC3339), Step)
}

const (
	trafficKeys       = "currency, start, placements, categories"
	hintPlacements    = "write placements: {basket: 0.8, product: 0.2}"
	hintCategories    = "write categories: {skincare: {price: [14, 60]}}"
	hintCategory      = "write {price: [14, 60]}, or {price: [14, 60], skus: [serum-30, cream-50]}"
	hintPrice         = "write price: [LOWEST, HIGHEST], in the cart's currency, like [14, 60]"
	hintStart         = "write an RFC 3339 time, like 2026-03-02T09:00:00Z"
	maxTrafficEntries = 10000
)

// ParseTraffic reads a traffic file (its name for messages, and its
// content) for the ruleset it is to simulate:
//
//	currency: EUR                        # default: the rules' currency, else USD
//	start: 2026-03-02T09:00:00Z          # default: 2026-11-18T15:00:00Z
//	placements: {basket: 0.8, product: 0.2}   # default: every placement the offers name, alike
//	categories:
//	  skincare: {price: [14, 60], skus: [serum-30, cream-50]}
//	  makeup:   {price: [8, 35]}
//
// Shares are weights (they need not sum to 1); prices are in major units
// of the currency. Every problem is reported with file:line:col (Errors).
func ParseTraffic(rs *rules.Ruleset, file string, data []byte) (*Traffic, error) {
	p := &truthParser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the traffic file is empty", Hint: hintCategories}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errf(root, hintCategories, "a traffic file is a mapping (%s), got %s", trafficKeys, kind(root))
		return nil, p.errs
	}
	t := &Traffic{File: file, Currency: rs.Currency, Start: profilegen.DefaultRef()}
	if t.Currency == "" {
		t.Currency = "USD"
	}
	nodes := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case nodes[k.Value] != nil:
			p.errf(k, "keep one", "key `%s` appears twice", k.Value)
		case contains(strings.Split(trafficKeys, ", "), k.Value):
			nodes[k.Value] = v
		default:
			p.errf(k, exprenv.DidYouMean(k.Value, strings.Split(trafficKeys, ", "), ""), "unknown key `%s` (known: %s)", k.Value, trafficKeys)
		}
	}
	exp := int8(2)
	if v := nodes["currency"]; v != nil {
		if v.Kind != yaml.ScalarNode || !knownCurrency(v.Value) {
			hint := "write an ISO 4217 code, like EUR"
			if up := strings.ToUpper(v.Value); v.Kind == yaml.ScalarNode && knownCurrency(up) {
				hint = "write " + up
			}
			p.errf(v, hint, "currency must be a currency code, got %s", kind(v))
		} else {
			t.Currency = v.Value
		}
	}
	if d, ok := engine.CurrencyExp(t.Currency); ok {
		exp = d
	}
	if v := nodes["start"]; v != nil {
		at, err := time.Parse(time.RFC3339, v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			p.errf(v, hintStart, "start must be a time, got %s", kind(v))
		} else {
			t.Start = at.UTC()
		}
	}
	if v := nodes["placements"]; v != nil {
		p.placements(t, v)
	} else {
		t.Placements = offerPlacements(rs)
	}
	if v := nodes["categories"]; v != nil {
		p.categories(t, v, exp)
	} else {
		p.errf(root, hintCategories, "the traffic has no categories: what its carts hold, and at what prices")
	}
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	t.indexCategories()
	return t, nil
}

func knownCurrency(code string) bool {
	_, ok := engine.CurrencyExp(code)
	return ok
}

// offerPlacements are the placements the offers name, in the order they
// first appear, with equal shares; checkout when no offer names one.
func offerPlacements(rs *rules.Ruleset) []Placement {
	var names []string
	for _, o := range rs.Offers {
		for _, pl := range o.Placements {
			if !contains(names, pl) {
				names = append(names, pl)
			}
		}
	}
	if len(names) == 0 {
		names = []string{"checkout"}
	}
	out := make([]Placement, len(names))
	for i, n := range names {
		out[i] = Placement{Name: n, Share: 1 / float64(len(names))}
	}
	return out
}

func (p *truthParser) placements(t *Traffic, n *yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errf(n, hintPlacements, "placements must be a mapping of placements to their shares, got %s", kind(n))
		return
	}
	if len(n.Content)/2 > maxTrafficEntries {
		p.errf(n, "keep the placements that ask", "more than %d placements", maxTrafficEntries)
		return
	}
	sum := 0.0
	var shareNodes []*yaml.Node // each placement's share, for the errors below
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			p.errf(k, hintPlacements, "a placement is a name, got %s", kind(k))
			continue
		}
		if containsPlacement(t.Placements, k.Value) {
			p.errf(k, "keep one", "placement `%s` is listed twice", k.Value)
			continue
		}
		f, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil || !(f > 0) || math.IsInf(f, 0) {
			p.errf(v, "a share of the requests, like 0.8", "placement `%s`: its share must be a number above 0, got %s", k.Value, kind(v))
			continue
		}
		t.Placements = append(t.Placements, Placement{Name: k.Value, Share: f})
		shareNodes = append(shareNodes, v)
		sum += f
	}
	if math.IsInf(sum, 0) {
		p.errf(n, "write shares like 0.8 and 0.2", "the placements' shares are too large to add up")
		return
	}
	for i := range t.Placements {
		pl := &t.Placements[i]
		w := pl.Share
		if pl.Share /= sum; !(pl.Share > 0) {
			// a weight so small next to the others that its placement would never ask
			p.errf(shareNodes[i], "write shares of a similar size, like 0.8 and 0.2", "placement `%s`: its share %s is nothing next to the others' (%s in all)",
				pl.Name, strconv.FormatFloat(w, 'g', -1, 64), strconv.FormatFloat(sum, 'g', -1, 64))
		}
	}
}

func containsPlacement(list []Placement, name string) bool {
	for _, pl := range list {
		if pl.Name == name {
			return true
		}
	}
	return false
}

func (p *truthParser) categories(t *Traffic, n *yaml.Node, exp int8) {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errf(n, hintCategories, "categories must be a mapping of categories to their prices, got %s", kind(n))
		return
	}
	if len(n.Content)/2 > maxTrafficEntries {
		p.errf(n, "keep the categories the rules read", "more than %d categories", maxTrafficEntries)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			p.errf(k, hintCategories, "a category is a name, got %s", kind(k))
			continue
		}
		if seen[k.Value] {
			p.errf(k, "keep one", "category `%s` is listed twice", k.Value)
			continue
		}
		seen[k.Value] = true
		what := "category `" + k.Value + "`"
		if v.Kind != yaml.MappingNode {
			p.errf(v, hintCategory, "%s: write its prices as a mapping, got %s", what, kind(v))
			continue
		}
		c := Category{Name: k.Value}
		var price *yaml.Node
		first := map[string]*yaml.Node{} // each key, to say where a repeated one was first given
		for j := 0; j+1 < len(v.Content); j += 2 {
			ck, cv := v.Content[j], v.Content[j+1]
			if f := first[ck.Value]; f != nil {
				p.errf(ck, "keep one", "%s: `%s` is given twice, first at %d:%d", what, ck.Value, f.Line, f.Column)
				continue
			}
			first[ck.Value] = ck
			switch ck.Value {
			case "price":
				price = cv
			case "skus":
				c.SKUs = p.skus(cv, what)
			default:
				p.errf(ck, exprenv.DidYouMean(ck.Value, []string{"price", "skus"}, ""), "%s: unknown key `%s` (known: price, skus)", what, ck.Value)
			}
		}
		if price == nil {
			p.errf(v, hintPrice, "%s has no price", what)
			continue
		}
		var ok bool
		if c.Lo, c.Hi, ok = p.price(price, what, t.Currency, exp); ok {
			t.Categories = append(t.Categories, c)
		}
	}
}

// price reads [LOWEST, HIGHEST] in major units of the currency.
func (p *truthParser) price(n *yaml.Node, what, cur string, exp int8) (lo, hi int64, ok bool) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		p.errf(n, hintPrice, "%s: price must be a list of two amounts, got %s", what, kind(n))
		return 0, 0, false
	}
	var minor [2]int64
	for i, x := range n.Content {
		f, err := strconv.ParseFloat(x.Value, 64)
		m, fits := int64(0), false
		if x.Kind == yaml.ScalarNode && err == nil && f >= 0 {
			m, fits = engine.ToMinor(f, exp)
		}
		if !fits || (engine.Money{Minor: m, Exp: exp}).Major() != f {
			p.errf(x, hintPrice, "%s: a price must be an amount of 0 or more in %s, with at most %d decimals, got %s", what, cur, exp, kind(x))
			return 0, 0, false
		}
		minor[i] = m
	}
	if minor[1] < minor[0] || minor[1] == 0 {
		p.errf(n, hintPrice, "%s: price [%s, %s] is no range of prices: the lowest comes first, and the highest is above 0", what, n.Content[0].Value, n.Content[1].Value)
		return 0, 0, false
	}
	return minor[0], minor[1], true
}

func (p *truthParser) skus(n *yaml.Node, what string) []string {
	const hint = "write skus: [serum-30, cream-50]"
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(n.Content) > maxTrafficEntries {
		p.errf(n, hint, "%s: skus must be a list of SKUs, got %s", what, kind(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, x := range n.Content {
		if x.Kind != yaml.ScalarNode || x.Value == "" || x.Tag == "!!null" {
			p.errf(x, hint, "%s: a SKU is a name, got %s", what, kind(x))
			return nil
		}
		out = append(out, x.Value)
	}
	return out
}
