package replay

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The estimator is unbiased and its interval honest: a synthetic log with
// known truth. A randomized logging policy shows offer A with probability
// 0.3 and B otherwise; the candidate would show A with probability 0.8.
// Outcomes are drawn from known rates (A converts 10% of the time, worth
// 50; B 4%, worth 80), so the candidate's true reward rate is 0.8×0.10 +
// 0.2×0.04 = 0.088 and its value per decision 0.8×0.10×50 + 0.2×0.04×80 =
// 4.64. Over 100 seeds the 95% interval must cover the truth at least 90
// times (for both), and the mean of the estimates must be within 2% of it.
func TestEstimatorCoversTheTruth(t *testing.T) {
	const (
		seeds, n            = 100, 4000
		logA, candA         = 0.3, 0.8
		rateA, rateB        = 0.10, 0.04
		valueA, valueB      = 50.0, 80.0
		trueRate, trueValue = candA*rateA + (1-candA)*rateB, candA*rateA*valueA + (1-candA)*rateB*valueB
	)
	coveredRate, coveredValue := 0, 0
	var sumRate, sumValue float64
	for seed := uint64(1); seed <= seeds; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		est := newEstimator(DefaultResamples, seed)
		for i := 0; i < n; i++ {
			a := r.Float64() < logA
			piR, piC, rate, value := 1-logA, 1-candA, rateB, valueB
			if a {
				piR, piC, rate, value = logA, candA, rateA, valueA
			}
			reward := r.Float64() < rate
			v := 0.0
			if reward {
				v = value
			}
			est.add(hash64(strconv.Itoa(i)), math.Min(piC/piR, MaxWeight), reward, v)
		}
		var e Estimate
		est.fill(&e)
		c := e.Candidate
		if c.RewardRate.Lo <= trueRate && trueRate <= c.RewardRate.Hi {
			coveredRate++
		}
		if c.ValuePerDecision.Lo <= trueValue && trueValue <= c.ValuePerDecision.Hi {
			coveredValue++
		}
		sumRate += c.RewardRate.Value
		sumValue += c.ValuePerDecision.Value
	}
	t.Logf("coverage of the 95%% interval over %d seeds: reward rate %d, value per decision %d; mean estimates %.4f (truth %.4f), %.3f (truth %.3f)",
		seeds, coveredRate, coveredValue, sumRate/seeds, trueRate, sumValue/seeds, trueValue)
	if coveredRate < 90 || coveredValue < 90 {
		t.Errorf("the interval covers the truth in %d (rate) and %d (value) of %d seeds, want at least 90", coveredRate, coveredValue, seeds)
	}
	if math.Abs(sumRate/seeds-trueRate) > 0.02*trueRate || math.Abs(sumValue/seeds-trueValue) > 0.02*trueValue {
		t.Errorf("mean estimates %.4f and %.3f, truth %.4f and %.3f: biased", sumRate/seeds, sumValue/seeds, trueRate, trueValue)
	}
}

// The same decisions in another order give the same estimate and interval
// (each decision's resample counts are seeded by its id).
func TestEstimatorOrderFree(t *testing.T) {
	a, b := newEstimator(50, 3), newEstimator(50, 3)
	for i := 0; i < 100; i++ {
		a.add(uint64(i)*7919, float64(i%3), i%4 == 0, float64(i))
	}
	for i := 99; i >= 0; i-- {
		b.add(uint64(i)*7919, float64(i%3), i%4 == 0, float64(i))
	}
	var ea, eb Estimate
	a.fill(&ea)
	b.fill(&eb)
	if ea != eb {
		t.Errorf("order changed the estimate: %+v vs %+v", ea, eb)
	}
}
