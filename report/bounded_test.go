package report_test

import (
	"strconv"
	"testing"

	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestConversionIntervalWithinRates: a difference of two conversion rates
// lies in [-1, 1], so its interval is shown within it. The always-valid
// interval of 20 customers a variant tuned for 10,000 ran to about ±310
// points, and a Wald interval of a few customers past ±100: still valid,
// but an owner reads "-310 pp" as a defect. Cut to [-1, 1], the interval
// holds as often as before (the difference is never outside it).
func TestConversionIntervalWithinRates(t *testing.T) {
	type group struct {
		v                    string
		customers, converted int
	}
	for _, c := range []struct {
		name   string
		o      report.Options
		groups []group
	}{
		{"always-valid, 20 a variant", report.Options{Sequential: true}, []group{{"a", 20, 10}, {"b", 20, 11}}},
		{"always-valid, 3 a variant", report.Options{Sequential: true, Horizon: 10000}, []group{{"a", 3, 1}, {"b", 3, 2}}},
		{"fixed, 2 and 3 customers", report.Options{}, []group{{"a", 2, 1}, {"b", 3, 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ws []report.Variant
			var evs []report.Event
			for _, g := range c.groups {
				ws = append(ws, report.Variant{ID: g.v, Weight: 1})
				for i := 0; i < g.customers; i++ {
					id := g.v + strconv.Itoa(i)
					evs = append(evs, report.Event{Decision: &report.Decision{ID: "dcs_" + id, CustomerID: id,
						Experiments: []wire.Assignment{{ID: "x", Variant: g.v}}}})
					if i < g.converted {
						evs = append(evs, report.Event{Outcome: &report.Outcome{ID: "out_" + id, DecisionID: "dcs_" + id, CustomerID: id, Type: wire.OutcomeConverted}})
					}
				}
			}
			r := collect("x", evs).ReportWith(report.Weights{From: "--weights", Variants: ws}, c.o)
			conv := r.Variants[1].Conversion
			if conv == nil {
				t.Fatal("no conversion uplift")
			}
			if conv.Low < -1 || conv.High > 1 || conv.Low > conv.Diff || conv.High < conv.Diff {
				t.Errorf("interval [%v, %v] around %v: want within [-1, 1] and around the difference", conv.Low, conv.High, conv.Diff)
			}
		})
	}
}
