package report_test

import (
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/report"
)

// TestReportFewCustomers: the report says when its intervals cannot be
// trusted for want of customers: no conversion at all (a Wald interval of
// [0, 0] and p = 1 from 400 customers), tiny groups, a variant without
// exposures, and not when every variant has 5 converted and 5 unconverted
// customers.
func TestReportFewCustomers(t *testing.T) {
	for _, c := range []struct {
		name   string
		groups []variantGroup
		few    string // "" when no warning is due
	}{
		{"no conversion anywhere", []variantGroup{{"a", 200, 0}, {"b", 200, 0}}, "a 0 of 200, b 0 of 200"},
		{"tiny groups", []variantGroup{{"a", 5, 3}, {"b", 6, 5}}, "a 3 of 5, b 5 of 6"},
		{"a variant converting everyone", []variantGroup{{"a", 1000, 100}, {"b", 8, 8}}, "b 8 of 8"},
		{"a variant without exposures", []variantGroup{{"a", 1000, 100}, {"b", 0, 0}}, "b 0 of 0"},
		{"enough", []variantGroup{{"a", 10, 5}, {"b", 10, 5}}, ""},
		{"one variant: nothing compared", []variantGroup{{"a", 3, 0}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws, evs := variantEvents(c.groups)
			r := collect("x", evs).Report(report.Weights{From: "--weights", Variants: ws})
			var got string
			for _, w := range r.Warnings {
				if strings.HasPrefix(w, "too few customers") {
					got = w
				}
			}
			switch {
			case c.few == "" && got != "":
				t.Errorf("warning %q: none due", got)
			case c.few != "" && !strings.Contains(got, "(converted customers of customers: "+c.few+")"):
				t.Errorf("warnings %q: want one naming %q", r.Warnings, c.few)
			}
		})
	}
}
