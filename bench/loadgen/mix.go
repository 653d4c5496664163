// Package loadgen is the logic of Arbiter's load harness (bench/load): a
// realistic mix of /v1/decide requests, closed- and open-loop load with
// fasthttp's client, latency percentiles from an HDR histogram, the
// "ceiling" server that answers like Arbiter without deciding anything, and
// the readers of what the server costs (/proc/PID/stat, Redis INFO
// commandstats, Prometheus /metrics).
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
)

// Kind is what a generated request says about its customer.
type Kind int

// The kinds of customer a request may carry.
const (
	Known     Kind = iota // an id with a stored profile
	Unknown               // an id without a stored profile
	Anonymous             // no customer_id
)

// Weighted is a value with its weight in a mix.
type Weighted struct {
	Value  string
	Weight float64
}

// MixConfig describes the traffic.
type MixConfig struct {
	// KnownIDs are the ids of stored profiles (profilegen's "c-000001"...).
	KnownIDs []string
	// AnonymousShare is the share of requests without customer_id (0..1).
	AnonymousShare float64
	// UnknownShare is the share of requests with an id that has no stored
	// profile (0..1).
	UnknownShare float64
	// Sequential walks KnownIDs in order, once each, shared by every
	// generator made from the same Mix (wrapping around at the end): "every
	// request a new customer". Otherwise known ids are drawn at random.
	Sequential bool
	// Placements and Channels weight the placement and channel of a request
	// (defaults: DefaultPlacements, DefaultChannels).
	Placements []Weighted
	Channels   []Weighted
}

// DefaultPlacements is the placement mix: checkout, cart and product views.
func DefaultPlacements() []Weighted {
	return []Weighted{{"checkout", 0.35}, {"cart", 0.35}, {"product", 0.30}}
}

// DefaultChannels is the channel mix.
func DefaultChannels() []Weighted {
	return []Weighted{{"web", 0.55}, {"app", 0.30}, {"mobile_web", 0.15}}
}

// category is a product category with its share of cart lines and its
// price range in USD cents.
type category struct {
	name     string
	weight   float64
	lo, hi   int64
	skuStart int
}

func categories() []category {
	return []category{
		{"shoes", 0.24, 3900, 18900, 1000},
		{"apparel", 0.22, 1200, 12900, 2000},
		{"beauty", 0.15, 600, 8900, 3000},
		{"home", 0.10, 1500, 24900, 4000},
		{"accessories", 0.10, 450, 6900, 5000},
		{"outerwear", 0.07, 7900, 34900, 6000},
		{"sports", 0.06, 1900, 14900, 7000},
		{"kids", 0.04, 900, 5900, 8000},
		{"gift_cards", 0.02, 2500, 10000, 9000},
	}
}

// itemCountWeights are the weights of carts of 1 to 8 items (lines).
func itemCountWeights() [8]float64 {
	return [8]float64{0.30, 0.24, 0.16, 0.11, 0.08, 0.05, 0.04, 0.02}
}

func countries() []Weighted {
	return []Weighted{{"US", 0.6}, {"CA", 0.1}, {"GB", 0.1}, {"DE", 0.08}, {"FR", 0.07}, {"AU", 0.05}}
}

// Mix makes request bodies. It is safe for concurrent use only through the
// Generators it makes (one per goroutine).
type Mix struct {
	cfg  MixConfig
	seq  atomic.Uint64
	seed uint64
	gens atomic.Uint64
}

// NewMix checks cfg and returns its Mix, seeded with seed.
func NewMix(cfg MixConfig, seed uint64) (*Mix, error) {
	if cfg.AnonymousShare < 0 || cfg.UnknownShare < 0 || cfg.AnonymousShare+cfg.UnknownShare > 1 {
		return nil, fmt.Errorf("loadgen: anonymous share %.2f and unknown share %.2f must be >= 0 and add up to at most 1",
			cfg.AnonymousShare, cfg.UnknownShare)
	}
	if len(cfg.KnownIDs) == 0 && cfg.AnonymousShare+cfg.UnknownShare < 1 {
		return nil, fmt.Errorf("loadgen: no known customer ids, but %.0f%% of requests should carry one",
			100*(1-cfg.AnonymousShare-cfg.UnknownShare))
	}
	if len(cfg.Placements) == 0 {
		cfg.Placements = DefaultPlacements()
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = DefaultChannels()
	}
	return &Mix{cfg: cfg, seed: seed}, nil
}

// Generator makes request bodies for one goroutine.
type Generator struct {
	m    *Mix
	r    *rand.Rand
	cats []category
}

// Generator returns a new generator with a seed of its own (derived from
// the Mix's seed and the number of generators made before it).
func (m *Mix) Generator() *Generator {
	n := m.gens.Add(1)
	return &Generator{m: m, r: rand.New(rand.NewPCG(m.seed, n)), cats: categories()}
}

// Request is the description of a generated request (for tests and
// statistics); the body is what is sent.
type Request struct {
	Kind      Kind
	Placement string
	Channel   string
	Items     int
}

// Next appends a /v1/decide body to dst and returns it with its description.
func (g *Generator) Next(dst []byte) ([]byte, Request) {
	var d Request
	u := g.r.Float64()
	cfg := &g.m.cfg
	switch {
	case u < cfg.AnonymousShare:
		d.Kind = Anonymous
	case u < cfg.AnonymousShare+cfg.UnknownShare:
		d.Kind = Unknown
	default:
		d.Kind = Known
	}
	d.Placement = pick(g.r, cfg.Placements)
	d.Channel = pick(g.r, cfg.Channels)

	dst = append(dst, '{')
	switch d.Kind {
	case Known:
		var id string
		if cfg.Sequential {
			id = cfg.KnownIDs[(g.m.seq.Add(1)-1)%uint64(len(cfg.KnownIDs))]
		} else {
			id = cfg.KnownIDs[g.r.IntN(len(cfg.KnownIDs))]
		}
		dst = append(dst, `"customer_id":`...)
		dst = strconv.AppendQuote(dst, id)
		dst = append(dst, ',')
	case Unknown:
		// Ids of the same form as profilegen's, far beyond any generated.
		dst = append(dst, `"customer_id":"c-9`...)
		dst = appendPadded(dst, g.r.IntN(1000000), 6)
		dst = append(dst, `",`...)
	}
	dst = append(dst, `"placement":`...)
	dst = strconv.AppendQuote(dst, d.Placement)
	dst = append(dst, `,"channel":`...)
	dst = strconv.AppendQuote(dst, d.Channel)

	// Product pages carry a cart half the time; carts and checkouts always.
	if d.Placement != "product" || g.r.IntN(2) == 0 {
		d.Items = pickIndex(g.r, itemCountWeights()) + 1
		dst = append(dst, `,"cart":{"currency":"USD","items":[`...)
		for i := 0; i < d.Items; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			c := g.cats[pickCategory(g.r, g.cats)]
			cents := c.lo + g.r.Int64N(c.hi-c.lo+1)
			cents = cents/100*100 + 99 // shop prices end in .99
			if cents > c.hi {
				cents -= 100
			}
			qty := 1
			if q := g.r.Float64(); q > 0.85 {
				qty = 2 + g.r.IntN(2)
			}
			dst = append(dst, `{"sku":"`...)
			dst = append(dst, upperPrefix(c.name)...)
			dst = append(dst, '-')
			dst = strconv.AppendInt(dst, int64(c.skuStart+g.r.IntN(1000)), 10)
			dst = append(dst, `","category":`...)
			dst = strconv.AppendQuote(dst, c.name)
			dst = append(dst, `,"price":`...)
			dst = strconv.AppendInt(dst, cents/100, 10)
			dst = append(dst, '.')
			dst = appendPadded(dst, int(cents%100), 2)
			dst = append(dst, `,"quantity":`...)
			dst = strconv.AppendInt(dst, int64(qty), 10)
			dst = append(dst, '}')
		}
		dst = append(dst, "]}"...)
	}

	device := "desktop"
	switch {
	case d.Channel == "app" || d.Channel == "mobile_web":
		device = "mobile"
	case g.r.IntN(10) == 0:
		device = "tablet"
	}
	dst = append(dst, `,"context":{"country":`...)
	dst = strconv.AppendQuote(dst, pick(g.r, countries()))
	dst = append(dst, `,"device":"`...)
	dst = append(dst, device...)
	dst = append(dst, '"')
	if g.r.IntN(5) == 0 {
		dst = append(dst, `,"utm_source":"newsletter"`...)
	}
	dst = append(dst, "}}"...)
	return dst, d
}

func upperPrefix(s string) string {
	switch s {
	case "shoes":
		return "SHOE"
	case "apparel":
		return "APP"
	case "beauty":
		return "BEA"
	case "home":
		return "HOME"
	case "accessories":
		return "ACC"
	case "outerwear":
		return "OUT"
	case "sports":
		return "SPO"
	case "kids":
		return "KID"
	default:
		return "GC"
	}
}

func appendPadded(dst []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func pick(r *rand.Rand, ws []Weighted) string {
	total := 0.0
	for _, w := range ws {
		total += w.Weight
	}
	u := r.Float64() * total
	for _, w := range ws {
		if u < w.Weight {
			return w.Value
		}
		u -= w.Weight
	}
	return ws[len(ws)-1].Value
}

func pickIndex(r *rand.Rand, ws [8]float64) int {
	total := 0.0
	for _, w := range ws {
		total += w
	}
	u := r.Float64() * total
	for i, w := range ws {
		if u < w {
			return i
		}
		u -= w
	}
	return len(ws) - 1
}

func pickCategory(r *rand.Rand, cs []category) int {
	u := r.Float64()
	for i, c := range cs {
		if u < c.weight {
			return i
		}
		u -= c.weight
	}
	return len(cs) - 1
}
