package replay

import (
	"math"

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
// share the cost of drawing.
type drawCache struct {
	n     int
	m     map[[2]float64][]float64
	items []pitem
	order []int32
	taken []string
	sc    []float64
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
	draws    []float64
	off      int
}

func (c *drawCache) table(alpha, beta float64) []float64 {
	k := [2]float64{alpha, beta}
	if t, ok := c.m[k]; ok {
		return t
	}
	if c.m == nil || len(c.m) > 1<<14 {
		c.m = map[[2]float64][]float64{}
	}
	t := make([]float64, c.n)
	seed := math.Float64bits(alpha)*0x9e3779b97f4a7c15 ^ math.Float64bits(beta)
	for i := range t {
		seed += 0x9e3779b97f4a7c15
		t[i] = learning.SampleBeta(alpha, beta, mix(seed))
	}
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
	c.items = c.items[:0]
	learners := 0
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
			learners++
		}
		c.items = append(c.items, pi)
	}
	if learners == 0 {
		return b2f(sameAnswer(want, answerOf(d, nil))), approx
	}
	hits := 0
	for k := 0; k < c.n; k++ {
		if c.walk(k, pl.Limit, pl.Guardrail, want) {
			hits++
		}
	}
	return float64(hits) / float64(c.n), approx
}

// walk orders the main pass by the scores of draw k and walks the plan as
// engine.Plan.Walk does, reporting whether it grants exactly want.
func (c *drawCache) walk(k, limit int, guardrail int64, want []Action) bool {
	c.order = c.order[:0]
	if cap(c.sc) < len(c.items) {
		c.sc = make([]float64, len(c.items))
	}
	sc := c.sc[:len(c.items)]
	for i := range c.items {
		it := &c.items[i]
		s := it.score
		if it.draws != nil {
			s = it.factor * it.draws[(k+it.off)%len(it.draws)]
		}
		sc[i] = s
		if it.fallback {
			continue
		}
		// insertion: highest score first, ties by offer id
		j := len(c.order)
		c.order = append(c.order, int32(i))
		for j > 0 {
			q := c.order[j-1]
			if sc[q] > s || sc[q] == s && c.items[q].id < it.id {
				break
			}
			c.order[j] = q
			j--
		}
		c.order[j] = int32(i)
	}
	for i := range c.items {
		if c.items[i].fallback {
			c.order = append(c.order, int32(i))
		}
	}
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
