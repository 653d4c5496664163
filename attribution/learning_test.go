package attribution

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
)

// TestLearningOfferRemovedAndAddedBack simulates an offer with a known
// true reward rate that is removed from the ruleset and added back while
// the outcomes of its earlier decisions are still arriving. Its trials
// were counted when it was granted; the outcomes that arrive while it is
// absent must count their successes too, or its rate comes back biased
// low (they were dropped: an offer outside the ruleset had no grant
// records to move). The estimate must be within the expected error of the
// truth, count every conversion of a counted trial exactly once, and
// successes must never exceed trials.
func TestLearningOfferRemovedAndAddedBack(t *testing.T) {
	const (
		truth = 0.3
		phase = 1500 // decisions per phase
		delay = 600  // an outcome arrives this many steps after its decision
		step  = time.Minute
	)
	signer, err := decisionid.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	learns := func(version string, offers ...string) *rules.Ruleset {
		rs := &rules.Ruleset{Version: version, Arbitration: rules.Arbitration{Learning: &rules.Learning{
			Method: rules.LearnMean, Reward: rules.RewardConverted, PriorAlpha: 1, PriorBeta: 1}}}
		for _, id := range offers {
			rs.Offers = append(rs.Offers, &rules.Offer{ID: id, ReadsPropensity: true})
		}
		return rs
	}
	for _, tc := range []struct {
		name   string
		absent *rules.Ruleset // served between the two phases
	}{
		{"offer removed", learns("v2", "other")},
		{"offer and learning removed", &rules.Ruleset{Version: "v2", Offers: []*rules.Offer{{ID: "other"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
			now := t0
			led := memledger.NewWithOptions(memledger.Options{Now: func() time.Time { return now }})
			c := New(signer, 0)
			with := learns("v1", "x", "other")
			rng := rand.New(rand.NewPCG(1, 2))
			entropy := rand.NewChaCha8([32]byte{1})

			type pending struct {
				id      string
				due     int
				named   bool
				convert bool
			}
			var queue []pending
			converted := 0 // conversions of counted trials: the successes the statistics must hold
			deliver := func(i int, rs *rules.Ruleset, all bool) {
				t.Helper()
				for len(queue) > 0 && (all || queue[0].due <= i) {
					p := queue[0]
					queue = queue[1:]
					if !p.convert {
						continue
					}
					o := &Outcome{DecisionID: p.id, CustomerID: "c1", Type: engine.OutcomeConverted, Arrival: now}
					if p.named {
						o.OfferID = "x"
					}
					r := c.Check(o, rs)
					if r.Code != "" || r.Grant == nil {
						continue // counted nowhere
					}
					if _, err := led.Apply(ctx, []engine.GrantOutcome{*r.Grant}); err != nil {
						t.Fatal(err)
					}
				}
			}
			i := 0
			run := func(rs *rules.Ruleset, n int) {
				t.Helper()
				c.Serve(rs)
				_, grantsX := rs.Offer("x")
				for end := i + n; i < end; i++ {
					now = t0.Add(time.Duration(i) * step)
					u := ulid.MustNew(ulid.Timestamp(now), entropy)
					if grantsX {
						p := &engine.Plan{Now: now, Ref: u.String(), Currency: "USD", Limit: 1, Guardrail: 1 << 40,
							Items: []engine.PlanItem{{OfferID: "x", Record: true, Cell: rules.CellAll}}}
						if res, err := led.Reserve(ctx, p); err != nil || res[0] != engine.Granted {
							t.Fatalf("decision %d: %v %v", i, res, err)
						}
						conv := rng.Float64() < truth
						if conv {
							converted++
						}
						queue = append(queue, pending{id: signer.New(decisionid.KindDecision, u, "c1", nil, false),
							due: i + delay, named: i%2 == 0, convert: conv})
					}
					deliver(i, rs, false)
				}
			}
			run(with, phase)
			run(tc.absent, delay) // every pending outcome of x arrives while x is absent
			run(with, phase)
			deliver(i, with, true)

			counts, err := led.Counts(ctx, []string{"x"})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range counts {
				if k.Successes > k.Trials {
					t.Errorf("day %d: %d successes of %d trials", k.Day, k.Successes, k.Trials)
				}
			}
			trials, successes, _ := learning.NewSnapshot(counts, now, 0).Counts("x", rules.CellAll)
			if trials != 2*phase || int(successes) != converted {
				t.Errorf("statistics: %v trials, %v successes; want %d trials, %d successes (every conversion of a counted trial)",
					trials, successes, 2*phase, converted)
			}
			est := successes / trials
			if tol := 4 * math.Sqrt(truth*(1-truth)/trials); math.Abs(est-truth) > tol {
				t.Errorf("estimated rate %.4f, true rate %.2f: off by more than %.4f (4 standard errors)", est, truth, tol)
			}
		})
	}
}
