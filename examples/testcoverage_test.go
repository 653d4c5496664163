package examples_test

import (
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
)

// TestRuleTestsCoverTheRules checks that the example's rule tests name
// every segment as matching at least once, and expect every offer to be
// chosen at least once: a rule without a test is a rule nobody checked.
func TestRuleTestsCoverTheRules(t *testing.T) {
	rs, err := rulefiles.LoadFS(checkoutFS(t))
	if err != nil {
		t.Fatal(err)
	}
	segs, offers := map[string]bool{}, map[string]bool{}
	holdout, experiment := false, false
	for _, tc := range rs.Tests {
		for _, s := range tc.Expect.Segments {
			segs[s] = true
		}
		for _, a := range tc.Expect.Actions {
			offers[a] = true
		}
		if tc.Expect.Holdout != nil && *tc.Expect.Holdout {
			holdout = true
		}
		if tc.Expect.Experiments != nil {
			experiment = true
		}
	}
	for _, s := range rs.Segments {
		if !segs[s.ID] {
			t.Errorf("segment %s (%s:%d) is expected to match in no rule test", s.ID, s.Pos.File, s.Pos.Line)
		}
	}
	for _, o := range rs.Offers {
		if !offers[o.ID] {
			t.Errorf("offer %s (%s:%d) is expected to be chosen in no rule test", o.ID, o.Pos.File, o.Pos.Line)
		}
	}
	if !holdout {
		t.Error("no rule test expects a customer in the holdout")
	}
	if !experiment {
		t.Error("no rule test checks an experiment assignment")
	}
}
