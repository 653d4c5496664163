package profilestore

import (
	"context"
	"testing"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// TestCacheKeepsNoRequestMemory looks a customer up by the id of a request
// decoded by a RequestDecoder, then decodes the next request into the same
// decoder (its arena is reused): the cache's entry must still be the
// first customer's, found by that id and holding it, under both kinds of
// source (raw fields, decoded profiles).
func TestCacheKeepsNoRequestMemory(t *testing.T) {
	eachSource(t, func(t *testing.T, raw bool, src *fakeRaw, s engine.ProfileSource) {
		src.data = map[string]map[string]string{"cust-A": {"tier": "gold"}, "cust-B": {"tier": "silver"}}
		c := NewCache(s, CacheOptions{})
		schema := testSchema()
		var dec wire.RequestDecoder
		body := func(id string) []byte { return []byte(`{"customer_id":"` + id + `"}`) }
		req, err := dec.Decode(body("cust-A"), 3)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := c.Get(context.Background(), schema, req.CustomerID); err != nil || p.Value("tier") != "gold" {
			t.Fatalf("Get(cust-A) = %v, %v", p, err)
		}
		if _, err := dec.Decode(body("cust-B"), 3); err != nil { // the next request, in the same memory
			t.Fatal(err)
		}
		p, ok := c.Cached(schema, "cust-A")
		if !ok {
			t.Fatalf("cust-A is no longer cached under its id after the next request")
		}
		if p.ID != "cust-A" || p.Value("tier") != "gold" {
			t.Errorf("cust-A's cached profile = %q %v, want cust-A gold", p.ID, p.Value("tier"))
		}
		if p, ok := c.Cached(schema, "cust-B"); ok {
			t.Errorf("cust-B was never fetched, yet the cache answers %q %v", p.ID, p.Value("tier"))
		}
		if n := src.fetches.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
	})
}
