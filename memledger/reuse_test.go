package memledger

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// TestReserveKeepsNoRequestMemory decodes a request with a RequestDecoder,
// reserves its plan, then decodes another request into the same decoder
// (its arena is reused) and overwrites the reference's memory: what the
// ledger keeps (the customer's count, the budget's currency, the hold's
// member, the record's reference) must still be the first request's.
// The decoder has no Interner, so even the currency lives in the arena.
func TestReserveKeepsNoRequestMemory(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		window time.Duration
	}{
		{"for ever", 0},
		{"windowed", 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New()
			var dec wire.RequestDecoder
			body := func(customer, cur string) []byte {
				return []byte(`{"customer_id":"` + customer + `","cart":{"currency":"` + cur + `","items":[{"sku":"A","price":10,"quantity":1}]}}`)
			}
			ref := []byte("01KBHZ0000000000000000000A")
			item := engine.PlanItem{OfferID: "o", Amount: 100, PerCustomer: 1, Window: tc.window, Budget: 1000, Hold: time.Hour, Record: true}
			reqA, err := dec.Decode(body("cust-A", "USD"), 3)
			if err != nil {
				t.Fatal(err)
			}
			pa := &engine.Plan{Now: t0, CustomerID: reqA.CustomerID, Currency: reqA.Cart.Currency, Limit: 1, Guardrail: 1 << 40,
				Ref: unsafe.String(&ref[0], len(ref)), Items: []engine.PlanItem{item}}
			if got, err := l.Reserve(context.Background(), pa); err != nil || got[0] != engine.Granted {
				t.Fatalf("A: %v %v", got, err)
			}
			// The next request, in the same memory.
			if _, err := dec.Decode(body("cust-B", "EUR"), 3); err != nil {
				t.Fatal(err)
			}
			copy(ref, "01KBHZ0000000000000000000B")

			if got := l.Spent("o", "USD"); got != 100 {
				t.Errorf("Spent(o, USD) = %d after the next request, want 100", got)
			}
			if got := l.Spent("o", "EUR"); got != 0 {
				t.Errorf("Spent(o, EUR) = %d, want 0", got)
			}
			again := func(customer string) engine.Result {
				p := &engine.Plan{Now: t0.Add(time.Minute), CustomerID: customer, Currency: "USD", Limit: 1, Guardrail: 1 << 40,
					DryRun: true, Items: []engine.PlanItem{item}}
				got, err := l.Reserve(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				return got[0]
			}
			if got := again("cust-A"); got != engine.SkippedCapPerCustomer {
				t.Errorf("cust-A again: %v, want its per-customer cap", got)
			}
			if got := again("cust-B"); got != engine.Granted {
				t.Errorf("cust-B: %v, want granted (A's grant is not B's)", got)
			}
			o := l.lookup("o")
			o.mu.Lock()
			_, recA := o.records.get("01KBHZ0000000000000000000A")
			member, cur := o.held[0].member, o.held[0].cur
			o.mu.Unlock()
			if !recA {
				t.Errorf("the record of A's reference is not found by it")
			}
			if member != "01KBHZ0000000000000000000A" || cur != "USD" {
				t.Errorf("hold = %q %q, want A's reference in USD", member, cur)
			}
		})
	}
}
