package engine

import (
	"fmt"
	"hash/fnv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// sequentialIDs are the ids a shop hands out in order: c-000001 … c-100000.
func sequentialIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c-%06d", i+1)
	}
	return ids
}

// independence is Pearson's chi-square test of independence of two
// classifications of the same ids (a contingency table of r × c cells):
// chi² = Σ (o - e)² / e with e = row total × column total / n, df =
// (r-1)(c-1); it returns chi² and its p-value.
func independence(rowOf, colOf func(id string) int, rows, cols int, ids []string) (chi2, p float64) {
	table := make([][]float64, rows)
	for i := range table {
		table[i] = make([]float64, cols)
	}
	for _, id := range ids {
		table[rowOf(id)][colOf(id)]++
	}
	rt, ct := make([]float64, rows), make([]float64, cols)
	n := float64(len(ids))
	for i := range table {
		for j, o := range table[i] {
			rt[i] += o
			ct[j] += o
		}
	}
	for i := range table {
		for j, o := range table[i] {
			if e := rt[i] * ct[j] / n; e > 0 {
				chi2 += (o - e) * (o - e) / e
			}
		}
	}
	df := float64((rows - 1) * (cols - 1))
	return chi2, distuv.ChiSquared{K: df}.Survival(chi2)
}

// fnvBucket is the formula an earlier contract pinned: FNV-1a-64(salt + "/"
// + id) mod 10000.
func fnvBucket(salt, id string) int {
	h := fnv.New64a()
	h.Write([]byte(salt + "/" + id))
	return int(h.Sum64() % Buckets)
}

// assignmentPairs are the assignments that must not depend on each other,
// as (salt, cut) pairs: a customer is "in" a salt's group when its bucket
// is below the cut. The holdout (5%) against every experiment's first
// variant (50/50, by its id as default salt and by a salt of its own), a
// layer's ranges against the variants of one of its experiments, and two
// experiments against each other.
var assignmentPairs = []struct {
	a, b       string
	cutA, cutB int
}{
	{HoldoutSalt, "discount_depth", 500, 5000},
	{HoldoutSalt, "discount-depth-2026", 500, 5000},
	{HoldoutSalt, "checkout_pricing", 500, 3000},
	{"checkout_pricing", "discount_depth", 3000, 5000},
	{"discount_depth", "free_ship_threshold", 5000, 5000},
}

// TestAssignmentsIndependent: over 100,000 sequential ids, the holdout,
// each experiment's variants and a layer's ranges are independent of each
// other: a 2×2 chi-square test of each pair (the groups as the example
// uses them) and a 10×10 test of their bucket deciles, at p > 0.001 each.
func TestAssignmentsIndependent(t *testing.T) {
	ids := sequentialIDs(100000)
	for _, pr := range assignmentPairs {
		in := func(salt string, cut int) func(string) int {
			return func(id string) int {
				if Bucket(salt, id) < cut {
					return 0
				}
				return 1
			}
		}
		decile := func(salt string) func(string) int {
			return func(id string) int { return Bucket(salt, id) / 1000 }
		}
		chi2, p := independence(in(pr.a, pr.cutA), in(pr.b, pr.cutB), 2, 2, ids)
		if p < 0.001 {
			t.Errorf("%s < %d against %s < %d: chi² = %.1f, p = %.2g: not independent", pr.a, pr.cutA, pr.b, pr.cutB, chi2, p)
		}
		chi2, p = independence(decile(pr.a), decile(pr.b), 10, 10, ids)
		if p < 0.001 {
			t.Errorf("deciles of %s against %s: chi² = %.1f (df 81), p = %.2g: not independent", pr.a, pr.b, chi2, p)
		}
	}
}

// TestFNVAssignmentsNotIndependent shows that the test above can fail: the
// formula an earlier contract pinned (FNV-1a-64) puts the holdout of
// sequential ids in the first half of the example experiment's buckets.
func TestFNVAssignmentsNotIndependent(t *testing.T) {
	ids := sequentialIDs(100000)
	in := func(salt string, cut int) func(string) int {
		return func(id string) int {
			if fnvBucket(salt, id) < cut {
				return 0
			}
			return 1
		}
	}
	chi2, p := independence(in(HoldoutSalt, 500), in("discount_depth", 5000), 2, 2, ids)
	if p > 1e-6 {
		t.Fatalf("FNV: holdout against discount_depth: chi² = %.1f, p = %.2g: the test does not see the known correlation", chi2, p)
	}
	t.Logf("FNV-1a-64 on c-000001…c-100000: holdout against discount_depth's halves: chi² = %.0f, p = %.2g", chi2, p)
}
