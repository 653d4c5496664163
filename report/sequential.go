package report

import (
	"math"

	"gonum.org/v1/gonum/stat"
)

// This file holds the peeking-safe (always-valid) intervals and the
// variance reduction with a pre-period covariate (CUPED). Both are checked
// against reference values computed independently (testdata/reference.json,
// made by testdata/reference.py with Python's standard library) and by
// simulation (sim_test.go).

// Alpha is the error rate of every interval of the report: 95% intervals.
const Alpha = 0.05

// DefaultHorizon is the number of customers per variant at which the
// always-valid interval is tuned to be narrowest (Horizon of Options).
const DefaultHorizon = 10000

// Interval kinds, as the report names them.
const (
	IntervalFixed      = "fixed"
	IntervalSequential = "sequential"
)

// SequentialTest is an always-valid confidence sequence for a difference
// of two means (a conversion rate is the mean of 0s and 1s): an interval
// that holds, with probability 1 - Alpha, at every look at once, so that
// the report may be read every day and the experiment stopped whenever it
// shows a difference.
type SequentialTest struct {
	Diff, Low, High float64
	// P is the always-valid p-value at this look: min(1, 1/Λ), Λ the
	// mixture likelihood ratio of "no difference".
	P float64
	// Tau2 is the variance of the normal mixture over effects.
	Tau2  float64
	Valid bool
}

// Sequential computes the confidence sequence of b's mean minus a's (the
// control's) from each group's count, mean and variance: the normal
// mixture (mixture sequential probability ratio test) of Robbins, as used
// for A/B tests by Johari, Koomen, Pekelis and Walsh, "Always valid
// inference: continuous monitoring of A/B tests" (Operations Research,
// 2022), with the plug-in variance that makes it an asymptotic confidence
// sequence (Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas, "Time-uniform
// central limit theory and asymptotic confidence sequences", Annals of
// Statistics, 2024):
//
//	V  = va/na + vb/nb                    (the variance of the difference now)
//	τ² = r·(va + vb)/m,  r = 2·ln(1/α) + ln(1 + 2·ln(1/α))
//	Λ(θ) = sqrt(V/(V+τ²)) · exp(τ²(Δ-θ)² / (2V(V+τ²)))
//	interval: {θ : Λ(θ) < 1/α} = Δ ± sqrt(V(V+τ²)/τ² · (2·ln(1/α) + ln((V+τ²)/V)))
//	p = min(1, 1/Λ(0))
//
// τ² is chosen so that the interval is narrowest when each group has m
// customers (the tuning of the normal mixture given by Howard, Ramdas,
// McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic
// confidence sequences", Annals of Statistics, 2021, and used by
// Waudby-Smith et al.); it is fixed before the data, as the guarantee
// needs, up to the plug-in variances.
func Sequential(a, b Sample, m int) SequentialTest {
	nan := math.NaN()
	if a.N < 2 || b.N < 2 || m <= 0 {
		return SequentialTest{Diff: nan, Low: nan, High: nan, P: nan, Tau2: nan}
	}
	r := SequentialTest{Diff: b.Mean - a.Mean, Valid: true}
	V := a.Var/float64(a.N) + b.Var/float64(b.N)
	if V == 0 { // no variance at all: nothing to learn from the spread
		r.Low, r.High, r.P = r.Diff, r.Diff, 1
		if r.Diff != 0 {
			r.P = 0
		}
		return r
	}
	l := math.Log(1 / Alpha)
	r.Tau2 = (2*l + math.Log(1+2*l)) * (a.Var + b.Var) / float64(m)
	if r.Tau2 == 0 {
		r.Tau2 = V
	}
	t2 := r.Tau2
	half := math.Sqrt(V * (V + t2) / t2 * (2*l + math.Log((V+t2)/V)))
	r.Low, r.High = r.Diff-half, r.Diff+half
	logLambda := 0.5*math.Log(V/(V+t2)) + t2*r.Diff*r.Diff/(2*V*(V+t2))
	r.P = math.Min(1, math.Exp(-logLambda))
	return r
}

// proportionSample is a 0/1 sample of n values, x of them 1, with its
// variance divided by n (the plug-in of the Wald interval).
func proportionSample(x, n int) Sample {
	if n <= 0 {
		return Sample{}
	}
	p := float64(x) / float64(n)
	return Sample{N: n, Mean: p, Var: p * (1 - p)}
}

// CupedTest is the difference of revenue per customer adjusted with a
// pre-period covariate X (CUPED: Deng, Xu, Kohavi and Walker, "Improving
// the sensitivity of online controlled experiments by utilizing
// pre-experiment data", WSDM 2013):
//
//	θ = cov(Y, X) / var(X) over both groups together
//	Y' = Y - θ·(X - mean(X))
//
// and the difference of the means of Y' is tested as Y's would be (Welch
// or the sequential interval). Because X is measured before the customer's
// exposure, the adjusted difference estimates the same effect, with the
// variance of the difference reduced by VarianceReduction (ρ², ρ the
// correlation of X and Y, when the groups are alike).
type CupedTest struct {
	Theta float64
	// VarianceReduction is 1 - Var(Δ') / Var(Δ): the share of the
	// variance of the difference that the covariate removed.
	VarianceReduction float64
	Adjusted          [2]Sample // the control's and the variant's Y'
	Valid             bool
}

// Cuped adjusts ya, yb (the control's and the variant's revenue per
// customer) with their covariates xa, xb (same lengths).
func Cuped(ya, xa, yb, xb []float64) CupedTest {
	if len(ya) != len(xa) || len(yb) != len(xb) || len(ya) < 2 || len(yb) < 2 {
		return CupedTest{Theta: math.NaN(), VarianceReduction: math.NaN()}
	}
	y := append(append(make([]float64, 0, len(ya)+len(yb)), ya...), yb...)
	x := append(append(make([]float64, 0, len(xa)+len(xb)), xa...), xb...)
	_, vx := stat.MeanVariance(x, nil)
	if vx == 0 {
		return CupedTest{Theta: math.NaN(), VarianceReduction: math.NaN()}
	}
	theta := stat.Covariance(y, x, nil) / vx
	mx := stat.Mean(x, nil)
	adj := func(ys, xs []float64) []float64 {
		out := make([]float64, len(ys))
		for i := range ys {
			out[i] = ys[i] - theta*(xs[i]-mx)
		}
		return out
	}
	r := CupedTest{Theta: theta, Valid: true}
	r.Adjusted[0], r.Adjusted[1] = Summarize(adj(ya, xa)), Summarize(adj(yb, xb))
	sa, sb := Summarize(ya), Summarize(yb)
	before := sa.Var/float64(sa.N) + sb.Var/float64(sb.N)
	after := r.Adjusted[0].Var/float64(sa.N) + r.Adjusted[1].Var/float64(sb.N)
	r.VarianceReduction = math.NaN()
	if before > 0 {
		r.VarianceReduction = 1 - after/before
	}
	return r
}
