package report

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds the report's statistics: pure functions, tested against
// reference values computed independently in stats_test.go. The
// distributions (normal, Student's t, chi-square) and the sample mean,
// variance and chi-square statistic are gonum's; what is written here is
// the tests' formulas.

// upper95 is the upper quantile that bounds a two-sided 95% interval.
const upper95 = 0.975

// normalCritical is the standard normal's quantile of p: Φ⁻¹(0.975) =
// 1.959964 is the half-width multiplier of a two-sided 95% interval.
func normalCritical(p float64) float64 { return distuv.UnitNormal.Quantile(p) }

// normalTwoSided is P(|Z| >= |z|) for a standard normal Z: 2·Φ(-|z|)
// (the lower tail, which keeps its precision far out).
func normalTwoSided(z float64) float64 { return 2 * distuv.UnitNormal.CDF(-math.Abs(z)) }

// studentsT is Student's t distribution with df degrees of freedom.
func studentsT(df float64) distuv.StudentsT { return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df} }

// studentTwoSided is P(|T| >= |t|) for Student's t with df degrees of
// freedom: 2·S(|t|), S its survival function.
func studentTwoSided(t, df float64) float64 { return 2 * studentsT(df).Survival(math.Abs(t)) }

// chiSquareSF is P(X >= x) for a chi-square variable with df degrees of
// freedom (NaN for df <= 0 or a NaN x).
func chiSquareSF(x float64, df int) float64 {
	if df <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	return distuv.ChiSquared{K: float64(df)}.Survival(x)
}

// ProportionTest compares the conversion rates x1/n1 (the control) and
// x2/n2 (the variant).
type ProportionTest struct {
	Control, Variant float64 // the two rates
	// Diff is the absolute uplift Variant - Control, with its 95% Wald
	// interval [Low, High] (unpooled standard error).
	Diff, Low, High float64
	// Relative is Diff / Control (NaN when Control is 0).
	Relative float64
	// Z and P are the two-proportion z-test (pooled standard error) and its
	// two-sided p-value.
	Z, P float64
	// Valid is false when either group is empty.
	Valid bool
}

// TwoProportion runs the two-proportion z-test of x2/n2 against x1/n1.
//
// Interval: d ± Φ⁻¹(0.975)·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).
// Test: z = d / sqrt(p(1-p)(1/n1 + 1/n2)) with p = (x1+x2)/(n1+n2);
// P = 2·Φ(-|z|).
func TwoProportion(x1, n1, x2, n2 int) ProportionTest {
	if n1 <= 0 || n2 <= 0 {
		return ProportionTest{Diff: math.NaN(), Low: math.NaN(), High: math.NaN(), Relative: math.NaN(), Z: math.NaN(), P: math.NaN()}
	}
	p1 := float64(x1) / float64(n1)
	p2 := float64(x2) / float64(n2)
	r := ProportionTest{Control: p1, Variant: p2, Diff: p2 - p1, Valid: true, Relative: math.NaN()}
	if p1 > 0 {
		r.Relative = r.Diff / p1
	}
	se := math.Sqrt(p1*(1-p1)/float64(n1) + p2*(1-p2)/float64(n2))
	z := normalCritical(upper95)
	r.Low, r.High = r.Diff-z*se, r.Diff+z*se
	p := float64(x1+x2) / float64(n1+n2)
	sePooled := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if sePooled == 0 { // both rates 0, or both 1: no difference to test
		r.Z, r.P = 0, 1
		return r
	}
	r.Z = r.Diff / sePooled
	r.P = normalTwoSided(r.Z)
	return r
}

// Sample summarises one group's values: count, mean and unbiased sample
// variance (divided by N-1).
type Sample struct {
	N    int
	Mean float64
	Var  float64
}

// Summarize returns the sample's count, mean and variance (gonum's
// corrected two-pass algorithm); the variance of fewer than 2 values is 0,
// the mean of none 0.
func Summarize(xs []float64) Sample {
	s := Sample{N: len(xs)}
	switch {
	case s.N == 1:
		s.Mean = xs[0]
	case s.N > 1:
		s.Mean, s.Var = stat.MeanVariance(xs, nil)
	}
	return s
}

// WelchTest compares the means of two samples with unequal variances.
type WelchTest struct {
	// Diff is b.Mean - a.Mean with its 95% interval [Low, High].
	Diff, Low, High float64
	// Relative is Diff / a.Mean (NaN when a.Mean is 0).
	Relative float64
	T, DF, P float64
	// Valid is false when either sample has fewer than 2 values.
	Valid bool
}

// Welch runs Welch's t-test of b against a (the control).
//
// se = sqrt(va/na + vb/nb); t = (mb - ma)/se; the degrees of freedom are
// Welch–Satterthwaite's (va/na + vb/nb)² / ((va/na)²/(na-1) + (vb/nb)²/(nb-1));
// P = 2·S_t(|t|; df); the interval is Diff ± t(0.975; df)·se.
func Welch(a, b Sample) WelchTest {
	nan := math.NaN()
	if a.N < 2 || b.N < 2 {
		return WelchTest{Diff: nan, Low: nan, High: nan, Relative: nan, T: nan, DF: nan, P: nan}
	}
	r := WelchTest{Diff: b.Mean - a.Mean, Relative: nan, Valid: true}
	if a.Mean != 0 {
		r.Relative = r.Diff / a.Mean
	}
	qa, qb := a.Var/float64(a.N), b.Var/float64(b.N)
	se := math.Sqrt(qa + qb)
	if se == 0 {
		r.Low, r.High, r.T, r.DF = r.Diff, r.Diff, 0, float64(a.N+b.N-2)
		r.P = 1
		if r.Diff != 0 {
			r.T, r.P = math.Inf(1), 0
		}
		return r
	}
	r.T = r.Diff / se
	r.DF = (qa + qb) * (qa + qb) / (qa*qa/float64(a.N-1) + qb*qb/float64(b.N-1))
	r.P = studentTwoSided(r.T, r.DF)
	q := studentsT(r.DF).Quantile(upper95)
	r.Low, r.High = r.Diff-q*se, r.Diff+q*se
	return r
}

// SRM is a sample-ratio-mismatch check: Pearson's chi-square goodness of
// fit of the observed counts against the counts the weights expect.
type SRM struct {
	Expected []float64
	Chi2     float64
	DF       int
	P        float64
	// Valid is false with fewer than 2 groups of positive weight, no
	// observations, a negative weight, or observations in a group of
	// weight 0 (ZeroWeightObserved).
	Valid bool
	// ZeroWeightObserved is the index of the first group of weight 0 that
	// has observations (which no test against these weights can place),
	// else -1.
	ZeroWeightObserved int
}

// SampleRatio checks observed counts against weights (any positive
// scale): chi² = Σ (o - e)²/e with e = N·w/Σw, df = groups - 1, P the
// chi-square survival function of chi². A group of weight 0 with no
// observations (a variant paused with weight 0, which the assignment
// gives no one) expects nothing and has nothing: it is left out of the
// test (expected 0, not counted in df).
func SampleRatio(observed []int, weights []float64) SRM {
	r := SRM{DF: len(observed) - 1, P: math.NaN(), Chi2: math.NaN(), ZeroWeightObserved: -1}
	if len(observed) != len(weights) {
		return r
	}
	var n, wsum float64
	var obs, exp []float64
	groups := 0
	for i, o := range observed {
		switch {
		case weights[i] < 0 || math.IsNaN(weights[i]):
			return r
		case weights[i] == 0 && o == 0:
			continue
		case weights[i] == 0:
			r.ZeroWeightObserved = i
			return r
		}
		groups++
		n += float64(o)
		wsum += weights[i]
	}
	r.DF = groups - 1
	if groups < 2 || n == 0 {
		return r
	}
	r.Expected = make([]float64, len(observed))
	for i, o := range observed {
		if weights[i] == 0 {
			continue
		}
		r.Expected[i] = n * weights[i] / wsum
		obs, exp = append(obs, float64(o)), append(exp, r.Expected[i])
	}
	r.Chi2 = stat.ChiSquare(obs, exp)
	r.P = chiSquareSF(r.Chi2, r.DF)
	r.Valid = true
	return r
}
