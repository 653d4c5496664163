package httpapi

import (
	"encoding/json"
	"testing"
)

// TestBudgetsViewLimitIsTheEnginesLimit: GET /v1/budgets shows the limit
// the decisions are held to, also for a budget the engine cannot count in
// minor units as written: one too large (a budget never reached: the
// console must not show it spent while grants go on) and one below the
// currency's minor unit (the smallest budget there is, one minor unit).
func TestBudgetsViewLimitIsTheEnginesLimit(t *testing.T) {
	cases := []struct {
		name, rules        string
		limit, remaining   float64
		grantedFirst, more bool
	}{
		{"too large to count: never reached", "offers:\n  - id: o\n    discount: {amount: 1}\n    caps: {budget: 1e18}\n",
			1 << 53, 1<<53 - 1, true, true},
		{"below one yen: one yen", "currency: JPY\noffers:\n  - id: o\n    discount: {amount: 1}\n    caps: {budget: 0.4}\n",
			1, 0, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newEngineHarness(t, c.rules, nil)
			for i, want := range []bool{c.grantedFirst, c.more} {
				_, acts := h.decideJPY(t)
				if got := len(acts) == 1; got != want {
					t.Fatalf("decision %d granted %v, want %v", i, acts, want)
				}
			}
			r := h.do("GET", "/v1/budgets", "")
			var v struct {
				Offers []struct {
					Amount struct{ Limit, Committed, Remaining float64 } `json:"amount"`
				} `json:"offers"`
			}
			if err := json.Unmarshal(r.body, &v); err != nil || len(v.Offers) != 1 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			// Two grants of one yen when the budget allows them, one when not.
			committed := 1.0
			if c.more {
				committed = 2
				c.remaining--
			}
			if a := v.Offers[0].Amount; a.Limit != c.limit || a.Committed != committed || a.Remaining != c.remaining {
				t.Errorf("budget %+v, want limit %v, committed %v, remaining %v: %s", a, c.limit, committed, c.remaining, r.body)
			}
		})
	}
}

// decideJPY decides for a yen cart and returns the decision's id and
// actions.
func (h *engineHarness) decideJPY(t *testing.T) (string, []string) {
	t.Helper()
	r := h.do("POST", "/v1/decide", `{"customer_id": "c-1", "cart": {"currency": "JPY", "items": [{"sku": "A", "price": 5000, "quantity": 1}]}}`)
	if r.status != 200 {
		t.Fatalf("decide: %d %s", r.status, r.body)
	}
	var d struct {
		ID      string `json:"decision_id"`
		Actions []struct {
			OfferID string `json:"offer_id"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range d.Actions {
		ids = append(ids, a.OfferID)
	}
	return d.ID, ids
}
