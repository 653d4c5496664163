package examples_test

import (
	"context"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/ruletest"
)

// TestRuleTestsCatchMutations changes the example's rules the way a careless
// edit would, one change at a time, and checks that some rule test fails:
// the tests guard what their names and the README promise, not only that
// the rules as written give the answers written.
func TestRuleTestsCatchMutations(t *testing.T) {
	files, err := rulefiles.ReadFS(checkoutFS(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		claim    string
		file     string
		old, new string // the n-th (1-based) line holding old is replaced by new ("": removed)
		n        int
	}{
		{"gift cards are never discounted (win-back)", "offers/retention.yaml", `items: item.category != "gift_cards"`, "", 1},
		{"gift cards are never discounted (dynamic discount)", "offers/retention.yaml", `items: item.category != "gift_cards"`, "", 2},
		{"gift cards are never discounted (flash sale)", "offers/campaigns.yaml", `items: item.category != "gift_cards"`, "", 1},
		{"gift cards are never discounted (VIP)", "offers/vip.yaml", `items: item.category != "gift_cards"`, "", 1},
		{"at most one checkout discount (VIP)", "offers/vip.yaml", "group: checkout_discount", "", 1},
		{"at most one checkout discount (win-back)", "offers/retention.yaml", "group: checkout_discount", "", 1},
		{"at most one checkout discount (dynamic discount)", "offers/retention.yaml", "group: checkout_discount", "", 2},
		{"at most one checkout discount (flash sale)", "offers/campaigns.yaml", "group: checkout_discount", "", 1},
		{"at most one checkout discount (app offer)", "offers/campaigns.yaml", "group: checkout_discount", "", 2},
		{"at most one checkout discount (spend and save)", "offers/basket.yaml", "group: checkout_discount", "", 1},
		{"discount_depth is for VIPs only", "experiments.yaml", `when: '"vip" in segments'`, "", 1},
		{"the VIP discount stops at $50", "offers/vip.yaml", "max_amount: 50", "max_amount: 60", 1},
		{"the flash sale runs in New York time", "offers/campaigns.yaml", "timezone: America/New_York", "timezone: UTC", 1},
		{"the guardrail at 30%", "arbitration.yaml", "max_discount_percent: 30", "max_discount_percent: 50", 1},
		{"the 5% holdout", "arbitration.yaml", "holdout: 5", "holdout: 0", 1},
		{"the app offer is a round 9 in euros", "offers/campaigns.yaml", "EUR: 9, ", "EUR: 10, ", 1},
	}
	for _, c := range cases {
		t.Run(c.claim, func(t *testing.T) {
			mutated := make([]rules.File, len(files))
			copy(mutated, files)
			changed := false
			for i, f := range mutated {
				if f.Path != c.file {
					continue
				}
				lines := strings.Split(string(f.Data), "\n")
				seen := 0
				for j, l := range lines {
					if !strings.Contains(l, c.old) {
						continue
					}
					if seen++; seen != c.n {
						continue
					}
					if c.new == "" {
						lines = append(lines[:j:j], lines[j+1:]...)
					} else {
						lines[j] = strings.Replace(l, c.old, c.new, 1)
					}
					changed = true
					break
				}
				mutated[i].Data = []byte(strings.Join(lines, "\n"))
			}
			if !changed {
				t.Fatalf("%s has no line %d holding %q: update this test with the rules", c.file, c.n, c.old)
			}
			rs, err := rules.Compile(mutated)
			if err != nil {
				t.Fatalf("the mutated rules do not compile (pick another change): %v", err)
			}
			for _, r := range ruletest.Run(context.Background(), rs, ruletest.NewEngine()) {
				if !r.Pass {
					return // caught
				}
			}
			t.Errorf("no rule test fails when %s loses %q: nothing guards %q", c.file, c.old, c.claim)
		})
	}
}
