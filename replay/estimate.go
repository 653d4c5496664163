package replay

import (
	"math"
	"sort"
)

// The off-policy estimate (SPEC-LOOP "arbiter replay"): each replayed
// decision i has the recorded reward r_i (a reward-type outcome within the
// window: 0 or 1) and value v_i, and the weight w_i = min(π_candidate /
// π_recorded, 100) of its recorded answer. The candidate's reward rate is
// the self-normalized importance-sampling estimate Σ w r / Σ w (its value
// per decision Σ w v / Σ w); the recorded policy's is the plain mean. The
// 95% intervals are percentile intervals of a Poisson bootstrap: every
// resample counts decision i k_ib ~ Poisson(1) times, drawn from a source
// seeded by the seed and the decision's id, so the estimate is streaming
// (no list of decisions is kept), independent of the order of the events,
// and the same on every run.

type estimator struct {
	seed uint64
	// point sums: candidate (weighted), recorded (weight 1)
	n, matching       int64
	sw, sw2, swr, swv float64
	sr, sv            float64
	// per resample
	b                        int
	bw, bwr, bwv, bn, br, bv []float64
}

func newEstimator(resamples int, seed uint64) *estimator {
	e := &estimator{seed: seed, b: resamples}
	for _, p := range []*[]float64{&e.bw, &e.bwr, &e.bwv, &e.bn, &e.br, &e.bv} {
		*p = make([]float64, resamples)
	}
	return e
}

// poisson1 is the CDF of Poisson(1) at 0, 1, 2, …: a uniform below
// cdf[k] draws k.
var poisson1 = func() []float64 {
	var out []float64
	p, c := math.Exp(-1), 0.0
	for k := 0; k < 20; k++ {
		c += p
		out = append(out, c)
		p /= float64(k + 1)
	}
	return out
}()

// add counts one decision: id's hash seeds its resample counts.
func (e *estimator) add(id uint64, w float64, reward bool, value float64) {
	r := b2f(reward)
	e.n++
	if w > 0 {
		e.matching++
	}
	e.sw += w
	e.sw2 += w * w
	e.swr += w * r
	e.swv += w * value
	e.sr += r
	e.sv += value
	state := mix(id ^ e.seed*0x9e3779b97f4a7c15)
	var bits uint64
	for b := 0; b < e.b; b++ {
		if b&3 == 0 {
			state += 0x9e3779b97f4a7c15
			bits = mix(state)
		}
		k := poissonTable[bits&0xffff]
		bits >>= 16
		if k == 0 {
			continue
		}
		f := float64(k)
		e.bn[b] += f
		e.br[b] += f * r
		e.bv[b] += f * value
		if w > 0 {
			e.bw[b] += f * w
			e.bwr[b] += f * w * r
			e.bwv[b] += f * w * value
		}
	}
}

// poissonTable maps 16 random bits to a draw of Poisson(1): entry u is
// the k with cdf[k-1] <= (u+0.5)/65536 < cdf[k] (four draws per 64-bit
// number).
var poissonTable = func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	for u := range t {
		x := (float64(u) + 0.5) / (1 << 16)
		k := 0
		for k < len(poisson1)-1 && x >= poisson1[k] {
			k++
		}
		t[u] = uint8(k)
	}
	return &t
}()

// fill writes the estimate into est.
func (e *estimator) fill(est *Estimate) {
	est.Decisions = e.n
	est.Matching = e.matching
	if e.sw2 > 0 {
		est.ESS = e.sw * e.sw / e.sw2
	}
	if e.n > 0 {
		est.Recorded.RewardRate.Value = e.sr / float64(e.n)
		est.Recorded.ValuePerDecision.Value = e.sv / float64(e.n)
	}
	if e.sw > 0 {
		est.Candidate.RewardRate.Value = e.swr / e.sw
		est.Candidate.ValuePerDecision.Value = e.swv / e.sw
	}
	est.Recorded.RewardRate.Lo, est.Recorded.RewardRate.Hi = e.interval(e.br, e.bn)
	est.Recorded.ValuePerDecision.Lo, est.Recorded.ValuePerDecision.Hi = e.interval(e.bv, e.bn)
	est.Candidate.RewardRate.Lo, est.Candidate.RewardRate.Hi = e.interval(e.bwr, e.bw)
	est.Candidate.ValuePerDecision.Lo, est.Candidate.ValuePerDecision.Hi = e.interval(e.bwv, e.bw)
	if e.sw == 0 {
		est.Candidate.RewardRate = Interval{Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
		est.Candidate.ValuePerDecision = est.Candidate.RewardRate
	}
	if e.n == 0 { // nothing was measured: no rate, not a rate of 0
		est.Recorded.RewardRate = Interval{Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
		est.Recorded.ValuePerDecision = est.Recorded.RewardRate
	}
}

// interval is the 2.5% and 97.5% percentiles of num[b]/den[b] over the
// resamples with a positive den.
func (e *estimator) interval(num, den []float64) (lo, hi float64) {
	var xs []float64
	for b := range num {
		if den[b] > 0 {
			xs = append(xs, num[b]/den[b])
		}
	}
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(xs)
	q := func(p float64) float64 {
		x := p * float64(len(xs)-1)
		i := int(x)
		if i+1 >= len(xs) {
			return xs[len(xs)-1]
		}
		f := x - float64(i)
		return xs[i]*(1-f) + xs[i+1]*f
	}
	return q(0.025), q(0.975)
}
