package rules

import (
	"fmt"
	"strings"
	"testing"
)

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

// TestLayerBadBucketsOneError: an experiment whose buckets are not a range
// gets that error alone: it takes no range of its layer, so the other
// experiments are not blamed for overlapping a range nobody wrote, nor the
// layer for being over 100%.
func TestLayerBadBucketsOneError(t *testing.T) {
	v := "    variants: [{id: control, weight: 100}]\n"
	bad := func(id string) string {
		return "r.yaml:%d:14: experiment `" + id + "`: buckets %q is not a range of layer buckets (write the range of layer buckets as FROM-TO, both included, within 0-9999 (like 3000-7999))"
	}
	for _, tc := range []struct {
		name, y string
		want    []string
	}{
		{"y states a range", "    buckets: 5000-9999\n", []string{fmt.Sprintf(bad("x"), 4, "0-10000")}},
		{"y's range is bad too", "    buckets: 9999-0\n", []string{fmt.Sprintf(bad("x"), 4, "0-10000"), fmt.Sprintf(bad("y"), 8, "9999-0")}},
		{"y takes the whole layer by traffic", "    traffic: 100\n", []string{fmt.Sprintf(bad("x"), 4, "0-10000")}},
		{"y takes the default traffic", "", []string{fmt.Sprintf(bad("x"), 4, "0-10000")}},
	} {
		src := "experiments:\n  - id: x\n    layer: L\n    buckets: 0-10000\n" + v +
			"  - id: y\n    layer: L\n" + tc.y + v
		es := loadErrs(t, map[string]string{"r.yaml": src})
		got := make([]string, len(es))
		for i, e := range es {
			got[i] = e.Error()
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: the errors are\n%s\nwant only\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
