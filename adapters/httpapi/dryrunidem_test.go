package httpapi

import (
	"strings"
	"testing"
)

// TestDryRunLeavesIdempotencyKey: a dry run grants nothing, so it has
// nothing to answer again and claims no Idempotency-Key. It claimed one:
// the checkout's real decision sent next with the same key (a preview,
// then the order) was 409 conflict for --idempotency-ttl, and a key of
// scope read (the console's) wrote keys into the ledger.
func TestDryRunLeavesIdempotencyKey(t *testing.T) {
	h := newEngineHarness(t, holdRules, nil)
	const body = `{"customer_id": "c-1", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 50, "quantity": 1}]}}`
	dry := strings.Replace(body, `{"customer_id"`, `{"dry_run": true, "customer_id"`, 1)
	key := []string{"Idempotency-Key", "order-7"}
	for i := range 2 {
		r := h.do("POST", "/v1/decide", dry, key...)
		if r.status != 200 || r.header["Idempotent-Replayed"] != "" || !strings.Contains(string(r.body), `"decision_id":"dry_`) {
			t.Fatalf("dry run %d: %d %v %s", i, r.status, r.header, r.body)
		}
		h.srv.pending.Wait()
	}
	real := h.do("POST", "/v1/decide", body, key...)
	if real.status != 200 || real.header["Idempotent-Replayed"] != "" {
		t.Fatalf("the real decision after dry runs with its key: %d %s", real.status, real.body)
	}
	h.srv.pending.Wait()
	again := h.do("POST", "/v1/decide", body, key...)
	if again.status != 200 || string(again.body) != string(real.body) || again.header["Idempotent-Replayed"] != "true" {
		t.Fatalf("its retry is not the replay: %d %v %s", again.status, again.header, again.body)
	}
	// A bad key is still refused on a dry run: the header is checked alike.
	bad := h.do("POST", "/v1/decide", dry, "Idempotency-Key", strings.Repeat("x", 129))
	if code, field := bad.errCode(t); bad.status != 400 || code != "invalid_request" || field != "Idempotency-Key" {
		t.Errorf("a long key on a dry run: %d %s", bad.status, bad.body)
	}
}
