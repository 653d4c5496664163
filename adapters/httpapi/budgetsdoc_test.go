package httpapi

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

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
