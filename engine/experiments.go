package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"

	"github.com/arbiterhq/arbiter/rules"
)

// Buckets is the number of hash buckets customers are spread over.
const Buckets = 10000

// HoldoutSalt is the salt of the holdout's bucket.
const HoldoutSalt = "holdout"

// Bucket returns H(salt + "/" + customerID) mod 10000: the customer's
// bucket under salt, the same in every process, language and warehouse. H
// is the first 8 bytes of the SHA-256 of the UTF-8 string, read as a
// big-endian unsigned 64-bit integer (SPEC.md "Experiments"). It allocates
// nothing for a salt and an id of up to 250 bytes together.
func Bucket(salt, customerID string) int {
	var buf [252]byte
	var p []byte
	if n := len(salt) + 1 + len(customerID); n <= len(buf) {
		p = buf[:0]
	} else {
		p = make([]byte, 0, n)
	}
	p = append(p, salt...)
	p = append(p, '/')
	p = append(p, customerID...)
	sum := sha256.Sum256(p)
	return int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
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
	return splitVariant(x, int64(b), t)
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

// assignment returns the index of the variant of x that customerID is
// assigned to by the formula, or -1: before the experiment's `when`, which
// the caller evaluates. Without a layer: the bucket of the experiment's
// salt under traffic (variantFor). In a layer: the customer's layer bucket,
// H(layer + "/" + id) mod 10000, must fall in the experiment's range, and
// the variant is the first k with b × W < 10000 × C_k for b the bucket of
// the experiment's salt. A stopped experiment assigns no one.
func assignment(x *rules.Experiment, customerID string) int {
	if x.Status == rules.ExperimentStopped || len(x.Variants) == 0 {
		return -1
	}
	if x.Layer == "" {
		return variantFor(x, Bucket(salt(x), customerID))
	}
	if lb := Bucket(x.Layer, customerID); lb < x.From || lb > x.To {
		return -1
	}
	return splitVariant(x, int64(Bucket(salt(x), customerID)), Buckets)
}

// splitVariant returns the first variant k of x with b × W < t × C_k (W
// the sum of the weights in hundredths, C_k the sum up to k), or -1.
func splitVariant(x *rules.Experiment, b, t int64) int {
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
		if b*sum < t*cum {
			return k
		}
	}
	return -1
}

// InHoldout reports whether customerID is in rs's holdout: H("holdout/" +
// id) mod 10000 < holdout × 100. Anonymous customers never are.
func InHoldout(rs *rules.Ruleset, customerID string) bool { return inHoldout(rs, customerID) }

// AssignedVariants returns the variants the formula assigns customerID to,
// in the ruleset's experiment order: buckets, layers, traffic and weights
// only, the `when` condition NOT evaluated. It is what an outcome arriving
// without its decision can recompute. Anonymous customers and customers in
// the holdout get none. The result is never nil.
func AssignedVariants(rs *rules.Ruleset, customerID string) []Assignment {
	out := []Assignment{}
	if rs == nil || customerID == "" || inHoldout(rs, customerID) {
		return out
	}
	for _, x := range rs.Experiments {
		if k := assignment(x, customerID); k >= 0 {
			out = append(out, Assignment{ID: x.ID, Variant: x.Variants[k].ID, Layer: x.Layer})
		}
	}
	return out
}

// Reassigned names the running experiments of prev that next would
// assign differently: the same id, running in both, and some customer in
// one of its variants under prev (before `when`) is in another, or in
// none, under next: a changed salt or layer, a range of its layer that
// moved or shrank, a changed traffic (without a layer: the split follows
// the traffic) or weight. Customers who only join (a layer's range grown
// at its end, a variant of weight 0 added) move no one. Each entry is the
// experiment's id and what changed, for the log of a reload: its
// customers change variants mid-test (docs/experiments.md). A raised
// holdout comes first, as "holdout: ...": its new buckets leave every
// experiment (a lowered one only adds customers).
func Reassigned(prev, next *rules.Ruleset) []string {
	if prev == nil || next == nil {
		return nil
	}
	old := make(map[string]*rules.Experiment, len(prev.Experiments))
	for _, x := range prev.Experiments {
		old[x.ID] = x
	}
	var out []string
	if a, b := basisPoints(prev.Arbitration.Holdout), basisPoints(next.Arbitration.Holdout); b > a {
		// A raised holdout takes its new buckets out of every experiment
		// and out of the holdout's served group.
		out = append(out, "holdout: raised from "+strconv.FormatFloat(prev.Arbitration.Holdout, 'g', -1, 64)+"% to "+
			strconv.FormatFloat(next.Arbitration.Holdout, 'g', -1, 64)+"%: the customers of holdout buckets "+
			strconv.FormatInt(a, 10)+"-"+strconv.FormatInt(b-1, 10)+" leave their experiments and the served group")
	}
	for _, x := range next.Experiments {
		p := old[x.ID]
		if p == nil || p.Status == rules.ExperimentStopped || x.Status == rules.ExperimentStopped {
			continue
		}
		var what string
		switch {
		case salt(p) != salt(x):
			what = "its salt changed from " + salt(p) + " to " + salt(x)
		case p.Layer != x.Layer:
			what = "its layer changed from " + orNone(p.Layer) + " to " + orNone(x.Layer)
		case x.Layer != "" && p.To >= p.From && (p.From < x.From || p.To > x.To):
			what = "its range of layer " + x.Layer + " moved from " + rangeText(p) + " to " + rangeText(x)
		default:
			for b := int64(0); b < Buckets; b++ {
				if pv := variantOf(p, b); pv != "" && variantOf(x, b) != pv {
					what = "its traffic or weights changed"
					break
				}
			}
		}
		if what != "" {
			out = append(out, x.ID+": "+what)
		}
	}
	return out
}

// variantOf is the id of the variant of x that bucket b (of its salt)
// falls in, "" for none, regardless of layer ranges.
func variantOf(x *rules.Experiment, b int64) string {
	t := int64(Buckets)
	if x.Layer == "" {
		t = basisPoints(x.Traffic)
		if b >= t {
			return ""
		}
	}
	if k := splitVariant(x, b, t); k >= 0 {
		return x.Variants[k].ID
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func rangeText(x *rules.Experiment) string {
	if x.To < x.From {
		return "none"
	}
	return strconv.Itoa(x.From) + "-" + strconv.Itoa(x.To)
}
