package report_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestAACoverageEndToEnd: A/A experiments run through the whole report
// (decision and outcome events, exposure, attribution, revenue in minor
// units, then the intervals), not the statistics alone: with no
// difference between the variants, the fixed 95% intervals of conversion
// and of revenue per customer cover 0 in about 95% of the experiments
// read once, and the always-valid ones in at least 95%. 200 experiments of
// 2 × 400 customers, 20% converting for 5.00 to 200.00 USD.
func TestAACoverageEndToEnd(t *testing.T) {
	const sims, perVariant = 200, 400
	r := rand.New(rand.NewPCG(20, 26))
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var convF, revF, convS, revS int
	covers := func(lo, hi float64) bool { return lo <= 0 && 0 <= hi }
	for s := 0; s < sims; s++ {
		c := report.NewCollector("aa")
		c.Add(report.Event{Stored: at, Ruleset: &report.Ruleset{Version: "r", Experiments: []report.Experiment{
			{ID: "aa", Variants: []report.Variant{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}}}}}})
		for i := 0; i < 2*perVariant; i++ {
			id := fmt.Sprintf("c%d", i)
			dec := "dcs_" + id
			c.Add(report.Event{Stored: at, Decision: &report.Decision{ID: dec, CustomerID: id, TS: at,
				Experiments: []wire.Assignment{{ID: "aa", Variant: []string{"a", "b"}[i%2]}}}})
			if r.Float64() < 0.2 {
				c.Add(report.Event{Stored: at, Outcome: &report.Outcome{ID: "o" + id, DecisionID: dec, CustomerID: id, Type: wire.OutcomeConverted,
					Value: engine.Money{Minor: 500 + r.Int64N(19501), Exp: 2}, Currency: "USD"}})
			}
		}
		for _, seq := range []bool{false, true} {
			rep := c.ReportWith(report.Weights{}, report.Options{Sequential: seq})
			b := rep.Variants[1]
			if b.Conversion == nil || len(b.RevenueUplift) != 1 {
				t.Fatalf("sim %d: no uplift: %+v", s, b)
			}
			cc, rc := covers(b.Conversion.Low, b.Conversion.High), covers(b.RevenueUplift[0].Low, b.RevenueUplift[0].High)
			if seq {
				convS, revS = convS+b2i(cc), revS+b2i(rc)
			} else {
				convF, revF = convF+b2i(cc), revF+b2i(rc)
			}
		}
	}
	share := func(n int) float64 { return float64(n) / sims }
	t.Logf("coverage of 0: fixed conversion %.3f, revenue %.3f; always-valid conversion %.3f, revenue %.3f",
		share(convF), share(revF), share(convS), share(revS))
	for _, c := range []struct {
		what     string
		got, min float64
		max      float64
	}{
		{"fixed conversion", share(convF), 0.90, 0.99},
		{"fixed revenue", share(revF), 0.90, 0.99},
		{"always-valid conversion", share(convS), 0.95, 1},
		{"always-valid revenue", share(revS), 0.95, 1},
	} {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s interval covers 0 in %.3f of A/A experiments, want %.2f to %.2f", c.what, c.got, c.min, c.max)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
