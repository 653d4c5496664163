package profiles

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/arbiterhq/arbiter/rules"
)

// storedHash is a customer's stored hash for testSchema: each field drawn
// from a few values (which repeat), from many (which do not), left out, or
// not a value of its type (bad).
func storedHash(r *rand.Rand, i int) map[string]string {
	pick := func(few []string, many func() string) (string, bool) {
		switch r.IntN(10) {
		case 0:
			return "", false
		case 1:
			return "not-a-value-" + strconv.Itoa(r.IntN(3)), true
		case 2, 3:
			return many(), true
		}
		return few[r.IntN(len(few))], true
	}
	h := map[string]string{}
	add := func(name string, few []string, many func() string) {
		if v, ok := pick(few, many); ok {
			h[name] = v
		}
	}
	add("ltv", []string{"0", "120.5", "99"}, func() string { return strconv.Itoa(i) + ".25" })
	add("orders", []string{"0", "3", "300"}, func() string { return strconv.Itoa(1000 + i) })
	add("last_order_at", []string{"2026-11-01T00:00:00Z", "2026-10-01"}, func() string { return strconv.Itoa(1_700_000_000 + i) })
	add("tier", []string{"basic", "gold", ""}, func() string { return "tier-" + strconv.Itoa(i) })
	add("tags", []string{`["shoes"]`, `[]`, `["a","b"]`}, func() string { return `["t` + strconv.Itoa(i) + `"]` })
	add("vip", []string{"true", "false", "1"}, func() string { return "0" })
	add("scores", []string{"[1,2]", "[]"}, func() string { return "[" + strconv.Itoa(i) + "]" })
	add("churn_risk", []string{"0.25", "0.5"}, func() string { return "0." + strconv.Itoa(i) })
	return h
}

// Sharing values changes nothing a decision reads: every profile decodes
// to what FromHash gives, the same bad fields too, whether its values came
// from the table, went into it, or were left out of it.
func TestFromHashSharedDecodesAsFromHash(t *testing.T) {
	schema := testSchema()
	shared := NewShared(schema)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 5000 {
		h := storedHash(r, i)
		id := "c-" + strconv.Itoa(i)
		want, wantBad := FromHash(schema, id, h)
		got, gotBad := FromHashShared(schema, id, h, shared)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotBad, wantBad) {
			t.Fatalf("%v:\n got %+v %v\nwant %+v %v", h, got, gotBad, want, wantBad)
		}
	}
	// Another schema's table is not used.
	other := NewShared(&rules.Schema{Fields: schema.Fields})
	h := map[string]string{"tier": "gold"}
	if got, _ := FromHashShared(schema, "c", h, other); got.Values[3] != "gold" {
		t.Fatalf("with another schema's table: %v", got.Values)
	}
}

// dataOf is the data word of an interface: the box of its value.
func dataOf(v any) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] }

// A value two customers hold is one box; a field whose values do not
// repeat stops being shared once tried; a shared string is a copy, not the
// stored field it was read from (which belongs to one customer).
func TestSharedSharesRepeatedValues(t *testing.T) {
	schema := testSchema()
	shared := NewShared(schema)
	decode := func(h map[string]string) []any {
		p, bad := FromHashShared(schema, "c", h, shared)
		if len(bad) > 0 {
			t.Fatalf("bad %v", bad)
		}
		return p.Values
	}
	stored := []byte("gold")
	a := decode(map[string]string{"tier": unsafe.String(&stored[0], len(stored)), "ltv": "120.5", "tags": `["shoes"]`, "last_order_at": "2026-11-01T00:00:00Z"})
	b := decode(map[string]string{"tier": "gold", "ltv": "120.5", "tags": `["shoes"]`, "last_order_at": "2026-11-01T00:00:00Z"})
	for i, f := range schema.Fields {
		if f.Type == rules.TypeBool {
			continue
		}
		if dataOf(a[i]) != dataOf(b[i]) {
			t.Errorf("%s: two boxes for %v", f.Name, a[i])
		}
	}
	if s := a[3].(string); unsafe.StringData(s) == &stored[0] {
		t.Error("the shared tier is the first customer's stored bytes")
	}

	// ltv differs for every customer: after its trial it is no longer
	// shared and its table is gone; tier still is.
	for i := range 2 * sharedTrial {
		decode(map[string]string{"tier": "gold", "ltv": strconv.Itoa(i)})
	}
	held, on := shared.Stats()
	if on[0] || held[0] != 0 {
		t.Errorf("ltv: shared %v, %d values held; want neither", on[0], held[0])
	}
	if !on[3] || held[3] != 1 {
		t.Errorf("tier: shared %v, %d values held; want shared, 1", on[3], held[3])
	}
	if on[5] || shared.Sharing(5) {
		t.Error("vip, a boolean, is shared")
	}
	if got := decode(map[string]string{"ltv": "7.5"})[0]; got != 7.5 {
		t.Errorf("ltv after sharing stopped: %v", got)
	}
}

// Decoding from many goroutines at once (the cache's misses) is safe and
// decodes as FromHash does (run with -race).
func TestSharedConcurrent(t *testing.T) {
	schema := testSchema()
	shared := NewShared(schema)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				h := storedHash(r, i)
				want, _ := FromHash(schema, "c", h)
				got, _ := FromHashShared(schema, "c", h, shared)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%v: got %v, want %v", h, got.Values, want.Values)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkFromHashShared decodes the same customer's stored hash as the
// cache's misses do, with and without a table.
func BenchmarkFromHashShared(b *testing.B) {
	schema := testSchema()
	h := map[string]string{"ltv": "120.5", "orders": "3", "last_order_at": "2026-11-01T00:00:00Z", "tier": "gold", "tags": `["shoes","bags"]`, "vip": "true", "churn_risk": "0.25"}
	b.Run("alone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			FromHash(schema, "c", h)
		}
	})
	b.Run("shared", func(b *testing.B) {
		shared := NewShared(schema)
		b.ReportAllocs()
		for b.Loop() {
			FromHashShared(schema, "c", h, shared)
		}
	})
}

// The trial judges a field after its table has filled: a field of a
// thousand equally common values (every one a miss the first time) stays
// shared; a full table stops taking values, and the field then no longer
// counts as shared (Sharing) for the cache's byte bound.
func TestSharedTrialAndFullTable(t *testing.T) {
	schema := &rules.Schema{Fields: []rules.Field{{Name: "city", Type: rules.TypeString}, {Name: "note", Type: rules.TypeString}}}
	shared := NewShared(schema)
	r := rand.New(rand.NewPCG(3, 4))
	long := strings.Repeat("x", 1000)
	cities := map[string]bool{}
	for i := range 5000 {
		h := map[string]string{"city": "city-" + strconv.Itoa(r.IntN(1000)), "note": long + strconv.Itoa(i%400)}
		cities[h["city"]] = true
		p, _ := FromHashShared(schema, "c", h, shared)
		if p.Values[0] != h["city"] || p.Values[1] != h["note"] {
			t.Fatalf("%v: %v", h, p.Values)
		}
	}
	held, on := shared.Stats()
	if !on[0] || held[0] != len(cities) || !shared.Sharing(0) {
		t.Errorf("city: shared %v, %d values held, Sharing %v; want shared, %d, true", on[0], held[0], shared.Sharing(0), len(cities))
	}
	// note's 400 values of 1 KB fill its 256 KiB: the table stops there.
	if want := sharedMaxBytes/(len(long)+3) + 1; held[1] != want || shared.Sharing(1) {
		t.Errorf("note: %d values held, Sharing %v; want %d, false", held[1], shared.Sharing(1), want)
	}
}
