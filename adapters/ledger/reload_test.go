package ledger

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
)

// TestHoldRemovedByReload: a reload takes `hold` off an offer while two of
// its grants are held. The held grants keep their hold: one decision's
// order commits it, the other expires, and the next walk of the offer,
// now without a hold, releases the expired one by itself (nobody reads
// GET /v1/budgets), so exactly one more unit of the total of 3 is granted.
// The same in both Redis modes and in the reference ledger.
func TestHoldRemovedByReload(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	plan := func(k int, at time.Time, hold time.Duration) *engine.Plan {
		return &engine.Plan{Now: at, Ref: fmt.Sprintf("%026d", k), CustomerID: fmt.Sprint("c-", k), Currency: "USD",
			Limit: 1, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "first3", Amount: 1000, Spend: 1000, Total: 3, Budget: 3000, Hold: hold, Record: hold > 0}}}
	}
	ledgers := []struct {
		name string
		l    interface {
			engine.Ledger
			Apply(context.Context, []engine.GrantOutcome) ([]engine.OutcomeResult, error)
		}
	}{
		{"memledger", memledger.New()},
		{"redis script", NewWithOptions(c, Options{Prefix: prefix + "s:", Mode: ModeScript, Clock: ClockPlan})},
		{"redis split", NewWithOptions(c, Options{Prefix: prefix + "p:", Mode: ModeSplit, Clock: ClockPlan})},
	}
	for _, tc := range ledgers {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			walk := func(k int, at time.Time, hold time.Duration) engine.Result {
				t.Helper()
				res, err := tc.l.Reserve(ctx, plan(k, at, hold))
				if err != nil {
					t.Fatal(err)
				}
				if w, ok := tc.l.(interface{ Wait() }); ok {
					w.Wait()
				}
				return res[0]
			}
			// Under the old rules: three grants held.
			for k := 1; k <= 3; k++ {
				if r := walk(k, t0, 20*time.Minute); r != engine.Granted {
					t.Fatalf("grant %d: %v", k, r)
				}
			}
			// The reload: no hold. c-1 orders within its hold (the
			// outcome carries the offer: the decision kept a record).
			res, err := tc.l.Apply(ctx, []engine.GrantOutcome{{Ref: fmt.Sprintf("%026d", 1), DecisionTime: t0,
				Type: engine.OutcomeConverted, At: t0.Add(5 * time.Minute), Now: t0.Add(5 * time.Minute),
				Offers: []engine.OutcomeOffer{{ID: "first3", Total: 3, Budget: 3000}}}})
			if err != nil || res[0].Commits != 1 {
				t.Fatalf("the order: %+v %v", res, err)
			}
			if r := walk(4, t0.Add(10*time.Minute), 0); r != engine.SkippedCapTotal {
				t.Fatalf("while c-2 and c-3 are held: %v", r)
			}
			// c-2's and c-3's holds expire: their units come back at the
			// next walk, one committed grant and two new ones.
			later := t0.Add(30 * time.Minute)
			got := []engine.Result{walk(5, later, 0), walk(6, later, 0), walk(7, later, 0)}
			want := []engine.Result{engine.Granted, engine.Granted, engine.SkippedCapTotal}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after the holds expired: %v, want %v", got, want)
			}
		})
	}
}
