package httpapi

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
)

// reloadable serves a ruleset the test replaces, through a real reloader.
type reloadable struct {
	mu  sync.Mutex
	src string
	rl  *rulefiles.Reloader
}

func (r *reloadable) load() (*rules.Ruleset, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(r.src)}})
}

func (r *reloadable) reload(t *testing.T, src string) {
	t.Helper()
	r.mu.Lock()
	r.src = src
	r.mu.Unlock()
	if _, err := r.rl.Reload(rulefiles.TriggerAPI); err != nil {
		t.Fatal(err)
	}
}

// TestHoldChangedByReload: a reload that takes `hold` off an offer, or
// puts it on, while decisions made under the old rules still get their
// outcomes. Taken off: the grants held keep their hold, so an order
// commits its unit and the total of 2 is never exceeded, whether or not
// anyone reads GET /v1/budgets. Put on: an order naming the offer of a
// decision made before is accepted (its grant was counted for good when
// it was made), not refused as an offer the decision did not grant.
func TestHoldChangedByReload(t *testing.T) {
	withHold := holdRules
	without := strings.Replace(holdRules, ", hold: 30m", "", 1)
	for _, readBudgets := range []bool{false, true} {
		t.Run("hold removed, budgets read "+map[bool]string{false: "never", true: "after each step"}[readBudgets], func(t *testing.T) {
			src := &reloadable{src: withHold}
			h := newEngineHarness(t, withHold, func(o *Options) {
				src.rl = rulefiles.New("testdata/rules", rulefiles.Options{Logger: quietLog(), Load: src.load})
				if _, err := src.rl.Reload(rulefiles.TriggerStart); err != nil {
					t.Fatal(err)
				}
				o.Rules = src.rl
			})
			step := func() {
				if readBudgets {
					h.budget(t)
				}
			}
			a, acts := h.decide(t, "c-1")
			h.decide(t, "c-2")
			if len(acts) != 2 || acts[0] != "first_1000_app" {
				t.Fatalf("actions %v", acts)
			}
			step()
			src.reload(t, without)
			// c-1's order, within its hold, for the whole decision.
			if r := h.post(t, `{"decision_id": "`+a+`", "customer_id": "c-1", "type": "converted", "value": 40, "currency": "USD"}`); r.status != 202 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			step()
			h.clock.add(31 * time.Minute) // c-2's hold expires: one unit is free again
			step()
			granted := 0
			for _, c := range []string{"c-3", "c-4", "c-5"} {
				if _, acts := h.decide(t, c); len(acts) == 2 {
					granted++
				}
				step()
			}
			if granted != 1 {
				t.Errorf("%d grants after the reload, want 1 (c-1's order used one unit of 2)", granted)
			}
		})
	}
	t.Run("hold added", func(t *testing.T) {
		src := &reloadable{src: without}
		h := newEngineHarness(t, without, func(o *Options) {
			src.rl = rulefiles.New("testdata/rules", rulefiles.Options{Logger: quietLog(), Load: src.load})
			if _, err := src.rl.Reload(rulefiles.TriggerStart); err != nil {
				t.Fatal(err)
			}
			o.Rules = src.rl
		})
		a, acts := h.decide(t, "c-1")
		if len(acts) != 2 || acts[0] != "first_1000_app" {
			t.Fatalf("actions %v", acts)
		}
		src.reload(t, withHold)
		if r := h.post(t, `{"decision_id": "`+a+`", "customer_id": "c-1", "offer_id": "first_1000_app", "type": "converted"}`); r.status != 202 {
			t.Errorf("an order of a decision made before the hold: %d %s", r.status, r.body)
		}
		// A decision under the new rules is held, and its order commits it.
		b, _ := h.decide(t, "c-2")
		if r := h.post(t, `{"decision_id": "`+b+`", "customer_id": "c-2", "type": "converted"}`); r.status != 202 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if got := h.budget(t); got.Count.Committed != 2 || got.Count.Held != 0 {
			t.Errorf("after the order under the hold: %+v", got.Count)
		}
	})
}
