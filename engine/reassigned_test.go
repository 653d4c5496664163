package engine

import (
	"strings"
	"testing"
)

// TestReassigned: a reload that moves customers of a running experiment
// between variants is named (an experiment inserted before another of
// its layer, a range shrunk, a changed salt, traffic or weight, a raised
// holdout), one that
// moves no one is not (another experiment changed, a variant of weight 0
// added, a range grown at the layer's end, an experiment stopped or new).
func TestReassigned(t *testing.T) {
	v := "    variants: [{id: control, weight: 50}, {id: test, weight: 50}]\n"
	base := "experiments:\n" +
		"  - id: a\n    layer: L\n    traffic: 30\n" + v +
		"  - id: b\n    layer: L\n    traffic: 30\n" + v +
		"  - id: plain\n    traffic: 40\n" + v
	for _, tc := range []struct {
		name, next string
		want       string
	}{
		{"unchanged", base + "arbitration: {holdout: 5}\n", ""},
		{"a weight-0 variant added", strings.Replace(base, "  - id: plain\n    traffic: 40\n"+v,
			"  - id: plain\n    traffic: 40\n    variants: [{id: control, weight: 50}, {id: test, weight: 50}, {id: later, weight: 0}]\n", 1), ""},
		{"a new experiment after the others", base + "  - id: c\n    layer: L\n    traffic: 10\n" + v, ""},
		{"b stopped", strings.Replace(base, "  - id: b\n    layer: L\n", "  - id: b\n    layer: L\n    status: stopped\n", 1), ""},
		{"an experiment inserted first in the layer", strings.Replace(base, "experiments:\n", "experiments:\n  - id: c\n    layer: L\n    traffic: 10\n"+v, 1),
			"a: its range of layer L moved from 0-2999 to 1000-3999; b: its range of layer L moved from 3000-5999 to 4000-6999"},
		{"b's range grown at the layer's end", strings.Replace(base, "  - id: b\n    layer: L\n    traffic: 30\n", "  - id: b\n    layer: L\n    traffic: 40\n", 1), ""},
		{"b's range shrunk", strings.Replace(base, "  - id: b\n    layer: L\n    traffic: 30\n", "  - id: b\n    layer: L\n    traffic: 20\n", 1),
			"b: its range of layer L moved from 3000-5999 to 3000-4999"},
		{"a's weights", strings.Replace(base, "    traffic: 30\n"+v, "    traffic: 30\n    variants: [{id: control, weight: 40}, {id: test, weight: 60}]\n", 1),
			"a: its traffic or weights changed"},
		{"plain's traffic", strings.Replace(base, "    traffic: 40\n", "    traffic: 50\n", 1), "plain: its traffic or weights changed"},
		{"the holdout raised", base + "arbitration: {holdout: 7}\n",
			"holdout: raised from 5% to 7%: the customers of holdout buckets 500-699 leave their experiments and the served group"},
		{"the holdout lowered", base + "arbitration: {holdout: 3}\n", ""},
		{"plain's salt", strings.Replace(base, "  - id: plain\n", "  - id: plain\n    salt: p2\n", 1), "plain: its salt changed from plain to p2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := load(t, map[string]string{"x.yaml": base + "arbitration: {holdout: 5}\n"})
			next := load(t, map[string]string{"x.yaml": tc.next})
			if got := strings.Join(Reassigned(prev, next), "; "); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
