package metrics

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// scrape returns every sample of the registry as "name{label=value,...}
// value" lines, for the families whose name starts with prefix.
func scrape(t *testing.T, m *Metrics, prefix string) string {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, mt := range f.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
			lines = append(lines, f.GetName()+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestLearningMetrics(t *testing.T) {
	m := New()
	st := LearningStats{}
	m.LearningFunc(func() LearningStats { return st })
	if got := scrape(t, m, "arbiter_learning_"); got != "arbiter_learning_snapshot_ok{} 0" {
		t.Errorf("before the first refresh:\n%s", got)
	}
	m.LearningRefreshed(nil)
	m.LearningRefreshed(errors.New("down"))
	m.LearningRefreshed(nil)
	st = LearningStats{Loaded: true, AgeSeconds: 3.5, OK: true, Cells: []LearningCell{
		{Offer: "stay_with_us", Cell: "at_risk", Trials: 200, Successes: 12, Mean: 0.059, Low: 0.031, High: 0.094}}}
	want := strings.Join([]string{
		"arbiter_learning_posterior_ci95_high{cell=at_risk,offer=stay_with_us} 0.094",
		"arbiter_learning_posterior_ci95_low{cell=at_risk,offer=stay_with_us} 0.031",
		"arbiter_learning_posterior_mean{cell=at_risk,offer=stay_with_us} 0.059",
		"arbiter_learning_refreshes_total{result=error} 1",
		"arbiter_learning_refreshes_total{result=ok} 2",
		"arbiter_learning_snapshot_age_seconds{} 3.5",
		"arbiter_learning_snapshot_ok{} 1",
		"arbiter_learning_successes{cell=at_risk,offer=stay_with_us} 12",
		"arbiter_learning_trials{cell=at_risk,offer=stay_with_us} 200",
	}, "\n")
	if got := scrape(t, m, "arbiter_learning_"); got != want {
		t.Errorf("after:\n%s\nwant\n%s", got, want)
	}
}
