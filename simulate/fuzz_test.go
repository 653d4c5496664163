package simulate

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseTruth: any text as a truth file parses or fails with positioned
// errors; it never panics, and what parses has probabilities in [0, 1].
func FuzzParseTruth(f *testing.F) {
	rs := loadRules(f, "../examples/checkout")
	if b, err := os.ReadFile("../examples/checkout/shop_truth.yaml"); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{"", "offers: {}\nvalue: 1\n", "offers: {stay_with_us: {at_risk: 2}}\nvalue: x\n", "- 1", "value: &a [*a]",
		"offers: {stay_with_us: [1]}\nvalue: cart.total\ndelay: 9999999999999999999\n", "offers: {stay_with_us: {default: .5, vip: 1e-3}}\nvalue: 'discount'\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tr, err := ParseTruth(rs, "t.yaml", []byte(text))
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				if e.Line < 1 || e.Col < 1 || e.File != "t.yaml" {
					t.Fatalf("an error without a position: %+v", e)
				}
			}
			return
		}
		if err != nil {
			return // YAML that does not parse
		}
		for _, o := range tr.Offers {
			for _, p := range append([]float64{o.Default}, rates(o)...) {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("probability %v", p)
				}
			}
		}
		if tr.Value == nil || tr.Delay < 0 {
			t.Fatalf("parsed without a value or with delay %d", tr.Delay)
		}
	})
}

func rates(o TruthOffer) []float64 {
	var out []float64
	for _, s := range o.Segments {
		out = append(out, s.P)
	}
	return out
}
