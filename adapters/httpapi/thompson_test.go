package httpapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/wire"
)

// someStats: every offer has 40 trials and 6 successes in every cell.
type someStats struct{}

func (someStats) Counts(offer, cell string) (float64, float64, bool) { return 40, 6, true }

// A Thompson draw of a real decision is seeded by the decision's own id,
// the one its event records and its outcomes name (H(decision_id + "/" +
// offer_id)), so that a replay draws it again from the event; and so
// every decision draws afresh.
func TestThompsonSeededByDecisionID(t *testing.T) {
	dir := t.TempDir()
	const ruleset = `arbitration:
  max_actions: 2
  learning:
    method: thompson
    prior: {alpha: 1, beta: 19}
offers:
  - id: a
    kind: action
    score: propensity * 100
  - id: b
    kind: action
    score: propensity * 100
`
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(ruleset), 0o644); err != nil {
		t.Fatal(err)
	}
	rl := rulefiles.New(dir, rulefiles.Options{Logger: quietLog()})
	if _, err := rl.Reload(rulefiles.TriggerStart); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{Ledger: memledger.New(), Statistics: someStats{}})
	h := newHarness(t, true, func(o *Options) { o.Rules, o.Engine = rl, eng })
	for i := 0; i < 5; i++ {
		if r := h.do("POST", "/v1/decide", `{"customer_id":"c-1","placement":"checkout"}`); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	draws := map[float64]bool{}
	for _, m := range h.sink.events() {
		ev, err := wire.ParseDecisionEvent(m.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Learning) != 2 {
			t.Fatalf("learning %+v", ev.Learning)
		}
		for _, u := range ev.Learning {
			want := learning.SampleBeta(u.Alpha, u.Beta, learning.Seed(ev.ID, u.OfferID))
			if u.Propensity != want {
				t.Errorf("decision %s offer %s: propensity %v, want the draw seeded by its id %v", ev.ID, u.OfferID, u.Propensity, want)
			}
			draws[u.Propensity] = true
		}
	}
	if len(draws) != 10 {
		t.Errorf("5 decisions of 2 offers drew %d different propensities, want 10", len(draws))
	}
}
