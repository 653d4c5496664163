package wire_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// budgetRules is one offer of 10 off with a budget of 500, in the cart's
// currency (the rules name no currency), as in the fault run of issue 13.
const budgetRules = `
offers:
  - id: ten_off
    discount: {amount: 10}
    caps: {budget: 500}
`

// Issue 13, item 3: any three capital letters were a currency, each with
// its own full budget: 2,400 granted on a budget of 500 across USD, EUR,
// XYZ, AAA, QQQ, ZZZ. Requests go through the decoder, as on the API: a
// code that is not an ISO 4217 code Arbiter knows is 400 invalid_request
// on cart.currency and grants nothing; the budget is spent at most once per
// real currency (the rules name no currency, so it counts per cart
// currency, as SPEC.md says).
func TestMadeUpCurrenciesAreRefusedAndGrantNoBudget(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "rules.yaml", Data: []byte(budgetRules)}})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{Ledger: engine.NewMemoryLedger()})
	granted := map[string]int64{} // minor units per currency
	var total int64               // major units, all currencies together
	codes := []string{"USD", "EUR", "XYZ", "AAA", "QQQ", "ZZZ"}
	for _, cur := range codes {
		for i := 0; i < 100; i++ {
			body := fmt.Sprintf(`{"customer_id":"c-%d","cart":{"currency":%q,"items":[{"sku":"A","price":100,"quantity":1}]}}`, i, cur)
			req, err := wire.DecodeDecide([]byte(body), 3)
			if err != nil {
				var we *wire.Error
				if !errors.As(err, &we) || we.Code != wire.CodeInvalidRequest || we.Field != "cart.currency" {
					t.Fatalf("%s: %v, want invalid_request on cart.currency", cur, err)
				}
				continue
			}
			req.DecisionID = "dcs_test"
			req.Now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			d, err := eng.Decide(context.Background(), rs, nil, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range d.Actions {
				granted[cur] += a.Discount.Amount.Minor
				total += a.Discount.Amount.Minor / 100
			}
		}
	}
	for _, cur := range codes {
		g := granted[cur]
		switch {
		case cur != "USD" && cur != "EUR" && g > 0:
			t.Errorf("%s is no currency, yet %d minor units were granted in it", cur, g)
		case g > 500_00:
			t.Errorf("%s: %d minor units granted on a budget of 500.00", cur, g)
		}
	}
	if total > 1000 {
		t.Errorf("%d granted in all on a budget of 500 per real currency (USD, EUR)", total)
	}
}
