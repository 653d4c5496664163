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
	for _, c := range []struct {
		name   string
		o      report.Options
		groups []variantGroup
	}{
		{"always-valid, 20 a variant", report.Options{Sequential: true}, []variantGroup{{"a", 20, 10}, {"b", 20, 11}}},
		{"always-valid, 3 a variant", report.Options{Sequential: true, Horizon: 10000}, []variantGroup{{"a", 3, 1}, {"b", 3, 2}}},
		{"fixed, 2 and 3 customers", report.Options{}, []variantGroup{{"a", 2, 1}, {"b", 3, 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws, evs := variantEvents(c.groups)
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

// variantGroup is a variant of experiment "x" with customers decided once
// each, the first converted of them converting.
type variantGroup struct {
	v                    string
	customers, converted int
}

// variantEvents is the events of groups, and their variants of weight 1.
func variantEvents(groups []variantGroup) ([]report.Variant, []report.Event) {
	var ws []report.Variant
	var evs []report.Event
	for _, g := range groups {
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
	return ws, evs
}
