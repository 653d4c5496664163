package report_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestCollectorCuped: the covariate is read from the profile the
// exposing decision recorded; revenue per customer adjusted with it keeps
// the estimate and shows the variance it removed. The report names the
// experiment's layer, and knows which experiments exist.
func TestCollectorCuped(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := report.NewCollector("x")
	c.Covariate = "ltv"
	c.Add(report.Event{Stored: at, Ruleset: &report.Ruleset{Version: "r", Experiments: []report.Experiment{
		{ID: "x", Layer: "pricing", From: 0, To: 4999, Traffic: 50, Variants: []report.Variant{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}}},
		{ID: "y", Layer: "pricing", From: 5000, To: 9999, Traffic: 50, Variants: []report.Variant{{ID: "a", Weight: 1}}}}}})
	for i := 0; i < 4000; i++ {
		id := fmt.Sprintf("c%d", i)
		v := []string{"a", "b"}[i%2]
		ltv := 100 + 50*r.NormFloat64()
		dec := "dcs_" + id
		c.Add(report.Event{Stored: at, Decision: &report.Decision{ID: dec, CustomerID: id, TS: at,
			Experiments: []wire.Assignment{{ID: "x", Variant: v, Layer: "pricing"}}, Profile: map[string]any{"known": true, "ltv": ltv}}})
		spend := 0.5*ltv + 10*r.NormFloat64()
		if v == "b" {
			spend += 3
		}
		if spend > 0 {
			c.Add(report.Event{Stored: at, Outcome: &report.Outcome{ID: "o" + id, DecisionID: dec, CustomerID: id, Type: wire.OutcomeConverted,
				Value: engine.Money{Minor: int64(spend * 100), Exp: 2}, Currency: "USD"}})
		}
	}
	rep := c.Report(report.Weights{})
	if rep.Layer != "pricing" || !reflect.DeepEqual(rep.Buckets, []int{0, 4999}) || rep.CovariateRecorded != 4000 {
		t.Fatalf("layer %q %v, covariate recorded %d", rep.Layer, rep.Buckets, rep.CovariateRecorded)
	}
	b := rep.Variants[1]
	if len(b.Adjusted) != 1 || len(b.RevenueUplift) != 1 {
		t.Fatalf("adjusted %+v", b.Adjusted)
	}
	raw, adj := b.RevenueUplift[0], b.Adjusted[0]
	if adj.VarianceReduction == nil || *adj.VarianceReduction < 0.7 || adj.High-adj.Low >= raw.High-raw.Low || adj.Low > 3 || adj.High < 3 {
		t.Errorf("raw %+v, adjusted %+v: want a much narrower interval around +3", raw, adj)
	}
	if !c.Exists() || !reflect.DeepEqual(c.Known(), []string{"holdout", "x", "y"}) {
		t.Errorf("exists %v, known %v", c.Exists(), c.Known())
	}
	if o := report.NewCollector("nope"); o.Exists() {
		t.Error("an experiment nobody knows exists")
	}
}
