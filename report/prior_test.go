package report_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestPriorRuleset: `experiments report --since 24h` reads only the last
// day's events, and the ruleset was loaded a week before, so no
// rules_reloaded event is among them. The report then knew no weights: it
// took the variants in id order (here "aggressive" as the control, the
// uplift's sign flipped) and checked 90/10 traffic against equal weights (a
// false SAMPLE RATIO MISMATCH). The ruleset in force before the events read
// (Prior) gives the weights, control and layer, and is no event read.
func TestPriorRuleset(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rs := &report.Ruleset{Version: "r7", Experiments: []report.Experiment{{ID: "x", Layer: "pricing", From: 0, To: 9999, Traffic: 100,
		Variants: []report.Variant{{ID: "baseline", Weight: 90}, {ID: "aggressive", Weight: 10}}}}}
	for _, prior := range []bool{false, true} {
		c := report.NewCollector("x")
		if prior {
			c.Prior(rs)
		}
		for i := 0; i < 1000; i++ {
			v := "baseline"
			if i%10 == 0 {
				v = "aggressive"
			}
			id := fmt.Sprintf("c%d", i)
			c.Add(report.Event{Stored: at, Decision: &report.Decision{ID: "dcs_" + id, CustomerID: id, TS: at,
				Experiments: []wire.Assignment{{ID: "x", Variant: v, Layer: "pricing"}}}})
		}
		r := c.Report(report.Weights{})
		t.Logf("prior %v: control %q, SRM mismatch %v, warnings %q", prior, r.Control, r.SRM.Mismatch, r.Warnings)
		if !prior {
			continue // what the report said without it
		}
		if r.Control != "baseline" || r.SRM.Mismatch || !r.SRM.Checked || r.SRM.WeightsFrom != "rules_reloaded event of ruleset r7" ||
			r.Layer != "pricing" || r.Events != 1000 || len(r.Warnings) != 1 {
			t.Errorf("control %q, SRM %+v, layer %q, events %d, warnings %q: want control baseline, weights of r7, no mismatch, layer pricing, 1000 events, only the few-conversions warning",
				r.Control, r.SRM, r.Layer, r.Events, r.Warnings)
		}
	}
}
