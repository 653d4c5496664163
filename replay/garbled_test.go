package replay_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/replay/replaygen"
)

// A decision event whose own fields do not read (a time or an amount that
// is not one: another publisher's, or a damaged message) is skipped and
// counted as invalid, as a request the decoder refuses is: one such event
// among a week's stopped the whole replay.
func TestReplaySkipsGarbledDecisions(t *testing.T) {
	rs := exampleRules(t)
	data, _ := record(t, rs, replaygen.Options{Decisions: 50, Customers: 20, Seed: 9})
	clean := run(t, rs, data, replay.Options{})
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var first []byte
	for _, l := range lines {
		if bytes.Contains(l, []byte(`"type":"decision"`)) && bytes.Contains(l, []byte(`"discount_amount":`)) {
			first = l
			break
		}
	}
	if first == nil {
		t.Fatal("no decision with an action")
	}
	first = bytes.Replace(first, []byte(`"id":"dcs_`), []byte(`"id":"dcs_X`), 1) // another decision, not a copy of this one
	garble := func(old, new string) []byte {
		i := bytes.Index(first, []byte(old))
		if i < 0 {
			t.Fatalf("no %s in %s", old, first)
		}
		j := i + len(old)
		for first[j] != ',' && first[j] != '}' { // the value
			j++
		}
		out := append([]byte(nil), first[:i]...)
		out = append(out, new...)
		return append(out, first[j:]...)
	}
	untimed := regexp.MustCompile(`"(ts|now)":"[^"]*",?`).ReplaceAll(first, nil) // no time: it cannot be decided at its time
	for name, bad := range map[string][]byte{
		"no time":         untimed,
		"ts":              garble(`"ts":`, `"ts":"yesterday"`),
		"now":             garble(`"now":`, `"now":"soon"`),
		"discount_amount": garble(`"discount_amount":`, `"discount_amount":{"USD":1}`),
	} {
		t.Run(name, func(t *testing.T) {
			// in the middle of the window: the decisions before it still
			// wait for their outcomes
			var in []byte
			for i, l := range lines {
				if i == len(lines)/3 {
					in = append(append(in, bad...), '\n')
				}
				in = append(append(in, l...), '\n')
			}
			rep, err := replay.Run(t.Context(), rs, linesOf(in, rs), replay.Options{})
			if err != nil {
				t.Fatalf("a garbled %s stopped the replay: %v", name, err)
			}
			d := rep.Decisions
			if d.Read != clean.Decisions.Read+1 || d.Replayed != clean.Decisions.Replayed || d.SkippedInvalid != clean.Decisions.SkippedInvalid+1 {
				t.Errorf("read %d, replayed %d, invalid %d; want %d, %d, %d", d.Read, d.Replayed, d.SkippedInvalid,
					clean.Decisions.Read+1, clean.Decisions.Replayed, clean.Decisions.SkippedInvalid+1)
			}
			if d.Outcomes != clean.Decisions.Outcomes || d.OutcomesUnmatched != clean.Decisions.OutcomesUnmatched ||
				rep.Estimate.Recorded.RewardRate.Value != clean.Estimate.Recorded.RewardRate.Value {
				t.Errorf("outcomes %d (%d unmatched), reward rate %v; want %d (%d), %v as without it", d.Outcomes, d.OutcomesUnmatched,
					rep.Estimate.Recorded.RewardRate.Value, clean.Decisions.Outcomes, clean.Decisions.OutcomesUnmatched, clean.Estimate.Recorded.RewardRate.Value)
			}
			var text strings.Builder
			rep.WriteText(&text)
			if !strings.Contains(text.String(), "invalid: 1") {
				t.Errorf("the text report does not count it: %s", text.String())
			}
		})
	}
}
