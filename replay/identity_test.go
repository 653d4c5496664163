package replay_test

import (
	"bytes"
	"reflect"
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

// A decision made while the ledger did not answer granted no capped offer
// (degraded ledger_unavailable). Replaying it with a ledger that answers
// would grant them and count a change that no rule made; it is replayed
// as production decided it, without the ledger, for the candidate and the
// baseline alike, and counted.
func TestReplayLedgerUnavailableDecidedWithoutTheLedger(t *testing.T) {
	rs := exampleRules(t)
	data, sum := record(t, rs, replaygen.Options{Decisions: 2000, Customers: 400, Seed: 17, LedgerUnavailable: 0.3})
	degraded := int64(bytes.Count(data, []byte(`"ledger_unavailable"`)))
	if degraded < 200 {
		t.Fatalf("the recording has %d decisions made without the ledger: the test needs many", degraded)
	}
	for _, tc := range []struct {
		name     string
		baseline bool
	}{{"without a baseline", false}, {"with the recorded rules as the baseline", true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := replay.Options{}
			if tc.baseline {
				o.Baseline = exampleRules(t)
			}
			rep := run(t, rs, data, o)
			if rep.Decisions.Replayed != int64(sum.Decisions) {
				t.Fatalf("replayed %d of %d decisions", rep.Decisions.Replayed, sum.Decisions)
			}
			if rep.Decisions.LedgerUnavailable != degraded {
				t.Errorf("ledger_unavailable: %d counted, want %d", rep.Decisions.LedgerUnavailable, degraded)
			}
			if rep.Changed.Count != 0 {
				t.Errorf("%d decisions changed with the rules that made them, want 0 (decisions made without the ledger granted capped offers?)", rep.Changed.Count)
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
		})
	}
}

// withCopies returns data with a copy of every decision line i for which
// dupDecision(i) holds and of every outcome line, each stored again after
// later lines, as the stream stores an event resent after its duplicate
// window; and how many of each it copied.
func withCopies(data []byte, dupDecision func(i int) bool, dupOutcomes bool) (out []byte, decisions, outcomes int) {
	type later struct {
		at   int
		line []byte
	}
	var queue []later
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	nd := 0
	for i, line := range lines {
		out = append(append(out, line...), '\n')
		switch {
		case bytes.Contains(line, []byte(`"type":"decision"`)):
			if dupDecision(nd) {
				queue = append(queue, later{i + 25, line})
				decisions++
			}
			nd++
		case dupOutcomes && bytes.Contains(line, []byte(`"type":"outcome"`)):
			queue = append(queue, later{i + 3, line})
			outcomes++
		}
		for len(queue) > 0 && queue[0].at <= i {
			out = append(append(out, queue[0].line...), '\n')
			queue = queue[1:]
		}
	}
	for _, q := range queue {
		out = append(append(out, q.line...), '\n')
	}
	return out, decisions, outcomes
}

// An event stored twice (a decision or an outcome resent after the
// stream's duplicate window: docs/events.md) is one event: its copy is
// skipped and counted, and the report is the same as without it. With
// app_first_1000 capped at 15 (held 30 minutes, one per customer), a
// decision decided twice would take a unit that a later one gets; an
// order counted twice would double its value.
func TestReplayDropsEventsStoredTwice(t *testing.T) {
	rs, _ := editedRules(t, func(rel string, b []byte) []byte {
		if rel == "offers/campaigns.yaml" {
			b = replaceOnce(t, b, "      total: 1000\n", "      total: 15\n")
		}
		return b
	})
	data, sum := record(t, rs, replaygen.Options{Decisions: 2000, Customers: 300, Seed: 19, Convert: 0.3})
	if g := sum.Grants["app_first_1000"]; g < 15 {
		t.Fatalf("the recording granted app_first_1000 %d times: the test needs its cap reached", g)
	}
	want := run(t, rs, data, replay.Options{})
	for _, tc := range []struct {
		name        string
		dupDecision func(i int) bool
		dupOutcomes bool
	}{
		{"one decision", func(i int) bool { return i == 3 }, false},
		{"every 10th decision", func(i int) bool { return i%10 == 0 }, false},
		{"every outcome", func(int) bool { return false }, true},
		{"both", func(i int) bool { return i%7 == 0 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dup, nd, no := withCopies(data, tc.dupDecision, tc.dupOutcomes)
			got := run(t, rs, dup, replay.Options{})
			d, w := got.Decisions, want.Decisions
			if d.Read != w.Read+int64(nd) || d.Replayed != w.Replayed || d.SkippedDuplicate != int64(nd) {
				t.Errorf("decisions: %d read, %d replayed, %d skipped as stored twice; want %d read, %d replayed, %d skipped (the copies)",
					d.Read, d.Replayed, d.SkippedDuplicate, w.Read+int64(nd), w.Replayed, nd)
			}
			if d.Outcomes != w.Outcomes+int64(no) || d.OutcomesUnmatched != w.OutcomesUnmatched || d.OutcomesDuplicate != int64(no) {
				t.Errorf("outcomes: %d read, %d unmatched, %d stored twice; want %d read, %d unmatched, %d stored twice (the copies)",
					d.Outcomes, d.OutcomesUnmatched, d.OutcomesDuplicate, w.Outcomes+int64(no), w.OutcomesUnmatched, no)
			}
			if got.Changed != want.Changed {
				t.Errorf("changed %+v, want %+v as without the copies", got.Changed, want.Changed)
			}
			if !reflect.DeepEqual(got.Offers, want.Offers) || !reflect.DeepEqual(got.Spend, want.Spend) || !reflect.DeepEqual(got.Segments, want.Segments) {
				t.Errorf("grants %+v, spend %+v\nwant %+v, %+v as without the copies", got.Offers, got.Spend, want.Offers, want.Spend)
			}
			if !reflect.DeepEqual(got.Estimate, want.Estimate) {
				t.Errorf("estimate %+v\nwant %+v as without the copies", got.Estimate, want.Estimate)
			}
		})
	}
}
