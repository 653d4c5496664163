package replay

import (
	"math"
	"sort"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

// Proportional reports whether a score expression is propensity times a
// factor that does not read it (`propensity * (cart.total * 0.35 -
// discount) * 100`): then the score under another draw of the propensity
// is the recorded score scaled by the ratio of the draws, and the
// probability of an answer under Thompson sampling is found without
// deciding again. Other scores are held at their recorded value in the
// draws (the estimate says how many decisions were approximate).
func Proportional(src string) bool {
	tree, err := parser.Parse(src)
	if err != nil {
		return false
	}
	n := 0
	var walk func(node ast.Node) bool
	walk = func(node ast.Node) bool {
		if b, ok := node.(*ast.BinaryNode); ok && b.Operator == "*" {
			return walk(b.Left) && walk(b.Right)
		}
		if id, ok := node.(*ast.IdentifierNode); ok && id.Value == "propensity" {
			n++
			return true
		}
		return !reads(node)
	}
	return walk(tree.Node) && n == 1
}

// reads reports whether node reads propensity anywhere.
func reads(node ast.Node) bool {
	v := &finder{}
	ast.Walk(&node, v)
	return v.found
}

type finder struct{ found bool }

func (f *finder) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && id.Value == "propensity" {
		f.found = true
	}
}

// drawCache holds Thompson draws per posterior: n draws of Beta(alpha,
// beta), seeded by the posterior. A decision pairs them by offsets seeded
// by its id and each offer's (learning.Seed(decision, offer)), so the
// same decision always gets the same draws, and decisions that share
// posteriors (every decision between two refreshes of the statistics)
// share the cost of drawing. Only the order of the plan's main pass
// depends on the draws, so the walk is done once per distinct order
// (memo), and with one drawn offer, once per place it can take among the
// others, each weighted by the number of draws that put it there
// (counted in the sorted draws): the same probability as walking every
// draw, at a small fraction of the cost.
type drawCache struct {
	n     int
	m     map[[2]float64]*draws
	items []pitem
	fixed []int32 // main-pass items without a draw, in plan order (by score)
	learn []int32 // items with a draw
	fall  []int32 // fallback items, in plan order
	order []int32
	taken []string
	memo  []memoEntry
	lsc   []float64
}

type draws struct {
	seq    []float64 // in draw order
	sorted []float64
}

type memoEntry struct {
	key uint64
	hit bool
}

type pitem struct {
	id       string
	group    string
	amount   int64
	fallback bool
	capped   bool
	capOK    bool
	score    float64 // the recorded score
	factor   float64 // score = factor × propensity (learning items)
	draws    *draws
	off      int
}

func (c *drawCache) table(alpha, beta float64) *draws {
	k := [2]float64{alpha, beta}
	if t, ok := c.m[k]; ok {
		return t
	}
	if c.m == nil || len(c.m) >= 1024 { // at most 1024 posteriors (16 KB each) at a time
		c.m = map[[2]float64]*draws{}
	}
	t := &draws{seq: make([]float64, c.n)}
	seed := math.Float64bits(alpha)*0x9e3779b97f4a7c15 ^ math.Float64bits(beta)
	for i := range t.seq {
		seed += 0x9e3779b97f4a7c15
		t.seq[i] = learning.SampleBeta(alpha, beta, mix(seed))
	}
	t.sorted = append([]float64(nil), t.seq...)
	sort.Float64s(t.sorted)
	c.m[k] = t
	return t
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// prob estimates the probability that side s's plan (captured when it
// decided d) grants exactly the answer want, over c.n draws of the
// propensities of its Thompson offers from their posteriors. approx: a
// score was not proportional to its propensity.
func (c *drawCache) prob(s *side, d *engine.Decision, want []Action) (p float64, approx bool) {
	pl := &s.cap.plan
	// Every offer of the answer must be in the plan with its amount and
	// room under its caps, whatever the order: else no draw gives it.
	for _, a := range want {
		found := false
		for i := range pl.Items {
			if it := &pl.Items[i]; it.OfferID == a.OfferID {
				found = it.Amount == a.Amount && (s.cap.capOK[i] || !it.Capped())
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	c.items, c.fixed, c.learn, c.fall, c.memo = c.items[:0], c.fixed[:0], c.learn[:0], c.fall[:0], c.memo[:0]
	for i := range pl.Items {
		it := &pl.Items[i]
		pi := pitem{id: it.OfferID, group: it.Group, amount: it.Amount, fallback: it.Fallback, capped: it.Capped(),
			capOK: s.cap.capOK[i], score: it.Score}
		for _, u := range d.Learning {
			if u.OfferID != it.OfferID || u.Source != engine.PropensityThompson || it.Fallback {
				continue
			}
			if !s.proportional[it.OfferID] || !(u.Propensity > 0) {
				approx = true
				break
			}
			pi.factor = it.Score / u.Propensity
			pi.draws = c.table(u.Alpha, u.Beta)
			pi.off = int(learning.Seed(d.DecisionID, it.OfferID) % uint64(c.n))
		}
		switch {
		case pi.fallback:
			c.fall = append(c.fall, int32(i))
		case pi.draws != nil:
			c.learn = append(c.learn, int32(i))
		default:
			c.fixed = append(c.fixed, int32(i))
		}
		c.items = append(c.items, pi)
	}
	c.apart()
	switch {
	case len(c.learn) == 0:
		return b2f(sameAnswer(want, answerOf(d, nil))), approx
	case len(c.learn) == 1:
		return c.one(pl.Limit, pl.Guardrail, want), approx
	}
	hits := 0
	for k := 0; k < c.n; k++ {
		if c.draw(k, pl.Limit, pl.Guardrail, want) {
			hits++
		}
	}
	return float64(hits) / float64(c.n), approx
}

// apart moves apart the offsets of drawn items that share a table of
// draws (offers with the same posterior, as at a cold start) and collide:
// at the same offset, every draw of one would be paired with the same
// draw of the other, and the probability would come out 0 or 1. The next
// free offset keeps the draws of one decision reproducible.
func (c *drawCache) apart() {
	for j := 1; j < len(c.learn); j++ {
		it := &c.items[c.learn[j]]
		taken := func() bool {
			for _, q := range c.learn[:j] {
				if o := &c.items[q]; o.draws == it.draws && o.off == it.off {
					return true
				}
			}
			return false
		}
		for tries := 1; tries < c.n && taken(); tries++ { // fewer draws than offers: some share
			it.off = (it.off + 1) % c.n
		}
	}
}

// before reports whether item a comes before item b in the main pass at
// scores sa and sb: the higher score, ties by offer id.
func before(sa, sb float64, a, b *pitem) bool { return sa > sb || sa == sb && a.id < b.id }

// one is prob with one drawn item: for each place g among the fixed items,
// the walk with it there, weighted by the draws that put it there.
func (c *drawCache) one(limit int, guardrail int64, want []Action) float64 {
	li := c.learn[0]
	l := &c.items[li]
	n := len(l.draws.sorted)
	// cnt: the draws that put the drawn item before fixed item g.
	prev := 0
	total := 0
	for g := 0; g <= len(c.fixed); g++ {
		cnt := n // draws before fixed item g (all of them past the last)
		if g < len(c.fixed) {
			f := &c.items[c.fixed[g]]
			isBefore := func(i int) bool { return before(l.factor*l.draws.sorted[i], f.score, l, f) }
			switch {
			case l.factor > 0: // the score grows with the draw
				cnt = n - sort.Search(n, isBefore)
			case l.factor < 0:
				cnt = sort.Search(n, func(i int) bool { return !isBefore(i) })
			default:
				cnt = 0
				if before(0, f.score, l, f) {
					cnt = n
				}
			}
		}
		in := cnt - prev // draws at place g
		prev = cnt
		if in <= 0 {
			continue
		}
		c.order = c.order[:0]
		c.order = append(c.order, c.fixed[:g]...)
		c.order = append(c.order, li)
		c.order = append(c.order, c.fixed[g:]...)
		c.order = append(c.order, c.fall...)
		if c.walkOrder(limit, guardrail, want) {
			total += in
		}
	}
	return float64(total) / float64(n)
}

// draw is the walk of draw k, memoized by the order it gives.
func (c *drawCache) draw(k, limit int, guardrail int64, want []Action) bool {
	if cap(c.lsc) < len(c.learn) {
		c.lsc = make([]float64, len(c.learn))
	}
	lsc := c.lsc[:len(c.learn)]
	for j, li := range c.learn {
		it := &c.items[li]
		idx := k + it.off
		if idx >= c.n {
			idx -= c.n
		}
		lsc[j] = it.factor * it.draws.seq[idx]
	}
	// the order: fixed items in their order, drawn ones inserted by score
	c.order = append(c.order[:0], c.fixed...)
	var key uint64
	for j, li := range c.learn {
		it := &c.items[li]
		pos := len(c.order)
		for pos > 0 {
			q := c.order[pos-1]
			qs := c.items[q].score
			if qi := c.indexOfLearn(q); qi >= 0 {
				qs = lsc[qi]
			}
			if !before(lsc[j], qs, it, &c.items[q]) {
				break
			}
			pos--
		}
		c.order = append(c.order, 0)
		copy(c.order[pos+1:], c.order[pos:])
		c.order[pos] = li
	}
	for _, q := range c.order {
		key = key*31 + uint64(q) + 1
	}
	for _, m := range c.memo {
		if m.key == key {
			return m.hit
		}
	}
	c.order = append(c.order, c.fall...)
	hit := c.walkOrder(limit, guardrail, want)
	c.memo = append(c.memo, memoEntry{key: key, hit: hit})
	return hit
}

func (c *drawCache) indexOfLearn(q int32) int {
	for j, li := range c.learn {
		if li == q {
			return j
		}
	}
	return -1
}

// walkOrder walks c.order as engine.Plan.Walk does, reporting whether it
// grants exactly want.
func (c *drawCache) walkOrder(limit int, guardrail int64, want []Action) bool {
	granted, main := 0, 0
	var sum int64
	c.taken = c.taken[:0]
	for _, i := range c.order {
		it := &c.items[i]
		switch {
		case it.fallback && main > 0, granted >= limit:
			continue
		case it.group != "" && contains(c.taken, it.group):
			continue
		case it.amount > guardrail-sum:
			continue
		case it.capped && !it.capOK:
			continue
		}
		if granted >= len(want) || want[granted].OfferID != it.id || want[granted].Amount != it.amount {
			return false
		}
		granted++
		if !it.fallback {
			main++
		}
		sum += it.amount
		if it.group != "" {
			c.taken = append(c.taken, it.group)
		}
	}
	return granted == len(want)
}
