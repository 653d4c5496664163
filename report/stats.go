package report

import "math"

// This file holds the experiment report's statistics: pure functions, no
// I/O, tested against hand-computed examples in stats_test.go.

// z975 is the 97.5th percentile of the standard normal distribution: the
// half-width multiplier of a two-sided 95% interval.
const z975 = 1.959963984540054

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
// Interval: d ± 1.959964·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).
// Test: z = d / sqrt(p(1-p)(1/n1 + 1/n2)) with p = (x1+x2)/(n1+n2);
// P = 2·(1 - Φ(|z|)).
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
	r.Low, r.High = r.Diff-z975*se, r.Diff+z975*se
	p := float64(x1+x2) / float64(n1+n2)
	sePooled := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if sePooled == 0 { // both rates 0, or both 1: no difference to test
		r.Z, r.P = 0, 1
		return r
	}
	r.Z = r.Diff / sePooled
	r.P = 2 * NormalSF(math.Abs(r.Z))
	return r
}

// Sample summarises one group's values: count, mean and unbiased sample
// variance (divided by N-1).
type Sample struct {
	N    int
	Mean float64
	Var  float64
}

// Summarize returns the sample's count, mean and variance (two-pass, for
// accuracy).
func Summarize(xs []float64) Sample {
	s := Sample{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range xs {
			d := x - s.Mean
			ss += d * d
		}
		s.Var = ss / float64(s.N-1)
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
// P = 2·(1 - F_t(|t|; df)); the interval is Diff ± t(0.975; df)·se.
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
	r.P = StudentTwoSided(math.Abs(r.T), r.DF)
	q := StudentQuantile975(r.DF)
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
	Valid    bool // false with fewer than 2 groups, no observations or a non-positive weight
}

// SampleRatio checks observed counts against weights (any positive
// scale): chi² = Σ (o - e)²/e with e = N·w/Σw, df = groups - 1,
// P = Q(df/2, chi²/2), the chi-square survival function.
func SampleRatio(observed []int, weights []float64) SRM {
	r := SRM{DF: len(observed) - 1, P: math.NaN(), Chi2: math.NaN()}
	if len(observed) != len(weights) || len(observed) < 2 {
		return r
	}
	var n, wsum float64
	for i, o := range observed {
		if weights[i] <= 0 {
			return r
		}
		n += float64(o)
		wsum += weights[i]
	}
	if n == 0 {
		return r
	}
	r.Expected = make([]float64, len(observed))
	r.Chi2 = 0
	for i, o := range observed {
		e := n * weights[i] / wsum
		r.Expected[i] = e
		d := float64(o) - e
		r.Chi2 += d * d / e
	}
	r.P = ChiSquareSF(r.Chi2, r.DF)
	r.Valid = true
	return r
}

// NormalSF is the standard normal survival function 1 - Φ(x).
func NormalSF(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }

// StudentTwoSided is P(|T| >= t) for Student's t with df degrees of
// freedom (t >= 0): I_{df/(df+t²)}(df/2, 1/2).
func StudentTwoSided(t, df float64) float64 {
	if math.IsInf(t, 1) {
		return 0
	}
	return RegIncBeta(df/2, 0.5, df/(df+t*t))
}

// StudentQuantile975 is the 97.5th percentile of Student's t with df
// degrees of freedom (df > 0), found by bisection on StudentTwoSided.
func StudentQuantile975(df float64) float64 {
	lo, hi := 0.0, 1.0
	for StudentTwoSided(hi, df) > 0.05 {
		hi *= 2
		if hi > 1e12 {
			return math.Inf(1)
		}
	}
	for i := 0; i < 200 && hi-lo > 1e-12*hi; i++ {
		mid := (lo + hi) / 2
		if StudentTwoSided(mid, df) > 0.05 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// ChiSquareSF is P(X >= x) for a chi-square variable with df degrees of
// freedom: the regularised upper incomplete gamma Q(df/2, x/2).
func ChiSquareSF(x float64, df int) float64 {
	if df <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	return RegUpperGamma(float64(df)/2, x/2)
}

// RegIncBeta is the regularised incomplete beta function I_x(a, b), by
// Lentz's continued fraction (Numerical Recipes, betacf).
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	lbeta := lgamma(a+b) - lgamma(a) - lgamma(b)
	front := math.Exp(lbeta + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betacf(a, b, x) / a
	}
	return 1 - front*betacf(b, a, 1-x)/b
}

func betacf(a, b, x float64) float64 {
	const eps, tiny = 1e-15, 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 10000; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// RegUpperGamma is the regularised upper incomplete gamma function
// Q(a, x), by its series below a+1 and its continued fraction above
// (Numerical Recipes, gser and gcf).
func RegUpperGamma(a, x float64) float64 {
	if x <= 0 {
		return 1
	}
	gln := lgamma(a)
	if x < a+1 {
		ap, sum := a, 1/a
		del := sum
		for n := 0; n < 100000; n++ {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-16 {
				break
			}
		}
		return 1 - sum*math.Exp(-x+a*math.Log(x)-gln)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-gln) * h
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
