package httpapi

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
)

// TestBudgetsDocExample: the paced offer of GET /v1/budgets' example in
// docs/api.md (black_friday_flash of examples/checkout, 6900.00 committed
// and 100.00 held) is what the server answers at the example's as_of:
// active or not, and the pace allowed by then (⌊25000 × f⌋).
func TestBudgetsDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sect, ok := strings.Cut(string(doc), "## GET /v1/budgets")
	_, block, ok2 := strings.Cut(sect, "```json\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/api.md: no JSON example under ## GET /v1/budgets")
	}
	var ex struct {
		AsOf   string            `json:"as_of"`
		Offers []json.RawMessage `json:"offers"`
	}
	if err := json.Unmarshal([]byte(block), &ex); err != nil {
		t.Fatalf("docs/api.md's example: %v", err)
	}
	var asOf BudgetsView
	if err := json.Unmarshal([]byte(`{"as_of": "`+ex.AsOf+`"}`), &asOf); err != nil {
		t.Fatal(err)
	}
	rs, err := rulefiles.Load("../../examples/checkout")
	if err != nil {
		t.Fatal(err)
	}
	o, found := rs.Offer("black_friday_flash")
	if !found || len(ex.Offers) != 2 {
		t.Fatalf("example offers %d, black_friday_flash %v", len(ex.Offers), found)
	}
	got, err := json.Marshal(budgetView(o, engine.BudgetState{OfferID: o.ID, Currency: "USD", Spent: 700000, HeldAmount: 10000}, asOf.AsOf))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, ex.Offers[1]); err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("at %s the server answers\n%s\ndocs/api.md says\n%s", ex.AsOf, got, want.String())
	}
}

// TestBudgetsDocSession: the session of docs/budgets.md ("Holds"), an
// offer of total: 3, budget: 30, hold: 20s ($10 off), with GET
// /v1/budgets read after each step as the table says.
func TestBudgetsDocSession(t *testing.T) {
	h := newEngineHarness(t, `
offers:
  - id: first_1000_app
    discount: {amount: 10}
    caps: {total: 3, budget: 30, hold: 20s}
`, nil)
	type row struct{ committed, held, remaining int64 }
	check := func(step string, w row) {
		t.Helper()
		b := h.budget(t)
		if b.Count.Committed != w.committed || b.Count.Held != w.held || b.Count.Remaining != w.remaining ||
			b.Amount.Committed != 10*float64(w.committed) || b.Amount.Held != 10*float64(w.held) ||
			b.Amount.Remaining != 10*float64(w.remaining) || b.OverCapCommits != 0 {
			t.Fatalf("%s: %+v, want %+v", step, b, w)
		}
	}
	granted := func(customer string, want bool) string {
		t.Helper()
		id, acts := h.decide(t, customer)
		if (len(acts) == 1) != want {
			t.Fatalf("%s: actions %v", customer, acts)
		}
		return id
	}
	post := func(body string) {
		t.Helper()
		if r := h.post(t, body); r.status != 202 {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
	c1, c2, c3 := granted("c-1", true), granted("c-2", true), granted("c-3", true)
	granted("c-4", false)
	check("c-1, c-2, c-3 are granted", row{0, 3, 0})
	post(`{"decision_id": "` + c1 + `", "customer_id": "c-1", "type": "converted", "value": 40, "currency": "USD", "id": "order-1"}`)
	check("c-1's order", row{1, 2, 0})
	post(`{"decision_id": "` + c2 + `", "customer_id": "c-2", "offer_id": "first_1000_app", "type": "dismissed"}`)
	check("c-2 dismisses the offer", row{1, 1, 1})
	granted("c-5", true)
	check("c-5 is granted c-2's unit", row{1, 2, 0})
	h.clock.add(20 * time.Second)
	check("20 s pass", row{1, 0, 2})
	for k := 0; k < 2; k++ {
		post(`{"decision_id": "` + c1 + `", "customer_id": "c-1", "type": "cancelled", "id": "return-1"}`)
	}
	check("c-1's order is returned", row{0, 0, 3})
	post(`{"decision_id": "` + c3 + `", "customer_id": "c-3", "type": "converted", "value": 40, "currency": "USD"}`)
	check("c-3's order comes after its hold expired", row{1, 0, 2})
}
