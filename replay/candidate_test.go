package replay_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/rules"
)

// candidateRules writes the example shop's rules to a directory with
// spend_and_save's amounts doubled ($15 and $40 become $30 and $80) and
// welcome_10 removed (and without the rule tests, which name it).
func candidateRules(t testing.TB) (*rules.Ruleset, string) {
	t.Helper()
	rs, dir := editedRules(t, func(rel string, b []byte) []byte {
		switch rel {
		case "offers/basket.yaml":
			b = replaceOnce(t, b, "{min_total: 100, amount: 15}", "{min_total: 100, amount: 30}")
			b = replaceOnce(t, b, "{min_total: 200, amount: 40}", "{min_total: 200, amount: 80}")
		case "offers/welcome.yaml":
			i := bytes.Index(b, []byte("  - id: welcome_10"))
			if i < 0 {
				t.Fatal("welcome_10 not found in offers/welcome.yaml")
			}
			if j := bytes.Index(b[i+1:], []byte("\n  - id: ")); j >= 0 {
				b = append(b[:i:i], b[i+1+j+1:]...)
			} else {
				b = bytes.Replace(b[:i], []byte("offers:"), []byte("offers: []"), 1)
			}
		}
		return b
	})
	if _, ok := rs.Offer("welcome_10"); ok {
		t.Fatal("welcome_10 is still there")
	}
	return rs, dir
}

// editedRules writes the example shop's rules, each file through edit
// (given its path under the rules directory), to a directory without the
// rule tests (an edit may break them), and loads it.
func editedRules(t testing.TB, edit func(rel string, b []byte) []byte) (*rules.Ruleset, string) {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(examples.Checkout, "checkout", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path, "checkout"), "/")
		if d.IsDir() {
			if rel == "tests" || rel == "testdata" {
				return fs.SkipDir
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := fs.ReadFile(examples.Checkout, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), edit(rel, b), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulefiles.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rs, dir
}

func replaceOnce(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if bytes.Count(b, []byte(old)) != 1 {
		t.Fatalf("%q is not in the file once", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// A candidate with one discount doubled and one offer removed changes
// what it should: the removed offer is never granted, every decision that
// granted either offer changes, the dollar spend grows, and the estimate
// leaves out the decisions whose recorded answer it cannot give.
func TestReplayCandidateChanges(t *testing.T) {
	rs := exampleRules(t)
	cand, _ := candidateRules(t)
	data, sum := record(t, rs, replaygen.Options{Decisions: 3000, Customers: 400, Seed: 11})
	if sum.Grants["welcome_10"] == 0 || sum.Grants["spend_and_save"] == 0 {
		t.Fatalf("the recording granted welcome_10 %d and spend_and_save %d times: the test needs both", sum.Grants["welcome_10"], sum.Grants["spend_and_save"])
	}
	// The recorded decisions that granted either offer.
	touched := 0
	var dec replay.Decoder
	for _, line := range bytes.Split(data, []byte("\n")) {
		var ev replay.Event
		if len(line) == 0 || dec.Decode(line, &ev) != nil || ev.Kind != replay.KindDecision {
			continue
		}
		for _, a := range ev.Actions {
			if a.OfferID == "welcome_10" || a.OfferID == "spend_and_save" {
				touched++
				break
			}
		}
	}
	rep := run(t, cand, data, replay.Options{Baseline: rs})
	byID := map[string]replay.OfferRow{}
	for _, o := range rep.Offers {
		byID[o.OfferID] = o
	}
	if w := byID["welcome_10"]; w.Candidate != 0 || w.Recorded != sum.Grants["welcome_10"] {
		t.Errorf("welcome_10: %+v, want %d recorded and none under the candidate", w, sum.Grants["welcome_10"])
	}
	if rep.Changed.Count < int64(touched) {
		t.Errorf("%d decisions changed, but %d granted welcome_10 or spend_and_save", rep.Changed.Count, touched)
	}
	for _, s := range rep.Spend {
		if s.Currency == "USD" && s.Candidate.Minor <= s.Recorded.Minor {
			t.Errorf("USD spend %s under the candidate, %s recorded: doubling spend_and_save should cost more", s.Candidate, s.Recorded)
		}
	}
	e := rep.Estimate
	if e.Matching == 0 || e.Matching >= e.Decisions || e.Unexplained != 0 {
		t.Errorf("estimate: %d of %d matching, %d unexplained", e.Matching, e.Decisions, e.Unexplained)
	}
	if m := rep.Metrics(); !(m["offers_removed"] >= 1) || !(m["spend_increase_pct"] > 0) {
		t.Errorf("metrics: offers_removed %v, spend_increase_pct %v", m["offers_removed"], m["spend_increase_pct"])
	}
	t.Logf("changed %d (%.1f%%), touched %d; spend %+v; estimate %+v", rep.Changed.Count, rep.Changed.Pct, touched, rep.Spend, e)
}

// Without --baseline the candidate stands in for the recorded rules; when
// it leaves the offers that read propensity and the experiments as they
// were (here: only an action's condition changes), that is exact. The
// decisions it changes are then still decisions of the recorded policy:
// they stay in its figures and are not matching; the figures are those
// of the same replay with the recorded rules as the baseline.
func TestReplayWithoutBaselineKeepsChangedDecisions(t *testing.T) {
	rs := exampleRules(t)
	cand, _ := editedRules(t, func(rel string, b []byte) []byte {
		if rel == "offers/actions.yaml" {
			// join_loyalty (an action: no propensity, in no experiment) is never granted
			b = replaceOnce(t, b, "when: profile.orders >= 1\n", "when: profile.orders >= 1000000\n")
		}
		return b
	})
	data, sum := record(t, rs, replaygen.Options{Decisions: 3000, Customers: 400, Seed: 17})
	if sum.Grants["join_loyalty"] == 0 {
		t.Fatal("the recording never granted join_loyalty: the test needs it")
	}
	without := run(t, cand, data, replay.Options{})
	with := run(t, cand, data, replay.Options{Baseline: rs})
	if without.Changed.Count == 0 {
		t.Fatal("no decision changed: the test needs some")
	}
	e, b := without.Estimate, with.Estimate
	if e.Unexplained != 0 || e.Decisions != without.Decisions.Replayed {
		t.Errorf("without a baseline: %d of %d decisions in the estimate, %d left out; want every decision (the recorded policy gave each its answer)",
			e.Decisions, without.Decisions.Replayed, e.Unexplained)
	}
	if n := without.Decisions.Replayed - without.Changed.Count; e.Matching != b.Matching || e.Matching > n {
		t.Errorf("without a baseline %d matching, with it %d; %d of %d decisions changed (an action removed: no draw gives them back): want the same, at most %d",
			e.Matching, b.Matching, without.Changed.Count, without.Decisions.Replayed, n)
	}
	if e.Recorded != b.Recorded {
		t.Errorf("the recorded policy's figures: %+v without a baseline, %+v with it: want the same", e.Recorded, b.Recorded)
	}
	if e.Candidate != b.Candidate || e.ESS != b.ESS {
		t.Errorf("the candidate's figures: %+v (ESS %.1f) without a baseline, %+v (ESS %.1f) with it: want the same (the exact case)",
			e.Candidate, e.ESS, b.Candidate, b.ESS)
	}
	if m := without.Metrics(); !(m["matching_pct"] < 100) {
		t.Errorf("matching_pct %v with %d decisions changed", m["matching_pct"], without.Changed.Count)
	}
}
