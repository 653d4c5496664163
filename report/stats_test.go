package report

import (
	"math"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", name, got, want, tol)
	}
}

// Hand-computed example: control 100 of 1000 customers converted, variant
// 130 of 1000.
//
//	p1 = 0.10, p2 = 0.13, d = 0.03
//	unpooled se = sqrt(0.1·0.9/1000 + 0.13·0.87/1000) = sqrt(0.0002031) = 0.0142513157
//	95% CI = 0.03 ± 1.959964·0.0142513157 = [0.0020679344, 0.0579320656]
//	pooled p = 230/2000 = 0.115; se = sqrt(0.115·0.885·(2/1000)) = 0.0142671651
//	z = 0.03/0.0142671651 = 2.1027406056; P = erfc(z/√2) = 0.0354884505
//
// (The decimals were checked with mpmath at 30 digits.)
func TestTwoProportionHandComputed(t *testing.T) {
	r := TwoProportion(100, 1000, 130, 1000)
	near(t, "diff", r.Diff, 0.03, 1e-12)
	near(t, "relative", r.Relative, 0.3, 1e-12)
	near(t, "low", r.Low, 0.0020679344393764, 1e-12)
	near(t, "high", r.High, 0.0579320655606236, 1e-12)
	near(t, "z", r.Z, 2.1027406056221143, 1e-10)
	near(t, "p", r.P, 0.0354884504664747, 1e-10)
}

// Hand-computed example: revenue per customer, control A = [0 0 10 20 30],
// variant B = [0 10 20 30 40 50].
//
//	mean A = 12, squared deviations 144+144+4+64+324 = 680, var A = 680/4 = 170
//	mean B = 25, squared deviations 625+225+25+25+225+625 = 1750, var B = 1750/5 = 350
//	se² = 170/5 + 350/6 = 34 + 58.333… = 92.333…; se = 9.6090235369
//	t = 13/9.6090235369 = 1.3528950106
//	df = 92.333…² / (34²/4 + 58.333…²/5) = 8525.44/969.556 = 8.7931469173
//	P = 2·∫_t^∞ f_t(x; df) dx = 0.2098466876 (numerical integration of the t density)
//	t(0.975; 8.7931) = 2.2702951846; CI = 13 ± 2.2702951846·9.6090235369 = [-8.8153198644, 34.8153198644]
func TestWelchHandComputed(t *testing.T) {
	a := Summarize([]float64{0, 0, 10, 20, 30})
	b := Summarize([]float64{0, 10, 20, 30, 40, 50})
	near(t, "mean a", a.Mean, 12, 1e-12)
	near(t, "var a", a.Var, 170, 1e-12)
	near(t, "var b", b.Var, 350, 1e-12)
	r := Welch(a, b)
	near(t, "diff", r.Diff, 13, 1e-12)
	near(t, "t", r.T, 1.3528950106151225, 1e-10)
	near(t, "df", r.DF, 8.793146917258767, 1e-10)
	near(t, "p", r.P, 0.2098466875966278, 1e-9)
	near(t, "low", r.Low, -8.815319864369429, 1e-7)
	near(t, "high", r.High, 34.81531986436943, 1e-7)
}

// Hand-computed examples of the sample-ratio check.
//
//	50/50 weights, 1000 and 1100 customers: e = 1050 each;
//	chi² = 2·50²/1050 = 4.7619047619; df 1; P = erfc(sqrt(chi²/2)) = 0.0290963317
//	weights 1:1:2, 500, 480 and 1020 customers: e = 500, 500, 1000;
//	chi² = 0 + 400/500 + 400/1000 = 1.2; df 2; P = exp(-1.2/2) = 0.5488116361
func TestSampleRatioHandComputed(t *testing.T) {
	r := SampleRatio([]int{1000, 1100}, []float64{50, 50})
	near(t, "chi2", r.Chi2, 4.761904761904762, 1e-12)
	near(t, "p", r.P, 0.029096331741252216, 1e-10)
	r = SampleRatio([]int{500, 480, 1020}, []float64{1, 1, 2})
	near(t, "chi2", r.Chi2, 1.2, 1e-12)
	near(t, "p", r.P, 0.5488116360940264, 1e-10)
	if r.DF != 2 || !r.Valid {
		t.Errorf("df %d valid %v", r.DF, r.Valid)
	}
}

func TestStatsEdgeCases(t *testing.T) {
	if r := TwoProportion(0, 0, 1, 10); r.Valid || !math.IsNaN(r.P) {
		t.Errorf("empty control: %+v", r)
	}
	if r := TwoProportion(0, 10, 0, 10); r.P != 1 || r.Diff != 0 {
		t.Errorf("no conversions: %+v", r)
	}
	if r := Welch(Summarize([]float64{1}), Summarize([]float64{1, 2})); r.Valid {
		t.Errorf("one value: %+v", r)
	}
	if r := Welch(Summarize([]float64{0, 0}), Summarize([]float64{0, 0})); r.P != 1 {
		t.Errorf("zero variance: %+v", r)
	}
	if r := SampleRatio([]int{0, 0}, []float64{1, 1}); r.Valid {
		t.Errorf("no customers: %+v", r)
	}
	if r := SampleRatio([]int{5, 5}, []float64{1, 0}); r.Valid {
		t.Errorf("zero weight: %+v", r)
	}
	// Large df: the t quantile tends to the normal one.
	near(t, "t975(1e6)", StudentQuantile975(1e6), z975, 1e-5)
	near(t, "t975(1)", StudentQuantile975(1), 12.706204736174707, 1e-6)
	near(t, "chi2 sf(3.841458820694124, 1)", ChiSquareSF(3.841458820694124, 1), 0.05, 1e-10)
	near(t, "chi2 sf(100, 3)", ChiSquareSF(100, 3), 1.5541594313896049e-21, 1e-32) // mpmath gammainc(1.5, 50, inf)
}
