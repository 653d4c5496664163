package ledger

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// With a ruleset currency, a budget counts each grant's Spend (its amount
// converted into the budget's currency, rounded up) under the plan's
// BudgetCurrency, whatever the cart's currency: carts in EUR and JPY
// share one USD budget, in both modes; an item that does not fit is
// refused, and a refused or released reservation gives back its spend.
func TestBudgetCountsSpendInBudgetCurrency(t *testing.T) {
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		c, prefix, _ := redistest.Client(t)
		ctx := context.Background()
		l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
		plan := func(cur string, amount, spend int64) *engine.Plan {
			return &engine.Plan{Now: time.Unix(1e9, 0), CustomerID: "c1", Currency: cur, BudgetCurrency: "USD", Limit: 3, Guardrail: 1e9,
				Items: []engine.PlanItem{{OfferID: "b", Amount: amount, Spend: spend, Budget: 3000}}}
		}
		for i, step := range []struct {
			cur           string
			amount, spend int64
			want          engine.Result
			spent         int64
		}{
			{"EUR", 1389, 1501, engine.Granted, 1501},       // 13.89 EUR = 15.01 USD
			{"JPY", 2239, 1501, engine.SkippedBudget, 1501}, // 3002 > 3000: refused, though 2239 < 3000
			{"USD", 1499, 1499, engine.Granted, 3000},
			{"EUR", 1, 2, engine.SkippedBudget, 3000},
		} {
			got, err := l.Reserve(ctx, plan(step.cur, step.amount, step.spend))
			if err != nil || !reflect.DeepEqual(got, []engine.Result{step.want}) {
				t.Fatalf("mode %d step %d: %v %v, want %v", mode, i, got, err, step.want)
			}
			l.Wait()
			if n, _ := c.Get(ctx, BudgetKey(prefix, "b", "USD")).Int64(); n != step.spent {
				t.Errorf("mode %d step %d: USD spent %d, want %d", mode, i, n, step.spent)
			}
			for _, other := range []string{"EUR", "JPY"} {
				if n, _ := c.Get(ctx, BudgetKey(prefix, "b", other)).Int64(); n != 0 {
					t.Errorf("mode %d: counted %d under %s", mode, n, other)
				}
			}
		}
	}
}
