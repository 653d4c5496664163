package replay

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// The shortcuts of drawCache (one drawn offer: a walk per place, counted
// in the sorted draws; several: a walk per distinct order) give exactly
// the probability of walking every draw.
func TestDrawShortcutsMatchEveryDraw(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 300; trial++ {
		c := &drawCache{n: 200}
		nItems := 2 + r.IntN(6)
		c.items = nil
		for i := 0; i < nItems; i++ {
			it := pitem{id: "o" + strconv.Itoa(i), amount: int64(r.IntN(3) * 500), score: float64(r.IntN(100)),
				capped: r.IntN(4) == 0, capOK: r.IntN(2) == 0}
			if r.IntN(2) == 0 {
				it.group = "g" + strconv.Itoa(r.IntN(2))
			}
			c.items = append(c.items, it)
		}
		nLearn := 1 + r.IntN(3)
		c.fixed, c.learn, c.fall = nil, nil, nil
		for i := range c.items {
			it := &c.items[i]
			switch {
			case i < nLearn:
				it.factor = float64(r.IntN(300) - 50)
				it.draws = c.table(1+float64(r.IntN(5)), 2+float64(r.IntN(20)))
				it.off = r.IntN(c.n)
				c.learn = append(c.learn, int32(i))
			case i == nItems-1 && r.IntN(2) == 0:
				it.fallback = true
				c.fall = append(c.fall, int32(i))
			default:
				c.fixed = append(c.fixed, int32(i))
			}
		}
		// fixed items in score order, as the plan has them
		for a := 1; a < len(c.fixed); a++ {
			for b := a; b > 0 && before(c.items[c.fixed[b]].score, c.items[c.fixed[b-1]].score, &c.items[c.fixed[b]], &c.items[c.fixed[b-1]]); b-- {
				c.fixed[b], c.fixed[b-1] = c.fixed[b-1], c.fixed[b]
			}
		}
		limit, guard := 1+r.IntN(3), int64(r.IntN(3)*600)
		// want: the answer of draw 0
		c.memo = nil
		c.draw(0, limit, guard, nil)
		want := c.answerOfOrder(limit, guard) // draw 0's answer
		every := 0
		for k := 0; k < c.n; k++ {
			c.memo = nil
			if c.draw(k, limit, guard, want) {
				every++
			}
		}
		var got float64
		c.memo = nil
		if len(c.learn) == 1 {
			got = c.one(limit, guard, want)
		} else {
			hits := 0
			for k := 0; k < c.n; k++ {
				if c.draw(k, limit, guard, want) {
					hits++
				}
			}
			got = float64(hits) / float64(c.n)
		}
		if want := float64(every) / float64(c.n); got != want {
			t.Fatalf("trial %d (%d drawn): shortcut %v, every draw %v", trial, len(c.learn), got, want)
		}
	}
}

// answerOfOrder is what walking c.order grants.
func (c *drawCache) answerOfOrder(limit int, guardrail int64) []Action {
	var out []Action
	granted, main := 0, 0
	var sum int64
	taken := []string{}
	for _, i := range c.order {
		it := &c.items[i]
		switch {
		case it.fallback && main > 0, granted >= limit:
			continue
		case it.group != "" && contains(taken, it.group):
			continue
		case it.amount > guardrail-sum:
			continue
		case it.capped && !it.capOK:
			continue
		}
		out = append(out, Action{OfferID: it.id, Amount: it.amount})
		granted++
		if !it.fallback {
			main++
		}
		sum += it.amount
		if it.group != "" {
			taken = append(taken, it.group)
		}
	}
	return out
}
