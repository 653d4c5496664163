package engine

import (
	"github.com/arbiterhq/arbiter/rules"
)

// Buckets is the number of hash buckets customers are spread over.
const Buckets = 10000

// HoldoutSalt is the salt of the holdout's bucket.
const HoldoutSalt = "holdout"

// Bucket returns FNV-1a-64(salt + "/" + customerID) mod 10000: the
// customer's bucket under salt, the same in every process and language.
func Bucket(salt, customerID string) int {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(salt); i++ {
		h ^= uint64(salt[i])
		h *= prime64
	}
	h ^= uint64('/')
	h *= prime64
	for i := 0; i < len(customerID); i++ {
		h ^= uint64(customerID[i])
		h *= prime64
	}
	return int(h % Buckets)
}

// basisPoints converts a percent (0..100, up to two decimals: 12.5 or
// 33.33) to hundredths of a percent, i.e. a number of buckets (0..10000),
// rounding half up at the second decimal as written.
func basisPoints(percent float64) int64 {
	if !(percent > 0) {
		return 0
	}
	if percent >= 100 {
		return Buckets
	}
	v, ok := ToMinor(percent, 2)
	if !ok {
		return 0
	}
	return v
}

// inHoldout reports whether a customer with an id is in rs's holdout:
// Bucket("holdout", id) < holdout × 100. Anonymous customers never are.
func inHoldout(rs *rules.Ruleset, customerID string) bool {
	if customerID == "" {
		return false
	}
	bp := basisPoints(rs.Arbitration.Holdout)
	return bp > 0 && int64(Bucket(HoldoutSalt, customerID)) < bp
}

// variantFor returns the index of the variant of x that bucket b falls in,
// or -1 when b is not enrolled. With T = traffic × 100 (rounded half up to a
// whole bucket count), weights w_k in hundredths (rounded half up at the
// second decimal), W = Σ w_k and C_k = w_0 + … + w_k: b is enrolled when
// b < T, in the first variant k with b × W < T × C_k.
func variantFor(x *rules.Experiment, b int) int {
	t := basisPoints(x.Traffic)
	if int64(b) >= t || len(x.Variants) == 0 {
		return -1
	}
	var sum int64
	for _, v := range x.Variants {
		sum += weightUnits(v.Weight)
	}
	if sum <= 0 {
		return -1
	}
	var cum int64
	for k, v := range x.Variants {
		cum += weightUnits(v.Weight)
		if int64(b)*sum < t*cum {
			return k
		}
	}
	return -1
}

// weightUnits is a variant weight in hundredths, rounded half up.
func weightUnits(w float64) int64 {
	if !(w > 0) {
		return 0
	}
	v, ok := ToMinor(w, 2)
	if !ok {
		return 0
	}
	return v
}

// salt returns the experiment's salt: its id when none was written.
func salt(x *rules.Experiment) string {
	if x.Salt != "" {
		return x.Salt
	}
	return x.ID
}

// AssignedVariants returns the variants the formula assigns customerID to,
// in the ruleset's experiment order: traffic and weights only, the `when`
// condition NOT evaluated. It is what an outcome arriving without its
// decision can recompute. Anonymous customers and customers in the holdout
// get none. The result is never nil.
func AssignedVariants(rs *rules.Ruleset, customerID string) []Assignment {
	out := []Assignment{}
	if rs == nil || customerID == "" || inHoldout(rs, customerID) {
		return out
	}
	for _, x := range rs.Experiments {
		if k := variantFor(x, Bucket(salt(x), customerID)); k >= 0 {
			out = append(out, Assignment{ID: x.ID, Variant: x.Variants[k].ID})
		}
	}
	return out
}
