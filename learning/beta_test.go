package learning

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The hand-written sampler draws from the same distribution as gonum's
// distuv.Beta: a Kolmogorov-Smirnov test of its draws against gonum's
// CDF, for small, uniform, skewed and concentrated posteriors, over seeds
// made as decisions make them.
func TestSampleBetaMatchesGonum(t *testing.T) {
	const n = 20000
	crit := 1.63 / math.Sqrt(n) // KS at the 1% level
	for _, p := range []Posterior{{0.5, 0.5}, {1, 1}, {1, 19}, {13, 207}, {2.5, 0.3}, {0.05, 3}, {400, 9600}, {1e5, 2e5}} {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = p.Sample(Seed("sim-"+strconv.Itoa(i), "stay_with_us"))
			if !(xs[i] >= 0 && xs[i] <= 1) {
				t.Fatalf("%v: draw %v", p, xs[i])
			}
		}
		sort.Float64s(xs)
		ref := distuv.Beta{Alpha: p.Alpha, Beta: p.Beta}
		d := 0.0
		for i, x := range xs {
			f := ref.CDF(x)
			d = math.Max(d, math.Max(f-float64(i)/n, float64(i+1)/n-f))
		}
		if d > crit {
			t.Errorf("Beta(%g, %g): KS distance %.4f > %.4f", p.Alpha, p.Beta, d, crit)
		}
		// and gonum's own draws pass the same test (the test can tell)
		src := rand.NewPCG(1, 2)
		ref.Src = src
		for i := range xs {
			xs[i] = ref.Rand()
		}
		sort.Float64s(xs)
		off := distuv.Beta{Alpha: p.Alpha * 1.2, Beta: p.Beta}
		dOff := 0.0
		for i, x := range xs {
			f := off.CDF(x)
			dOff = math.Max(dOff, math.Max(f-float64(i)/n, float64(i+1)/n-f))
		}
		if p.Alpha >= 1 && dOff <= crit {
			t.Errorf("Beta(%g, %g): the KS test does not tell a 20%% larger alpha (%.4f)", p.Alpha, p.Beta, dOff)
		}
	}
}

// A draw depends on nothing but its seed and parameters.
func TestSampleBetaReproducible(t *testing.T) {
	s := Seed("dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", "vip_10")
	a, b := SampleBeta(13, 207, s), SampleBeta(13, 207, s)
	if a != b {
		t.Fatalf("%v != %v", a, b)
	}
	if SampleBeta(13, 207, s+1) == a {
		t.Error("another seed, the same draw")
	}
	for _, tc := range []struct{ a, b, want float64 }{{0, 5, 0}, {5, 0, 1}, {math.Inf(1), 1, math.NaN()}} {
		got := SampleBeta(tc.a, tc.b, 1)
		if !(got == tc.want || math.IsNaN(tc.want) && math.IsNaN(got) || tc.a == math.Inf(1)) {
			t.Errorf("SampleBeta(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if !math.IsNaN(SampleBeta(math.NaN(), 1, 1)) {
		t.Error("NaN parameters")
	}
}

// Seed is SPEC.md's H: the first 8 bytes of SHA-256, big-endian. The
// expected values are from `printf 'd1/o1' | sha256sum` (the first 16 hex
// digits).
func TestSeedIsH(t *testing.T) {
	cases := []struct {
		decision, offer string
		want            uint64
	}{
		{"d1", "o1", 0x5c183c69ed7015b9},
		{"dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", "stay_with_us", 0xe561cbb101356250},
	}
	for _, c := range cases {
		if got := Seed(c.decision, c.offer); got != c.want {
			t.Errorf("Seed(%q, %q) = %016x, want %016x", c.decision, c.offer, got, c.want)
		}
	}
	long := strings.Repeat("x", 300)
	sum := sha256.Sum256([]byte(long + "/o"))
	if Seed(long, "o") != binary.BigEndian.Uint64(sum[:8]) {
		t.Error("a long id")
	}
	if allocs := testing.AllocsPerRun(100, func() { Seed("dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", "stay_with_us") }); allocs != 0 {
		t.Errorf("Seed allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { SampleBeta(13, 207, 42) }); allocs != 0 {
		t.Errorf("SampleBeta allocates %v times", allocs)
	}
}

func TestPosterior(t *testing.T) {
	p := NewPosterior(1, 19, 200, 12)
	if p.Alpha != 13 || p.Beta != 207 {
		t.Fatalf("%+v", p)
	}
	if m := p.Mean(); math.Abs(m-13.0/220) > 1e-15 {
		t.Errorf("mean %v", m)
	}
	lo, hi := p.CI95()
	ref := distuv.Beta{Alpha: 13, Beta: 207}
	if math.Abs(ref.CDF(lo)-0.025) > 1e-9 || math.Abs(ref.CDF(hi)-0.975) > 1e-9 || !(lo < p.Mean() && p.Mean() < hi) {
		t.Errorf("ci95 [%v, %v]", lo, hi)
	}
	if q := NewPosterior(1, 1, 5, 9); q.Alpha != 6 || q.Beta != 1 {
		t.Errorf("successes above trials: %+v", q)
	}
	if q := NewPosterior(1, 1, -3, -1); q.Alpha != 1 || q.Beta != 1 {
		t.Errorf("negative counts: %+v", q)
	}
}

// BenchmarkSampleBeta is why SampleBeta is hand-written: a Thompson draw is
// seeded per decision and offer, so gonum's sampler needs a new source and
// rand.Rand for each; compare ns/op and allocs/op of the two.
func BenchmarkSampleBeta(b *testing.B) {
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		var sink float64
		i := uint64(0)
		for b.Loop() {
			i++
			sink += SampleBeta(13, 207, i*0x9e3779b97f4a7c15)
		}
		_ = sink
	})
	b.Run("gonum", func(b *testing.B) {
		b.ReportAllocs()
		var sink float64
		i := uint64(0)
		for b.Loop() {
			i++
			sink += distuv.Beta{Alpha: 13, Beta: 207, Src: rand.NewPCG(i, 0)}.Rand()
		}
		_ = sink
	})
	b.Run("seed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Seed("dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", "stay_with_us")
		}
	})
}
