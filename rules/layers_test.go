package rules

import "testing"

// TestLayerRanges: the experiments of a layer take consecutive ranges in
// the order written (across files, in path order), a stated range is kept,
// the next written after it follows it, a stopped experiment keeps its
// range, and experiments of other layers or none are not affected.
func TestLayerRanges(t *testing.T) {
	v := "    variants: [{id: control, weight: 50}, {id: test, weight: 50}]\n"
	rs := mustLoad(t, map[string]string{
		"a.yaml": "experiments:\n" +
			"  - id: zeta\n    layer: pricing\n    traffic: 30\n" + v +
			"  - id: alpha\n    layer: pricing\n    traffic: 50\n    status: stopped\n" + v +
			"  - id: other\n    layer: shipping\n    traffic: 12.5\n" + v +
			"  - id: plain\n    traffic: 40\n" + v,
		"b.yaml": "experiments:\n" +
			"  - id: mid\n    layer: pricing\n    traffic: 10\n" + v +
			"  - id: pinned\n    layer: shipping\n    buckets: 5000-5999\n" + v +
			"  - id: after\n    layer: shipping\n    traffic: 1\n" + v,
	})
	want := map[string]struct {
		layer    string
		from, to int
		traffic  float64
		status   string
	}{
		"zeta":   {"pricing", 0, 2999, 30, ""},
		"alpha":  {"pricing", 3000, 7999, 50, ExperimentStopped},
		"mid":    {"pricing", 8000, 8999, 10, ""},
		"other":  {"shipping", 0, 1249, 12.5, ""},
		"pinned": {"shipping", 5000, 5999, 10, ""},
		"after":  {"shipping", 6000, 6099, 1, ""},
		"plain":  {"", 0, 0, 40, ""},
	}
	if len(rs.Experiments) != len(want) {
		t.Fatalf("%d experiments", len(rs.Experiments))
	}
	for _, x := range rs.Experiments {
		w := want[x.ID]
		if x.Layer != w.layer || x.From != w.from || x.To != w.to || x.Traffic != w.traffic || x.Status != w.status {
			t.Errorf("%s: layer %q range %d-%d traffic %v status %q, want %+v", x.ID, x.Layer, x.From, x.To, x.Traffic, x.Status, w)
		}
	}
}

// TestLayerExactlyFull: traffic adding up to exactly 100 is not over.
func TestLayerExactlyFull(t *testing.T) {
	v := "    variants: [{id: control, weight: 100}]\n"
	rs := mustLoad(t, map[string]string{"a.yaml": "experiments:\n" +
		"  - id: a\n    layer: l\n    traffic: 33.33\n" + v +
		"  - id: b\n    layer: l\n    traffic: 33.33\n" + v +
		"  - id: c\n    layer: l\n    traffic: 33.34\n" + v})
	if c := rs.Experiments[2]; c.From != 6666 || c.To != 9999 {
		t.Errorf("c: %d-%d", c.From, c.To)
	}
}
