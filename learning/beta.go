package learning

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Posterior is the Beta posterior of an offer's reward rate in one cell:
// Alpha = prior alpha + successes, Beta = prior beta + trials − successes.
type Posterior struct {
	Alpha, Beta float64
}

// NewPosterior returns the posterior of a Beta(priorAlpha, priorBeta)
// prior after trials and successes (successes is clamped to [0, trials]).
func NewPosterior(priorAlpha, priorBeta, trials, successes float64) Posterior {
	if !(trials > 0) {
		trials = 0
	}
	if !(successes > 0) {
		successes = 0
	}
	if successes > trials {
		successes = trials
	}
	return Posterior{Alpha: priorAlpha + successes, Beta: priorBeta + trials - successes}
}

// Mean is the posterior mean, Alpha / (Alpha + Beta): `method: mean`'s
// propensity.
func (p Posterior) Mean() float64 { return p.Alpha / (p.Alpha + p.Beta) }

// CI95 is the central 95% credible interval: the 2.5% and 97.5%
// quantiles of the posterior.
func (p Posterior) CI95() (lo, hi float64) {
	d := distuv.Beta{Alpha: p.Alpha, Beta: p.Beta}
	return d.Quantile(0.025), d.Quantile(0.975)
}

// Sample is one draw from the posterior with the random source seeded by
// seed (Seed): `method: thompson`'s propensity. The same seed and
// posterior give the same draw on every machine.
func (p Posterior) Sample(seed uint64) float64 { return SampleBeta(p.Alpha, p.Beta, seed) }

// Seed is H(decisionID + "/" + offerID), H as SPEC.md defines it (the first
// 8 bytes of SHA-256 of the UTF-8 string, big-endian): the seed of the
// offer's Thompson draw in that decision, so that the decision can be
// reproduced from its event. It does not allocate for ids up to 120
// bytes together.
func Seed(decisionID, offerID string) uint64 {
	var buf [128]byte
	b := append(buf[:0], decisionID...)
	b = append(b, '/')
	b = append(b, offerID...)
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// SampleBeta draws from Beta(alpha, beta) (both > 0) with a source seeded
// by seed: X/(X+Y) for X ~ Gamma(alpha), Y ~ Gamma(beta), each by
// Marsaglia and Tsang's method, on SplitMix64 uniforms and normals by
// Marsaglia's polar method. It is written here rather than taken from
// gonum (distuv.Beta, the reference its test checks it against) because
// a draw is seeded afresh for every offer of every decision: gonum needs a
// new source per draw, which allocates, and is slower
// (BenchmarkSampleBeta shows both).
// A parameter that is not > 0 or not finite gives the mean of what is
// left: NaN parameters give NaN.
func SampleBeta(alpha, beta float64, seed uint64) float64 {
	if math.IsNaN(alpha) || math.IsNaN(beta) {
		return math.NaN()
	}
	if !(alpha > 0) || !(beta > 0) || math.IsInf(alpha, 0) || math.IsInf(beta, 0) {
		return Posterior{Alpha: math.Max(alpha, 0), Beta: math.Max(beta, 0)}.Mean()
	}
	r := splitMix{state: seed}
	x := r.gamma(alpha)
	y := r.gamma(beta)
	if x+y == 0 { // both shapes tiny: underflow; the draw is 0 or 1 by the odds
		if r.uniform() < alpha/(alpha+beta) {
			return 1
		}
		return 0
	}
	return x / (x + y)
}

// splitMix is SplitMix64 (Steele, Lea and Flood 2014): a 64-bit state, one
// addition and a mix per number; good enough for sampling, and it lives on
// the stack.
type splitMix struct {
	state uint64
	spare float64 // the second normal of a pair
	has   bool
}

func (r *splitMix) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform is in (0, 1): never 0, so that its log is finite.
func (r *splitMix) uniform() float64 {
	return (float64(r.next()>>11) + 0.5) / (1 << 53)
}

// normal is a standard normal deviate (Marsaglia's polar method: no
// trigonometry; both of each pair used).
func (r *splitMix) normal() float64 {
	if r.has {
		r.has = false
		return r.spare
	}
	for {
		u := 2*r.uniform() - 1
		v := 2*r.uniform() - 1
		s := u*u + v*v
		if s >= 1 || s == 0 {
			continue
		}
		m := math.Sqrt(-2 * math.Log(s) / s)
		r.spare, r.has = v*m, true
		return u * m
	}
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang (2000); a shape
// below 1 draws Gamma(shape+1) and scales it by U^(1/shape).
func (r *splitMix) gamma(shape float64) float64 {
	if shape < 1 {
		g := r.gamma(shape + 1)
		return g * math.Pow(r.uniform(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.normal()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.uniform()
		x2 := x * x
		if u < 1-0.0331*x2*x2 {
			return d * v
		}
		if math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
