package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/rules"
)

// refBucket is the spec's formula, written with the standard library:
// the first 8 bytes of SHA-256(salt + "/" + id), big-endian, mod 10000.
func refBucket(salt, id string) int {
	sum := sha256.Sum256([]byte(salt + "/" + id))
	return int(binary.BigEndian.Uint64(sum[:8]) % 10000)
}

func TestBucketIsTheFormula(t *testing.T) {
	for i := 0; i < 20000; i++ {
		id := "c-" + strconv.Itoa(i)
		if got, want := Bucket("discount-depth-2026", id), refBucket("discount-depth-2026", id); got != want {
			t.Fatalf("Bucket(%q) = %d, want %d", id, got, want)
		}
	}
	if got, want := Bucket("", ""), refBucket("", ""); got != want {
		t.Fatalf("empty: %d, want %d", got, want)
	}
	long := strings.Repeat("é", 200) // past the stack buffer: the same formula
	if got, want := Bucket(long, "c-1"), refBucket(long, "c-1"); got != want {
		t.Fatalf("long salt: %d, want %d", got, want)
	}
	// Values computed independently (Python's hashlib:
	// int.from_bytes(sha256(b"holdout/c-000001").digest()[:8], "big") % 10000),
	// which docs/experiments.md quotes for checking a warehouse's SQL.
	for _, c := range []struct {
		salt, id string
		h        uint64
		want     int
	}{
		{"holdout", "c-000001", 13909941829867406573, 6573},
		{"holdout", "c-000170", 5198186303759476790, 6790},
		{"discount-depth-2026", "c-vip-ada", 14252124713097539166, 9166},
		{"checkout_pricing", "c-1042", 1570997445369968866, 8866},
		{"", "", 9970647085271426115, 6115},
	} {
		if got := Bucket(c.salt, c.id); got != c.want || c.h%Buckets != uint64(c.want) {
			t.Errorf("Bucket(%q, %q) = %d, want %d", c.salt, c.id, got, c.want)
		}
	}
}

func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += Bucket("discount-depth-2026", "c-000123")
	}
	_ = n
}

func TestBucketAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Bucket("discount-depth-2026", "c-000123") }); n != 0 {
		t.Errorf("Bucket allocates %v times, want 0", n)
	}
}

// refVariant is the documented integer formula of docs/decisions.md.
func refVariant(traffic float64, weights []float64, b int) int {
	T := int64(math.Round(traffic * 100))
	if int64(b) >= T {
		return -1
	}
	var W int64
	for _, w := range weights {
		W += int64(math.Round(w * 100))
	}
	var C int64
	for k, w := range weights {
		C += int64(math.Round(w * 100))
		if int64(b)*W < T*C {
			return k
		}
	}
	return -1
}

func experiment(traffic float64, weights ...float64) *rules.Experiment {
	x := &rules.Experiment{ID: "x", Salt: "s", Traffic: traffic}
	for i, w := range weights {
		x.Variants = append(x.Variants, rules.Variant{ID: "v" + strconv.Itoa(i), Weight: w})
	}
	return x
}

func TestVariantFormula(t *testing.T) {
	cases := []struct {
		traffic float64
		weights []float64
	}{
		{100, []float64{50, 50}},
		{50, []float64{50, 50}},
		{12.5, []float64{33.33, 33.33, 33.34}},
		{100, []float64{10, 90}},
		{0, []float64{100}},
		{100, []float64{0, 100}},
		{37, []float64{25, 25, 50}},
	}
	for _, c := range cases {
		x := experiment(c.traffic, c.weights...)
		for b := 0; b < Buckets; b++ {
			if got, want := variantFor(x, b), refVariant(c.traffic, c.weights, b); got != want {
				t.Fatalf("traffic %v weights %v bucket %d: variant %d, want %d", c.traffic, c.weights, b, got, want)
			}
		}
	}
}

// TestWeightsHonoured: over many ids, each variant gets its share of the
// enrolled customers within 1.5 percentage points, and traffic is honoured.
func TestWeightsHonoured(t *testing.T) {
	x := experiment(60, 20, 30, 50)
	rs := &rules.Ruleset{Experiments: []*rules.Experiment{x}}
	const n = 60000
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		for _, a := range AssignedVariants(rs, "cust-"+strconv.Itoa(i)) {
			counts[a.Variant]++
		}
	}
	enrolled := counts["v0"] + counts["v1"] + counts["v2"]
	if share := float64(enrolled) / n; math.Abs(share-0.60) > 0.015 {
		t.Errorf("enrolled share %.3f, want 0.60", share)
	}
	for k, w := range []float64{20, 30, 50} {
		share := float64(counts["v"+strconv.Itoa(k)]) / float64(enrolled)
		if math.Abs(share-w/100) > 0.015 {
			t.Errorf("variant %d share %.3f, want %.2f", k, share, w/100)
		}
	}
}

func TestAssignedVariants(t *testing.T) {
	x := experiment(100, 50, 50)
	rs := &rules.Ruleset{Experiments: []*rules.Experiment{x}, Arbitration: rules.Arbitration{Holdout: 5}}
	if got := AssignedVariants(rs, ""); got == nil || len(got) != 0 {
		t.Errorf("anonymous: %v, want []", got)
	}
	held, other := 0, 0
	for i := 0; i < 4000; i++ {
		id := "c" + strconv.Itoa(i)
		got := AssignedVariants(rs, id)
		if refBucket("holdout", id) < 500 {
			held++
			if len(got) != 0 {
				t.Fatalf("%s is in the holdout but assigned %v", id, got)
			}
			continue
		}
		other++
		want := "v0"
		if refBucket("s", id) >= 5000 {
			want = "v1"
		}
		if len(got) != 1 || got[0].ID != "x" || got[0].Variant != want {
			t.Fatalf("%s: %v, want x/%s", id, got, want)
		}
	}
	if held == 0 || other == 0 {
		t.Fatalf("held %d other %d: the test checks nothing", held, other)
	}
	// The salt defaults to the id.
	x.Salt = ""
	id := "c-7"
	want := "v0"
	if refBucket("x", id) >= 5000 {
		want = "v1"
	}
	if got := variantFor(x, Bucket(salt(x), id)); x.Variants[got].ID != want {
		t.Errorf("default salt: %s, want %s", x.Variants[got].ID, want)
	}
}
