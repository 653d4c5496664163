package httpapi

import "testing"

// TestIdempotencyKeyEmpty: a checkout that sends the Idempotency-Key
// header with nothing in it (its order id was not filled in) is told so,
// 400 on the header, rather than decided without the guarantee it asked
// for, silently: its retries would each be granted the offer again.
func TestIdempotencyKeyEmpty(t *testing.T) {
	h := newEngineHarness(t, holdRules, nil)
	body := `{"customer_id": "c-1", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 50, "quantity": 1}]}}`
	for _, tc := range []struct{ name, key, body string }{
		{"empty", "", body},
		{"blanks only", "   ", body},
		{"empty, dry run", "", `{"customer_id": "c-1", "dry_run": true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/v1/decide", tc.body, "Idempotency-Key", tc.key)
			if code, field := r.errCode(t); r.status != 400 || code != "invalid_request" || field != "Idempotency-Key" {
				t.Errorf("%d %s, want 400 invalid_request on Idempotency-Key", r.status, r.body)
			}
		})
	}
	if n := h.led.(interface{ Total(string) int64 }).Total("first_1000_app"); n != 0 {
		t.Errorf("%d units granted to requests refused", n)
	}
	if r := h.do("POST", "/v1/decide", body); r.status != 200 {
		t.Errorf("without the header: %d %s", r.status, r.body)
	}
}
