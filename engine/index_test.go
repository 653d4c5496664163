package engine

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// TestIndexedDecisionIsTheFullWalk: a decision that checks only the offers
// the ruleset's index names decides as one that checks every offer
// (actions, discounts, segments, experiments, learning, degraded); every
// offer it leaves out would have failed at placement, schedule or segment
// (or the holdout), and every offer it checks has the full walk's reason;
// an explained decision is the full walk's, explain included. Generated
// playbooks of several sizes and seeds, and the example shop, under
// random requests at random times around the schedules.
func TestIndexedDecisionIsTheFullWalk(t *testing.T) {
	type ruleset struct {
		name string
		rs   *rules.Ruleset
	}
	sets := []ruleset{{"checkout", loadDir(t, "../examples/checkout")}}
	sizes := []int{5, 50, 200, 1000}
	if testing.Short() || raceEnabled {
		sizes = []int{5, 50, 200}
	}
	for _, n := range sizes {
		for seed := int64(1); seed <= 3; seed++ {
			sets = append(sets, ruleset{"offers=" + strconv.Itoa(n) + "/seed=" + strconv.Itoa(int(seed)), scaleRuleset(t, n, seed)})
		}
	}
	placements := []string{"checkout", "cart", "product", "default", "email", ""}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			rs := set.rs
			if rs.Index() == nil {
				t.Fatal("a compiled ruleset has no index")
			}
			indexed := New(Options{Ledger: newTestLedger()})
			full := New(Options{Ledger: newTestLedger()})
			full.fullWalk = true
			var checked map[int]cand
			indexed.inspect = func(s *scratch) {
				checked = map[int]cand{}
				for _, i := range s.checked {
					checked[int(i)] = s.cands[i]
				}
			}
			r := rand.New(rand.NewPCG(uint64(len(rs.Offers)), 7))
			cases := scaleRequests(rs, 300, uint64(len(set.name)))
			for k, c := range cases {
				req := c.req
				req.Now = testNow.Add(time.Duration(r.IntN(200*24)-100*24) * time.Hour).Add(time.Duration(r.IntN(3600)) * time.Second)
				if r.IntN(5) == 0 {
					req.Placement = placements[r.IntN(len(placements))]
				}
				req.DryRun = r.IntN(3) > 0
				a, b := req, req
				ctx := context.Background()
				di, err := indexed.Decide(ctx, rs, c.p, &a)
				if err != nil {
					t.Fatal(err)
				}
				df, err := full.Decide(ctx, rs, c.p, &b)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range []struct {
					name string
					x, y any
				}{
					{"actions", di.Actions, df.Actions}, {"segments", di.Segments, df.Segments},
					{"experiments", di.Experiments, df.Experiments}, {"holdout", di.Holdout, df.Holdout},
					{"degraded", di.Degraded, df.Degraded}, {"learning", di.Learning, df.Learning}, {"cell", di.Cell, df.Cell},
				} {
					if !reflect.DeepEqual(f.x, f.y) {
						t.Fatalf("request %d (%s at %s): %s indexed %+v, full walk %+v", k, req.Placement, req.Now, f.name, f.x, f.y)
					}
				}
				// the reasons: the full walk explained (dry run: the ledger
				// is not moved twice)
				e := req
				e.Explain, e.DryRun = true, true
				dx, err := full.Decide(ctx, rs, c.p, &e)
				if err != nil {
					t.Fatal(err)
				}
				e2 := e
				dxi, err := indexed.Decide(ctx, rs, c.p, &e2)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(dx.Explain, dxi.Explain) {
					t.Fatalf("request %d: an explained decision differs from the full walk's", k)
				}
				if !req.DryRun {
					continue // the reasons of caps moved since
				}
				e.Explain = false
				if _, err := indexed.Decide(ctx, rs, c.p, &e); err != nil {
					t.Fatal(err)
				}
				for i, oe := range dx.Explain.Offers {
					c, ok := checked[i]
					if !ok {
						switch oe.Reason {
						case ReasonPlacement, ReasonSchedule, ReasonSegment, ReasonHoldout:
						default:
							t.Fatalf("request %d (%s at %s): offer %s left out by the index, but its reason is %q", k, req.Placement, req.Now, oe.ID, oe.Reason)
						}
						continue
					}
					if got := c.reason; c.chosen != oe.Chosen || (!c.chosen && got != oe.Reason) || c.detail != oe.Detail && !c.chosen || c.err != oe.Error {
						t.Fatalf("request %d: offer %s: indexed chosen %v reason %q, full walk chosen %v reason %q", k, oe.ID, c.chosen, got, oe.Chosen, oe.Reason)
					}
				}
			}
		})
	}
}
