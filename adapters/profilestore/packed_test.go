package profilestore

import (
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPackedFieldsRoundTrip: what packFields packs, view gives back, for
// empty names and values, lengths of one and of several uvarint bytes, and
// the difference between no hash (nil) and a hash without fields.
func TestPackedFieldsRoundTrip(t *testing.T) {
	cases := []map[string]string{
		nil,
		{},
		{"": ""},
		{"tier": "gold", "ltv": "1500.25", "vip": "", "tags": `["a","b"]`},
		{strings.Repeat("k", 127): strings.Repeat("v", 128), "x": strings.Repeat("é", 20000)},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		m := map[string]string{}
		for range r.IntN(40) {
			k := make([]byte, r.IntN(300))
			v := make([]byte, r.IntN(300))
			for i := range k {
				k[i] = byte(r.IntN(256))
			}
			for i := range v {
				v[i] = byte(r.IntN(256))
			}
			m[string(k)] = string(v)
		}
		cases = append(cases, m)
	}
	for i, m := range cases {
		b := packFields(m)
		got := b.view()
		if (m == nil) != (got == nil) {
			t.Fatalf("case %d: packed %v, viewed %v (nil must stay nil, empty stay empty)", i, m == nil, got == nil)
		}
		if !maps.Equal(got, m) {
			t.Fatalf("case %d: viewed %d fields, want %d as packed", i, len(got), len(m))
		}
		if b.len() != len(m) || len(b) != cap(b) {
			t.Fatalf("case %d: len %d (want %d), %d bytes in a capacity of %d (want exact)", i, b.len(), len(m), len(b), cap(b))
		}
	}
}
