package report

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// reference is testdata/reference.json, made by testdata/reference.py
// with Python's standard library (exact rational sums for CUPED).
type reference struct {
	Sequential []struct {
		NA, NB                   int
		MA, VA, MB, VB           float64
		M                        int
		Diff, Low, High, P, Tau2 float64
	}
	Cuped []struct {
		YA, XA, YB, XB []float64
		Theta          float64
		Diff           float64
		VarReduction   float64 `json:"var_reduction"`
		AdjustedVarA   float64 `json:"adjusted_var_a"`
		AdjustedVarB   float64 `json:"adjusted_var_b"`
	}
	Proportion []struct {
		X1, N1, X2, N2        int
		Diff, Low, High, Z, P float64
	}
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sequential) == 0 || len(r.Cuped) == 0 || len(r.Proportion) == 0 {
		t.Fatal("empty reference table")
	}
	return r
}

// TestAgainstReference checks the always-valid interval, CUPED and the
// two-proportion test against the reference table.
func TestAgainstReference(t *testing.T) {
	ref := loadReference(t)
	for i, c := range ref.Sequential {
		got := Sequential(Sample{N: c.NA, Mean: c.MA, Var: c.VA}, Sample{N: c.NB, Mean: c.MB, Var: c.VB}, c.M)
		near(t, "seq diff", got.Diff, c.Diff, 1e-12)
		near(t, "seq low", got.Low, c.Low, 1e-9*math.Max(1, math.Abs(c.Low)))
		near(t, "seq high", got.High, c.High, 1e-9*math.Max(1, math.Abs(c.High)))
		near(t, "seq p", got.P, c.P, 1e-9)
		near(t, "seq tau2", got.Tau2, c.Tau2, 1e-12*math.Max(1, c.Tau2))
		// The interval is the set where the mixture likelihood ratio stays
		// under 1/α: at its ends Λ = 1/α exactly.
		V := c.VA/float64(c.NA) + c.VB/float64(c.NB)
		for _, end := range []float64{got.Low, got.High} {
			d := got.Diff - end
			logL := 0.5*math.Log(V/(V+got.Tau2)) + got.Tau2*d*d/(2*V*(V+got.Tau2))
			near(t, "Λ at an end", logL, math.Log(1/Alpha), 1e-9)
		}
		if t.Failed() {
			t.Fatalf("sequential case %d: %+v, want %+v", i, got, c)
		}
	}
	for i, c := range ref.Cuped {
		got := Cuped(c.YA, c.XA, c.YB, c.XB)
		near(t, "theta", got.Theta, c.Theta, 1e-12)
		near(t, "diff", got.Adjusted[1].Mean-got.Adjusted[0].Mean, c.Diff, 1e-9)
		near(t, "var reduction", got.VarianceReduction, c.VarReduction, 1e-9)
		near(t, "adjusted var a", got.Adjusted[0].Var, c.AdjustedVarA, 1e-9)
		near(t, "adjusted var b", got.Adjusted[1].Var, c.AdjustedVarB, 1e-9)
		if t.Failed() {
			t.Fatalf("cuped case %d: %+v", i, got)
		}
	}
	for i, c := range ref.Proportion {
		got := TwoProportion(c.X1, c.N1, c.X2, c.N2)
		near(t, "diff", got.Diff, c.Diff, 1e-12)
		near(t, "low", got.Low, c.Low, 1e-9)
		near(t, "high", got.High, c.High, 1e-9)
		near(t, "z", got.Z, c.Z, 1e-9)
		near(t, "p", got.P, c.P, 1e-9)
		if t.Failed() {
			t.Fatalf("proportion case %d: %+v", i, got)
		}
	}
}

// aaRates simulates A/A experiments (no difference between the groups)
// under daily peeking: every day each group gets perDay customers who
// convert with probability p; at the end of each day the owner reads the
// report and declares a winner when the interval excludes 0. It returns
// the share of experiments with a false positive at some look, with the
// fixed 95% interval and with the always-valid one.
func aaRates(experiments, days, perDay int, p float64, seed uint64) (fixed, sequential float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	var nFixed, nSeq int
	for e := 0; e < experiments; e++ {
		var xa, xb, n int
		hitF, hitS := false, false
		for d := 0; d < days; d++ {
			for i := 0; i < perDay; i++ {
				if r.Float64() < p {
					xa++
				}
				if r.Float64() < p {
					xb++
				}
			}
			n += perDay
			if pt := TwoProportion(xa, n, xb, n); pt.Valid && (pt.Low > 0 || pt.High < 0) {
				hitF = true
			}
			if st := Sequential(proportionSample(xa, n), proportionSample(xb, n), DefaultHorizon); st.Valid && (st.Low > 0 || st.High < 0) {
				hitS = true
			}
		}
		if hitF {
			nFixed++
		}
		if hitS {
			nSeq++
		}
	}
	return float64(nFixed) / float64(experiments), float64(nSeq) / float64(experiments)
}

// TestAAPeeking: on 1,000 simulated A/A experiments read every day for 30
// days (200 customers per group a day, 10% conversion), the fixed 95%
// interval declares a false winner in far more than 5% of them, and the
// always-valid interval in fewer than 5%. ARBITER_AA_FULL=1 runs 10,000
// experiments (the figures in docs/experiments.md).
func TestAAPeeking(t *testing.T) {
	n := 1000
	if os.Getenv("ARBITER_AA_FULL") != "" {
		n = 10000
	}
	fixed, seq := aaRates(n, 30, 200, 0.10, 2026)
	t.Logf("%d A/A experiments, 30 daily looks: false positives %.1f%% with the fixed interval, %.1f%% with the always-valid one", n, 100*fixed, 100*seq)
	if fixed <= 0.10 {
		t.Errorf("fixed interval: %.1f%% false positives under daily peeking; peeking should inflate it well past 5%%", 100*fixed)
	}
	if seq >= 0.05 {
		t.Errorf("always-valid interval: %.1f%% false positives under daily peeking, want under 5%%", 100*seq)
	}
}

// TestCupedSimulation: with a covariate correlated ρ = 0.6 with revenue,
// CUPED removes about ρ² = 36% of the variance, and its 95% interval
// still covers the true difference about 95% of the time.
func TestCupedSimulation(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	const sims, n, rho, effect = 1000, 400, 0.6, 2.0
	cover, red := 0, 0.0
	draw := func(shift float64) (ys, xs []float64) {
		for i := 0; i < n; i++ {
			x := r.NormFloat64()
			y := 50 + 10*(rho*x+math.Sqrt(1-rho*rho)*r.NormFloat64()) + shift
			ys, xs = append(ys, y), append(xs, 20+5*x)
		}
		return
	}
	for s := 0; s < sims; s++ {
		ya, xa := draw(0)
		yb, xb := draw(effect)
		c := Cuped(ya, xa, yb, xb)
		w := Welch(c.Adjusted[0], c.Adjusted[1])
		if w.Low <= effect && effect <= w.High {
			cover++
		}
		red += c.VarianceReduction
	}
	red /= sims
	t.Logf("CUPED: mean variance reduction %.1f%% (ρ² = 36%%), coverage %.1f%%", 100*red, 100*float64(cover)/sims)
	if red < 0.32 || red > 0.40 {
		t.Errorf("variance reduction %.3f, want about 0.36", red)
	}
	if c := float64(cover) / sims; c < 0.93 || c > 0.97 {
		t.Errorf("coverage %.3f, want about 0.95", c)
	}
}
