package engine

import (
	"context"
	"strconv"
	"testing"
)

// TestOverrideOfTwoExperimentsFirstWrittenWins: when two experiments
// override the same offer for one customer, the experiment written first
// (files in path order, then top to bottom) wins for that offer, as
// docs/decisions.md says and as `learning` already did, whatever the
// experiments' ids; the customer is in both.
func TestOverrideOfTwoExperimentsFirstWrittenWins(t *testing.T) {
	offer := "offers:\n  - id: o\n    kind: discount\n    discount: {percent: 10}\n"
	exp := func(id string, percent int) string {
		return "  - id: " + id + "\n    variants:\n      - id: v\n        weight: 100\n        offers:\n          o: {discount: {percent: " +
			strconv.Itoa(percent) + "}}\n"
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  float64
		by    string
	}{
		{"one file, zz written first", map[string]string{"a.yaml": offer + "experiments:\n" + exp("zz_first", 20) + exp("aa_second", 30)}, 20, "zz_first/v"},
		{"one file, aa written first", map[string]string{"a.yaml": offer + "experiments:\n" + exp("aa_first", 30) + exp("zz_second", 20)}, 30, "aa_first/v"},
		{"two files, zz's file first", map[string]string{"a.yaml": offer + "experiments:\n" + exp("zz_first", 20), "b.yaml": "experiments:\n" + exp("aa_second", 30)}, 20, "zz_first/v"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := load(t, tc.files)
			req := Request{CustomerID: "c-1", Now: testNow, Cart: cart("USD", "sku", "x", 100.0, 1), Explain: true}
			d, err := New(Options{}).Decide(context.Background(), rs, profileOf(rs, "c-1", nil), &req)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Experiments) != 2 {
				t.Fatalf("experiments %v, want both", d.Experiments)
			}
			if len(d.Actions) != 1 || d.Actions[0].Discount == nil || d.Actions[0].Discount.Percent == nil {
				t.Fatalf("actions %+v", d.Actions)
			}
			if got := *d.Actions[0].Discount.Percent; got != tc.want {
				t.Errorf("percent %v, want %v (the override of the experiment written first)", got, tc.want)
			}
			for _, oe := range d.Explain.Offers {
				if oe.ID == "o" && oe.Variant != tc.by {
					t.Errorf("explain names %q, want %q", oe.Variant, tc.by)
				}
			}
		})
	}
}
