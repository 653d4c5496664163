package report

import (
	"fmt"
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
	if r := TwoProportion(10, 10, 10, 10); r.P != 1 || r.Diff != 0 || r.Low != 0 || r.High != 0 {
		t.Errorf("all converted: %+v", r)
	}
	if r := Welch(Summarize([]float64{1}), Summarize([]float64{1, 2})); r.Valid {
		t.Errorf("one value: %+v", r)
	}
	if r := Welch(Summarize([]float64{0, 0}), Summarize([]float64{0, 0})); r.P != 1 {
		t.Errorf("zero variance: %+v", r)
	}
	if r := Welch(Summarize([]float64{1, 1}), Summarize([]float64{2, 2, 2})); r.P != 0 || !math.IsInf(r.T, 1) || r.Low != 1 || r.High != 1 {
		t.Errorf("zero variance, different means: %+v", r)
	}
	if s := Summarize(nil); s != (Sample{}) {
		t.Errorf("no values: %+v", s)
	}
	if s := Summarize([]float64{7.5}); s != (Sample{N: 1, Mean: 7.5}) {
		t.Errorf("one value: %+v", s)
	}
	if r := SampleRatio([]int{0, 0}, []float64{1, 1}); r.Valid {
		t.Errorf("no customers: %+v", r)
	}
	if r := SampleRatio([]int{5, 5}, []float64{1, 0}); r.Valid {
		t.Errorf("zero weight: %+v", r)
	}
	if r := SampleRatio([]int{5}, []float64{1}); r.Valid {
		t.Errorf("one group: %+v", r)
	}
	if p := chiSquareSF(math.NaN(), 1); !math.IsNaN(p) {
		t.Errorf("chi-square sf of NaN: %g", p)
	}
	if p := chiSquareSF(1, 0); !math.IsNaN(p) {
		t.Errorf("chi-square sf with df 0: %g", p)
	}
	// Large df: the t quantile tends to the normal one.
	near(t, "t975(1e6)", studentsT(1e6).Quantile(upper95), 1.959963984540054, 1e-5)
	near(t, "t975(1)", studentsT(1).Quantile(upper95), 12.706204736174707, 1e-6)
	near(t, "chi2 sf(3.841458820694124, 1)", chiSquareSF(3.841458820694124, 1), 0.05, 1e-10)
	near(t, "chi2 sf(100, 3)", chiSquareSF(100, 3), 1.5541594313896049e-21, 1e-32) // mpmath gammainc(1.5, 50, inf)
}

// The reference values below were computed independently of gonum, with
// mpmath at 50 significant digits, from the textbook formulas written out
// by hand (the script, abridged):
//
//	from mpmath import mp, mpf, sqrt, erfc, betainc, gammainc, findroot, inf
//	mp.dps = 50
//	normsf = lambda z: erfc(mpf(z)/sqrt(2))/2                  # 1 - Φ(z)
//	t2 = lambda t, df: betainc(df/2, 0.5, 0, df/(df+t*t), regularized=True)  # P(|T| >= t)
//	tq = lambda df: findroot(lambda t: t2(t, df) - 0.05, 2)    # t(0.975; df)
//	chisf = lambda x, k: gammainc(k/2, x/2, inf, regularized=True)  # P(X >= x)
//	z975 = findroot(lambda z: normsf(z) - 0.025, 2)
//	# two proportions: p1, p2 = x1/n1, x2/n2; d = p2 - p1
//	#   se = sqrt(p1(1-p1)/n1 + p2(1-p2)/n2); low, high = d ∓ z975·se
//	#   p = (x1+x2)/(n1+n2); z = d/sqrt(p(1-p)(1/n1+1/n2)); P = 2·normsf(|z|)
//	# Welch: means, variances over n-1 (exact decimals), qa = va/na, qb = vb/nb,
//	#   t = (mb-ma)/sqrt(qa+qb), df = (qa+qb)²/(qa²/(na-1) + qb²/(nb-1)),
//	#   P = t2(|t|, df), low, high = d ∓ tq(df)·sqrt(qa+qb)
//	# sample ratio: e = N·w/Σw, chi² = Σ (o-e)²/e, P = chisf(chi², groups-1)
//
// Textbook cross-checks: z(0.975) = 1.96 and the t table's 12.706 (df 1),
// 2.228 (df 10), 2.042 (df 30); chi-square critical values 3.841 (df 1) and
// 5.991 (df 2) at 0.05; Welch's example 1 on Wikipedia ("Welch's t-test":
// t = 2.46, df = 25.0, p = 0.021).

// within reports an error unless got is within rel of want, relatively (or
// within 1e-300 of it, for want 0).
func within(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > rel*math.Abs(want)+1e-300 {
		t.Errorf("%s = %.17g, want %.17g (relative error %.2g > %g)", name, got, want, math.Abs(got-want)/math.Abs(want), rel)
	}
}

func TestTwoProportionReference(t *testing.T) {
	for _, c := range []struct {
		x1, n1, x2, n2        int
		diff, low, high, z, p float64
	}{
		{100, 1000, 130, 1000, 0.03, 0.0020679344393763643, 0.057932065560623636, 2.1027406056221143, 0.035488450466474692},
		{3, 5, 5, 6, 0.23333333333333333, -0.28945982010285709, 0.75612648676952376, 0.86522315682782734, 0.38691631776906808},
		{50, 10000, 80, 10000, 0.003, 0.00077295992775204289, 0.0052270400722479571, 2.6397672883733334, 0.0082962973078883773},
		{900, 1000, 850, 1000, -0.05, -0.078905316007630368, -0.021094683992369632, -3.3806170189140663, 0.00072323271643019342},
		{12000, 200000, 12650, 200000, 0.00325, 0.0017595930894673612, 0.0047404069105326388, 4.2738244610297785, 1.9214833200793516e-5},
		{0, 50, 5, 50, 0.1, 0.016845770539019323, 0.18315422946098068, 2.2941573387056177, 0.021781462791119500},
		{1, 3, 2, 3, 0.33333333333333333, -0.42105715605078122, 1.0877238227174479, 0.81649658092772603, 0.41421617824252512},
		{1000, 10000, 1500, 10000, 0.05, 0.040859336492896304, 0.059140663507103696, 10.690449676496975, 1.1282263028690692e-26},
	} {
		name := fmt.Sprintf("%d/%d vs %d/%d", c.x1, c.n1, c.x2, c.n2)
		r := TwoProportion(c.x1, c.n1, c.x2, c.n2)
		if !r.Valid {
			t.Errorf("%s: not valid", name)
			continue
		}
		within(t, name+" diff", r.Diff, c.diff, 1e-12)
		within(t, name+" low", r.Low, c.low, 1e-12)
		within(t, name+" high", r.High, c.high, 1e-12)
		within(t, name+" z", r.Z, c.z, 1e-12)
		within(t, name+" p", r.P, c.p, 1e-12)
		wantRel := math.NaN()
		if c.x1 > 0 {
			wantRel = c.diff / (float64(c.x1) / float64(c.n1))
			within(t, name+" relative", r.Relative, wantRel, 1e-12)
		} else if !math.IsNaN(r.Relative) {
			t.Errorf("%s: relative %g, want NaN (the control's rate is 0)", name, r.Relative)
		}
	}
}

func TestWelchReference(t *testing.T) {
	fill := func(n int, v float64, more ...float64) []float64 {
		xs := make([]float64, n, n+len(more))
		for i := range xs {
			xs[i] = v
		}
		return append(xs, more...)
	}
	for _, c := range []struct {
		name                     string
		a, b                     []float64
		meanA, varA, meanB, varB float64
		t, df, p, low, high      float64
	}{
		{"stats_test example", []float64{0, 0, 10, 20, 30}, []float64{0, 10, 20, 30, 40, 50},
			12, 170, 25, 350,
			1.3528950106151225, 8.7931469172587669, 0.20984668759662776, -8.8153198643694292, 34.815319864369429},
		{"Wikipedia example 1",
			[]float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4},
			[]float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4},
			20.82, 7.8674285714285714, 22.986666666666667, 3.8126666666666667,
			2.4553563982860051, 24.988529290231414, 0.021378001462867032, 0.34923706619240523, 3.9840962671409281},
		{"revenue: mostly zeros", fill(20, 0, 12.5, 80, 33.3), fill(18, 0, 99.99, 5, 42, 42, 7.25),
			5.4695652173913043, 317.13948616600791, 8.5321739130434783, 542.23676324110672,
			0.50103002893910103, 41.175067293445886, 0.61901806698295078, -9.2804941994366215, 15.405711590740969},
		{"unequal sizes and variances", []float64{1.2, 3.4, 2.2, 5.0}, []float64{10, 12.5, 9.75, 11, 30, 8.25, 14, 13.5},
			2.95, 2.6766666666666667, 13.625, 47.642857142857143,
			4.1475396929744010, 8.4136096089836560, 0.0028855056348939843, 4.7901774899040534, 16.559822510095947},
		{"a control without variance", []float64{5, 5, 5}, []float64{1, 2, 3, 4},
			5, 0, 2.5, 1.6666666666666667,
			-3.8729833462074169, 3, 0.030466291662170991, -4.5542602567605220, -0.44573974323947797},
	} {
		a, b := Summarize(c.a), Summarize(c.b)
		if a.N != len(c.a) || b.N != len(c.b) {
			t.Errorf("%s: counts %d, %d", c.name, a.N, b.N)
		}
		within(t, c.name+" mean a", a.Mean, c.meanA, 1e-14)
		within(t, c.name+" var a", a.Var, c.varA, 1e-13)
		within(t, c.name+" mean b", b.Mean, c.meanB, 1e-14)
		within(t, c.name+" var b", b.Var, c.varB, 1e-13)
		r := Welch(a, b)
		if !r.Valid {
			t.Errorf("%s: not valid", c.name)
			continue
		}
		within(t, c.name+" diff", r.Diff, c.meanB-c.meanA, 1e-13)
		within(t, c.name+" t", r.T, c.t, 1e-12)
		within(t, c.name+" df", r.DF, c.df, 1e-12)
		within(t, c.name+" p", r.P, c.p, 1e-11)
		within(t, c.name+" low", r.Low, c.low, 1e-11)
		within(t, c.name+" high", r.High, c.high, 1e-11)
	}
}

func TestSampleRatioReference(t *testing.T) {
	for _, c := range []struct {
		observed []int
		weights  []float64
		chi2, p  float64
	}{
		{[]int{1000, 1100}, []float64{50, 50}, 4.7619047619047619, 0.029096331741252216},
		{[]int{500, 480, 1020}, []float64{1, 1, 2}, 1.2, 0.54881163609402643},
		{[]int{5, 6}, []float64{50, 50}, 0.090909090909090909, 0.76302460055299503},
		{[]int{1000, 1200}, []float64{1, 1}, 18.181818181818182, 2.0078656124264846e-5},
		{[]int{1660, 2140}, []float64{1, 1}, 60.631578947368421, 6.8821079141214636e-15},
		{[]int{5000, 5000}, []float64{1, 1}, 0, 1},
		{[]int{12, 18, 33, 37, 50}, []float64{1, 2, 3, 4, 5}, 1.125, 0.89028566364206720},
		{[]int{90, 310}, []float64{0.25, 0.75}, 1.3333333333333333, 0.24821307898992358},
	} {
		name := fmt.Sprintf("%v against %v", c.observed, c.weights)
		r := SampleRatio(c.observed, c.weights)
		if !r.Valid || r.DF != len(c.observed)-1 {
			t.Errorf("%s: valid %v, df %d", name, r.Valid, r.DF)
			continue
		}
		within(t, name+" chi2", r.Chi2, c.chi2, 1e-13)
		within(t, name+" p", r.P, c.p, 1e-12)
	}
}

// TestDistributionsReference checks the distributions the statistics use.
func TestDistributionsReference(t *testing.T) {
	within(t, "z(0.975)", normalCritical(upper95), 1.9599639845400542, 1e-15)
	// gonum's inverse incomplete beta loses digits as df grows (5e-11 at df
	// 1e6, some 1e-7 past 1e8): harmless for an interval printed to cents.
	for _, c := range []struct{ df, q, rel float64 }{
		{1, 12.706204736174705, 1e-12}, {2, 4.3026527297494639, 1e-12}, {10, 2.2281388519862747, 1e-12},
		{30, 2.0422724563012383, 1e-12}, {1000, 1.9623390808264085, 1e-12}, {1e6, 1.9599663568141070, 1e-9},
	} {
		within(t, fmt.Sprintf("t(0.975; %g)", c.df), studentsT(c.df).Quantile(upper95), c.q, c.rel)
	}
	for _, c := range []struct {
		name   string
		got, p float64
		rel    float64
	}{
		{"P(|Z| >= 1.959963984540054)", normalTwoSided(1.959963984540054), 0.050000000000000028, 1e-15},
		{"P(|Z| >= 0.5)", normalTwoSided(-0.5), 0.61707507745197379, 1e-15},
		{"P(|Z| >= 10)", normalTwoSided(10), 1.5239706048321052e-23, 1e-13},
		{"P(|T| >= 2.5; df 4.5)", studentTwoSided(2.5, 4.5), 0.059905686502200544, 1e-12},
		{"P(|T| >= 40; df 3)", studentTwoSided(-40, 3), 3.4380680789158528e-5, 1e-12},
		{"P(chi2 >= 3.841458820694124; df 1)", chiSquareSF(3.841458820694124, 1), 0.050000000000000058, 1e-13},
		{"P(chi2 >= 5.991464547107979; df 2)", chiSquareSF(5.991464547107979, 2), 0.050000000000000075, 1e-13},
		{"P(chi2 >= 0.5; df 7)", chiSquareSF(0.5, 7), 0.99944648139042497, 1e-15},
		{"P(chi2 >= 100; df 3)", chiSquareSF(100, 3), 1.5541594313896049e-21, 1e-12},
		{"P(chi2 >= 0; df 2)", chiSquareSF(0, 2), 1, 0},
	} {
		within(t, c.name, c.got, c.p, c.rel)
	}
}
