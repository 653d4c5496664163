package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestWriteMarkdown(t *testing.T) {
	r := &Report{
		Date:     time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Machine:  Machine{Cores: 2, CPUModel: "AMD EPYC 7B13", GoVersion: "go1.26.8", Commit: "42c3fd5", OS: "linux/amd64"},
		Settings: "test",
		Scenarios: []Scenario{
			{Name: "a", Title: "cache hit", Saturation: 12345.6, Ceiling: 40000, Ratio: 0.3086,
				Open:             Result{Rate: 6172, Latency: Percentiles{P50: 250, P90: 600, P99: 1500, P999: 12000, Max: 25000}},
				CPUPerDecisionUS: 150, RedisCallsPerDecision: -1, RedisCPUUS: -1, Failed: 3, Decisions: 1000, Degraded: 25,
				EventsPublished: 1000, Notes: []string{"a note"}},
			{Name: "b", Error: "arbiter | did not start"},
		},
	}
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"2026-11-23 10:00 UTC on 2 cores (AMD EPYC 7B13), go1.26.8",
		"| a cache hit | 12346 | 40000 | 0.31 | 6172/s | 250 µs | 600 µs | 1.50 ms | 12.0 ms | 25.0 ms | 150 µs | n/a (embedded) | n/a | 1000 / 0 | 2.5% | 3 |",
		`| b | failed: arbiter \| did not start |`,
		"- a: a note",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

// TestCountFailures: both sides' failures are counted and said. The
// ceiling's were in the JSON's rounds only, so a ceiling that failed
// requests (left out of its throughput) gave Arbiter a higher ratio
// without a word in the report.
func TestCountFailures(t *testing.T) {
	s := Scenario{
		Rounds: []Round{
			{Arbiter: Result{Errors: map[string]int64{"503": 2}}, Ceiling: Result{Errors: map[string]int64{"timeout": 3}}},
			{Arbiter: Result{Errors: map[string]int64{}}, Ceiling: Result{Errors: map[string]int64{"timeout": 1}}},
		},
		Open:        Result{Errors: map[string]int64{"timeout": 1}},
		CeilingOpen: Result{Errors: map[string]int64{"conn_closed": 2}},
	}
	s.CountFailures()
	if s.Failed != 3 || s.CeilingFailed != 6 {
		t.Errorf("Failed, CeilingFailed = %d, %d; want 3, 6", s.Failed, s.CeilingFailed)
	}
	notes := strings.Join(s.Notes, "\n")
	for _, want := range []string{"Arbiter's failed requests (by status or transport error): map[503:2 timeout:1]",
		"the ceiling's failed requests (by status or transport error): map[conn_closed:2 timeout:4]; left out of its throughput"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	clean := Scenario{Rounds: []Round{{}}}
	clean.CountFailures()
	if clean.Failed != 0 || clean.CeilingFailed != 0 || len(clean.Notes) != 0 {
		t.Errorf("no failures: %d, %d, notes %q", clean.Failed, clean.CeilingFailed, clean.Notes)
	}
}
