package replay

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

// TestThompsonProbabilityMatchesIndependentDraws: the probability that
// the recorded policy gives an answer, estimated from the recorded
// posteriors by drawCache, matches the same probability computed
// independently (200,000 draws of gonum's Beta) within the noise of 1,000
// draws, for two offers competing for one place with the same posterior
// (a cold start: every offer at the prior). Offers that share a posterior
// share a table of draws, each at its offset seeded by the decision and
// offer ids; two offsets that collide (one decision in a thousand per
// pair) paired every draw of one offer with the same draw of the other,
// and the estimate came out 0 or 1.
func TestThompsonProbabilityMatchesIndependentDraws(t *testing.T) {
	const n, alpha, beta = 1000, 2.0, 18.0
	collides := func(id string) bool { return learning.Seed(id, "a")%n == learning.Seed(id, "b")%n }
	var colliding, apart string
	for i := 0; colliding == "" || apart == ""; i++ {
		id := "dcs_" + strconv.Itoa(i)
		if collides(id) {
			if colliding == "" {
				colliding = id
			}
		} else if apart == "" {
			apart = id
		}
	}
	truth := func(fa, fb float64) float64 {
		src := rand.New(rand.NewPCG(1, 2))
		d := distuv.Beta{Alpha: alpha, Beta: beta, Src: src}
		wins := 0
		const m = 200_000
		for k := 0; k < m; k++ {
			if fa*d.Rand() > fb*d.Rand() {
				wins++
			}
		}
		return float64(wins) / m
	}
	tests := []struct {
		name   string
		id     string
		fa, fb float64 // score = factor × propensity
	}{
		{"offsets collide, equal factors", colliding, 100, 100},
		{"offsets collide, a's factor 1.3 times b's", colliding, 130, 100},
		{"offsets collide, b's factor 1.3 times a's", colliding, 100, 130},
		{"offsets apart, equal factors", apart, 100, 100},
		{"offsets apart, a's factor 1.3 times b's", apart, 130, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pa, pb := 0.1, 0.1 // the recorded draws: only the factors matter
			s := &side{proportional: map[string]bool{"a": true, "b": true}}
			s.cap.plan = engine.Plan{Limit: 1, Guardrail: 1 << 40, Items: []engine.PlanItem{
				{OfferID: "a", Group: "g", Score: tc.fa * pa}, {OfferID: "b", Group: "g", Score: tc.fb * pb}}}
			s.cap.capOK = []bool{true, true}
			d := &engine.Decision{DecisionID: tc.id, Learning: []engine.LearningUse{
				{OfferID: "a", Cell: "all", Alpha: alpha, Beta: beta, Propensity: pa, Source: engine.PropensityThompson},
				{OfferID: "b", Cell: "all", Alpha: alpha, Beta: beta, Propensity: pb, Source: engine.PropensityThompson}}}
			c := &drawCache{n: n}
			got, approx := c.prob(s, d, []Action{{OfferID: "a"}})
			want := truth(tc.fa, tc.fb)
			// 4 standard errors of an estimate from 1,000 draws
			if tol := 4 * math.Sqrt(want*(1-want)/n); approx || math.Abs(got-want) > tol {
				t.Errorf("P(a) estimated %.3f (approximate %v), independently %.3f (tolerance %.3f)", got, approx, want, tol)
			}
		})
	}
}
