package replay_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/replay"
)

// A window without decisions (an empty export, --since after the last
// event, every decision skipped) reports empty lists, not nulls, so that
// a CI script reading the JSON (jq '.offers[]') does not fail on it, and
// no recorded rate: there is nothing to measure, and a gate on it must not
// pass or fail on a 0 that nobody measured.
func TestReplayWithoutDecisions(t *testing.T) {
	rs := exampleRules(t)
	schema1 := []byte(`{"type":"decision","id":"dcs_01M7QJQZC0DBK7GFTFQQMHPVNR","ts":"2026-11-18T15:00:00Z","customer_id":"c-1","placement":"cart","currency":"USD","actions":[{"offer_id":"vip_discount","kind":"discount","discount_amount":9.00}]}`)
	for name, data := range map[string][]byte{"no events": nil, "schema 1 only": schema1} {
		t.Run(name, func(t *testing.T) {
			rep := run(t, rs, data, replay.Options{})
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"offers", "spend", "segments"} {
				if !bytes.HasPrefix(m[k], []byte("[")) {
					t.Errorf("%q is %s, want a list", k, m[k])
				}
			}
			if !strings.Contains(string(m["estimate"]), `"recorded":{"reward_rate":{"value":null,"lo":null,"hi":null},"value_per_decision":{"value":null,"lo":null,"hi":null}}`) {
				t.Errorf("recorded estimate without decisions: %s, want nulls", m["estimate"])
			}
			mt := rep.Metrics()
			for _, k := range []string{"reward_rate_recorded", "value_per_decision_recorded"} {
				if !math.IsNaN(mt[k]) {
					t.Errorf("%s = %v without decisions, want NaN", k, mt[k])
				}
			}
			var text bytes.Buffer
			rep.WriteText(&text)
			if strings.Contains(text.String(), "0.00%") {
				t.Errorf("text report shows a measured 0.00%% without decisions:\n%s", text.String())
			}
		})
	}
}
