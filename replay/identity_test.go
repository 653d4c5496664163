package replay_test

import (
	"bytes"
	"testing"

	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/replay/replaygen"
)

// Replaying recorded traffic with the ruleset that recorded it changes
// nothing: the same answers (Thompson draws from the recorded posteriors,
// experiment variants, caps and holds counted again from zero with the
// recorded outcomes), the same grants and exactly the same spend, and the
// candidate's estimate is the recorded policy's.
func TestReplaySameRulesChangesNothing(t *testing.T) {
	rs := exampleRules(t)
	data, sum := record(t, rs, replaygen.Options{Decisions: 3000, Customers: 400, Seed: 7})
	if !bytes.Contains(data, []byte(`"experiments":[{"id":"discount_depth"`)) && !bytes.Contains(data, []byte(`"experiments":[{"id":"free_shipping_from_50"`)) {
		t.Fatal("the recording has no experiment variant: the test would not cover them")
	}
	if !bytes.Contains(data, []byte(`"propensity":`)) {
		t.Fatal("the recording has no Thompson draw")
	}
	rep := run(t, rs, data, replay.Options{})
	if rep.Decisions.Replayed != int64(sum.Decisions) || rep.Decisions.Replayed == 0 {
		t.Fatalf("replayed %d of %d decisions: %+v", rep.Decisions.Replayed, sum.Decisions, rep.Decisions)
	}
	if rep.Changed.Count != 0 {
		t.Errorf("%d decisions changed, want 0", rep.Changed.Count)
	}
	for _, o := range rep.Offers {
		if o.Recorded != o.Candidate || o.Recorded != sum.Grants[o.OfferID] {
			t.Errorf("offer %s: recorded %d (served %d), candidate %d", o.OfferID, o.Recorded, sum.Grants[o.OfferID], o.Candidate)
		}
	}
	if len(rep.Spend) == 0 {
		t.Fatal("no spend")
	}
	for _, s := range rep.Spend {
		if s.Recorded != s.Candidate || s.Recorded.Minor != sum.Spend[s.Currency] {
			t.Errorf("spend %s: recorded %s (served %d), candidate %s", s.Currency, s.Recorded, sum.Spend[s.Currency], s.Candidate)
		}
	}
	for _, s := range rep.Segments {
		if s.Recorded != s.Candidate {
			t.Errorf("segment %s: recorded %d customers, candidate %d", s.Segment, s.Recorded, s.Candidate)
		}
	}
	e := rep.Estimate
	if e.Matching != e.Decisions || e.Unexplained != 0 {
		t.Errorf("estimate: %d of %d matching, %d unexplained; want all matching", e.Matching, e.Decisions, e.Unexplained)
	}
	if e.Candidate.RewardRate.Value != e.Recorded.RewardRate.Value || e.Candidate.ValuePerDecision.Value != e.Recorded.ValuePerDecision.Value {
		t.Errorf("estimate: candidate %+v, recorded %+v: want equal", e.Candidate, e.Recorded)
	}
	if e.Recorded.RewardRate.Value <= 0 {
		t.Errorf("no reward recorded: %+v", e.Recorded)
	}
	if len(rep.Decisions.MissingProfileFields) != 0 {
		t.Errorf("missing profile fields %v", rep.Decisions.MissingProfileFields)
	}
}

// A decision made while the learning statistics could not be read used
// the prior mean, not a Thompson draw (degraded learning_unavailable; its
// event records the prior as the posterior). Replaying it with the same
// rules must use the prior mean again and so give the recorded answer,
// with the recorded rules as the baseline or without one.
func TestReplayLearningUnavailableUsesThePriorMean(t *testing.T) {
	rs := exampleRules(t)
	data, sum := record(t, rs, replaygen.Options{Decisions: 2000, Customers: 400, Seed: 13, LearningUnavailable: 0.4})
	if n := bytes.Count(data, []byte(`"degraded":["learning_unavailable"]`)); n < 200 {
		t.Fatalf("the recording has %d decisions made without the statistics: the test needs many", n)
	}
	for _, tc := range []struct {
		name     string
		baseline bool
	}{{"without a baseline", false}, {"with the recorded rules as the baseline", true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := replay.Options{}
			if tc.baseline {
				o.Baseline = exampleRules(t) // a ruleset of its own: replayed beside the candidate
			}
			rep := run(t, rs, data, o)
			if rep.Decisions.Replayed != int64(sum.Decisions) {
				t.Fatalf("replayed %d of %d decisions", rep.Decisions.Replayed, sum.Decisions)
			}
			if rep.Changed.Count != 0 {
				t.Errorf("%d decisions changed with the rules that made them, want 0 (decisions made at the prior mean re-drawn by Thompson?)", rep.Changed.Count)
			}
			for _, o := range rep.Offers {
				if o.Recorded != o.Candidate {
					t.Errorf("offer %s: recorded %d, candidate %d", o.OfferID, o.Recorded, o.Candidate)
				}
			}
			e := rep.Estimate
			if e.Matching != e.Decisions || e.Unexplained != 0 {
				t.Errorf("estimate: %d of %d matching, %d left out; want all matching", e.Matching, e.Decisions, e.Unexplained)
			}
			if e.Candidate.RewardRate.Value != e.Recorded.RewardRate.Value {
				t.Errorf("estimate: candidate %v, recorded %v: want equal", e.Candidate.RewardRate, e.Recorded.RewardRate)
			}
		})
	}
}
