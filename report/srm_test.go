package report_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// enrolled returns decisions enrolling n customers in each variant of
// experiment x, in the order given.
func enrolled(groups ...struct {
	v string
	n int
}) []report.Event {
	var evs []report.Event
	for _, g := range groups {
		for i := 0; i < g.n; i++ {
			evs = append(evs, report.Event{Decision: &report.Decision{ID: "dcs_" + g.v + strconv.Itoa(i), CustomerID: g.v + strconv.Itoa(i),
				Experiments: []wire.Assignment{{ID: "x", Variant: g.v}}}})
		}
	}
	return evs
}

type group = struct {
	v string
	n int
}

// TestReportSampleRatioZeroWeight: an experiment with a variant paused at
// weight 0 (docs/rules.md's `static`), which the assignment gives no one,
// is checked over the other variants; customers in a variant of weight 0
// leave it unchecked, and the report says why and what to write.
func TestReportSampleRatioZeroWeight(t *testing.T) {
	published := report.Event{Ruleset: &report.Ruleset{Version: "r1", Experiments: []report.Experiment{{ID: "x",
		Variants: []report.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}, {ID: "static", Weight: 0}}}}}}
	for _, c := range []struct {
		name              string
		groups            []group
		checked, mismatch bool
		df                int
		warning           string
	}{
		{"paused variant, 50/50 fits", []group{{"control", 1000}, {"deep", 1010}}, true, false, 1, ""},
		{"paused variant, mismatch", []group{{"control", 1000}, {"deep", 1300}}, true, true, 1, "SAMPLE RATIO MISMATCH"},
		{"customers in the weight-0 variant", []group{{"control", 1000}, {"deep", 1000}, {"static", 40}}, false, false, 2,
			"the sample ratio is not checked: variant static has 40 customers but weight 0 in the weights from rules_reloaded event of ruleset r1 (weights changed during the experiment?); give the weights its customers were assigned with: --weights control=50,deep=50,static=W"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := collect("x", append([]report.Event{published}, enrolled(c.groups...)...)).Report(report.Weights{})
			if r.SRM.Checked != c.checked || r.SRM.Mismatch != c.mismatch || r.SRM.DF != c.df {
				t.Errorf("sample ratio %+v: want checked %v, mismatch %v, df %d", r.SRM, c.checked, c.mismatch, c.df)
			}
			if c.checked && (len(r.SRM.Expected) != 3 || r.SRM.Expected[2] != 0) {
				t.Errorf("expected %v: want 3 counts, 0 for static", r.SRM.Expected)
			}
			found := c.warning == ""
			for _, w := range r.Warnings {
				found = found || strings.Contains(w, c.warning)
			}
			if !found {
				t.Errorf("warnings %q: want one with %q", r.Warnings, c.warning)
			}
		})
	}
}

// TestSampleRatioZeroWeight checks SampleRatio's groups of weight 0 against
// the chi-square computed by hand over the others.
func TestSampleRatioZeroWeight(t *testing.T) {
	// 1000 vs 1300 against 50/50: e = 1150 each, chi² = 2·150²/1150.
	r := report.SampleRatio([]int{1000, 1300, 0}, []float64{50, 50, 0})
	if !r.Valid || r.DF != 1 || math.Abs(r.Chi2-2*150*150/1150.0) > 1e-9 || r.ZeroWeightObserved != -1 {
		t.Errorf("%+v", r)
	}
	if r := report.SampleRatio([]int{0, 1000, 1000}, []float64{0, 50, 50}); !r.Valid || r.DF != 1 || r.Chi2 != 0 {
		t.Errorf("paused first variant: %+v", r)
	}
	if r := report.SampleRatio([]int{1000, 0}, []float64{100, 0}); r.Valid {
		t.Errorf("one group of positive weight: %+v", r)
	}
	if r := report.SampleRatio([]int{1000, 1000, 3}, []float64{50, 50, 0}); r.Valid || r.ZeroWeightObserved != 2 {
		t.Errorf("customers in a weight-0 group: %+v", r)
	}
}
