package metrics

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/engine"
)

// TestMetricsAsDocumented: every metric of the table in
// docs/operations.md ("Metrics") is served with the labels written there,
// and every metric served (arbiter_*) is in that table. Operators build
// dashboards and alerts from it.
func TestMetricsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{} // name: its labels, sorted
	row := regexp.MustCompile("^\\| (`arbiter_[^|]*)\\| *[a-z]+ *\\|([^|]*)\\|")
	for _, line := range strings.Split(string(doc), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := []string{}
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[2], -1) {
			labels = append(labels, l[1])
		}
		slices.Sort(labels)
		for _, n := range regexp.MustCompile("`(arbiter_[a-z0-9_]+)`").FindAllStringSubmatch(m[1], -1) {
			documented[n[1]] = labels
		}
	}
	if len(documented) < 20 {
		t.Fatalf("found %d metrics in docs/operations.md: the table's layout changed?", len(documented))
	}

	// Every metric, each labelled one with a series.
	m := New()
	m.EventStatsFunc(func() EventStats { return EventStats{} })
	m.CacheStatsFunc(func() (uint64, uint64) { return 0, 0 })
	m.LedgerStatsFunc(func() LedgerStats { return LedgerStats{} })
	m.ProfileStatsFunc(func() ProfileStats { return ProfileStats{} })
	m.LearningFunc(func() LearningStats {
		return LearningStats{Loaded: true, OK: true, Cells: []LearningCell{{Offer: "o", Cell: "all"}}}
	})
	m.LearningRefreshed(errors.New("down"))
	m.Decision("checkout", ResultOK, 1)
	m.Granted("o")
	m.RuleError("o")
	m.RedisError(RedisOpProfile)
	m.Reload(ReloadOK, "v1")
	m.Outcome("converted")
	m.OutcomeRefused("unknown_decision", "converted")
	m.GrantTransitions(engine.OutcomeResult{Commits: 1})
	m.Idempotency(IdemReplayed)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "arbiter_") {
			continue
		}
		served[name] = true
		want, ok := documented[name]
		if !ok {
			t.Errorf("%s is served but not in docs/operations.md's table of metrics", name)
			continue
		}
		if len(f.GetMetric()) == 0 {
			continue
		}
		got := []string{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s has the labels %v; docs/operations.md says %v", name, got, want)
		}
	}
	for name := range documented {
		if !served[name] {
			t.Errorf("docs/operations.md documents %s, which is not served", name)
		}
	}
}
