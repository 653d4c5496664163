package wire

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/arbiterhq/arbiter/engine"
)

// decodeBodies are requests of every shape, for the comparison of
// RequestDecoder with DecodeDecide.
var decodeBodies = []string{
	specDecideBody,
	`{}`,
	`{"customer_id":"c-1","placement":"cart","channel":"app","cart":{"currency":"JPY","items":[{"sku":"A","price":100,"quantity":2,"tags":["x","y"]},{"sku":"B","category":"shoes","price":5,"quantity":1,"tags":[]}]}}`,
	`{"customer_id":"c-\u00e9\\n2","placement":"ch\u0065ckout","cart":{"currency":"US\u0044","items":[{"sku":"S\"1","category":"sh\u006fes","price":1.5,"quantity":1,"tags":["s\u0061le"]}]},"context":{"country":"U\u0053","dev\u0069ce":"mobile","n":1.5,"b":true,"a":["x",2,false],"z":null}}`,
	`{"cart":{"currency":"KWD","items":[{"sku":"A","price":1.125,"quantity":3,"tags":["x"]}]},"limit":2,"explain":true}`,
	`{"dry_run":true,"now":"2026-11-28T12:00:00+08:00","profile":{"id":"c-1","orders":3}}`,
	`{"customer_id":"c-2","context":{"country":"GB","utm_source":"newsletter"},"cart":null,"channel":null}`,
	`{"customer_id":"c-2","cart":{"currency":"USD","items":[{"sku":"A","price":1,"quantity":1}]}}`,
	`{"customer_id":"","placement":"x"}`,                // invalid
	`{"cart":{"currency":"XYZ"}}`,                       // invalid
	`{"context":{"placement":"x"}}`,                     // invalid
	`{"customer_id":"c-3","placement":"a b"}`,           // invalid
	`{"cart":{"currency":"USD","items":[{"sku":"A"}]}}`, // invalid
}

// decodeEqual fails unless the decoder decodes body as DecodeDecide does:
// the same request, or the same error.
func decodeEqual(t *testing.T, d *RequestDecoder, body []byte) {
	t.Helper()
	want, werr := DecodeDecide(body, 3)
	got, gerr := d.Decode(body, 3)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: error %v, DecodeDecide's %v", body, gerr, werr)
	}
	if werr != nil {
		var a, b *Error
		if !errors.As(werr, &a) || !errors.As(gerr, &b) || *a != *b {
			t.Fatalf("%s: error %v, DecodeDecide's %v", body, gerr, werr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", body, *got, *want)
	}
}

// The decoder decodes every body as DecodeDecide does, whatever it decoded
// before (its memory reused), with or without an interner, and a full
// interner leaves the strings to the arena.
func TestRequestDecoderMatchesDecodeDecide(t *testing.T) {
	full := NewInterner()
	for i := 0; full.n.Load() < MaxInterned; i++ {
		full.lookup([]byte("filler-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))))
	}
	for _, c := range []struct {
		name string
		in   *Interner
	}{{"no interner", nil}, {"interner", NewInterner()}, {"full interner", full}} {
		t.Run(c.name, func(t *testing.T) {
			d := &RequestDecoder{Interner: c.in}
			for round := 0; round < 3; round++ {
				for i := range decodeBodies {
					// in a different order each round: the memory of every
					// other body reused
					decodeEqual(t, d, []byte(decodeBodies[(i*(round+1)+round)%len(decodeBodies)]))
				}
			}
		})
	}
}

// A string decoded is the interner's when it is one it holds, not a copy.
func TestRequestDecoderInterns(t *testing.T) {
	d := &RequestDecoder{Interner: NewInterner()}
	body := []byte(`{"customer_id":"c-9","placement":"checkout","cart":{"currency":"USD","items":[{"sku":"A","category":"shoes","price":1,"quantity":1}]},"context":{"country":"US"}}`)
	first, err := d.Decode(body, 3)
	if err != nil {
		t.Fatal(err)
	}
	p1, c1 := first.Placement, first.Cart.Items[0].Category
	req, err := (&RequestDecoder{Interner: d.Interner}).Decode(body, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, a, b string }{
		{"placement", p1, req.Placement}, {"category", c1, req.Cart.Items[0].Category}, {"currency", first.Cart.Currency, req.Cart.Currency},
	} {
		if c.a != c.b || unsafe.StringData(c.a) != unsafe.StringData(c.b) {
			t.Fatalf("%s: %q and %q are not the same string", c.name, c.a, c.b)
		}
	}
	if e := d.Interner.lookup([]byte("checkout")); e == nil || e.s != req.Placement {
		t.Fatal("checkout is not interned")
	}
}

// Once warm, decoding allocates nothing for a request of known values.
func TestRequestDecoderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	d := &RequestDecoder{Interner: NewInterner()}
	body := []byte(specDecideBody)
	if _, err := d.Decode(body, 3); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = d.Decode(body, 3) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

// BenchmarkRequestDecoder is BenchmarkDecodeDecide with the decoder's
// memory reused (the server's path).
func BenchmarkRequestDecoder(b *testing.B) {
	body := []byte(specDecideBody)
	d := &RequestDecoder{Interner: NewInterner()}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := d.Decode(body, 3); err != nil {
			b.Fatal(err)
		}
	}
}

// A pooled decision message is NewDecisionMessage's, also when it reuses
// the memory of a larger one, and a released message is reused.
func TestMessagePoolDecision(t *testing.T) {
	var mp MessagePool
	small := specDecision()
	big := specDecision()
	big.DecisionID += "-and-a-longer-id"
	big.Placement = "a_much_longer_placement"
	big.Request = &engine.Request{CustomerID: "c-1", Placement: big.Placement, Cart: engine.Cart{Currency: "USD"}}
	for i, d := range []*engine.Decision{big, small, big, small} {
		want, _ := NewDecisionMessage(nil, d)
		got := mp.Decision(d)
		if got.ID != want.ID || got.Kind != want.Kind || got.Key != want.Key || got.RequestAt != want.RequestAt || string(got.JSON) != string(want.JSON) {
			t.Fatalf("%d: got %+v\nwant %+v", i, got, want)
		}
		got.Release()
		got.Release() // a second release does nothing
	}
	(&Message{}).Release() // not pooled: nothing
}
