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

// A dry run answers what a real decision at its time would: a hold that
// has expired but was not released yet counts as released (its unit and
// its money, in the budget's currency), yet the dry run releases nothing;
// the next real decision does. The same in the reference ledger and in
// Redis, in both modes.
func TestDryRunCountsExpiredHoldsOut(t *testing.T) {
	type ledger struct {
		engine.Ledger
		expiries func() uint64
	}
	ledgers := map[string]ledger{}
	ml := memledger.New()
	ledgers["memledger"] = ledger{ml, func() uint64 { return ml.Stats().Expiries }}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		c, prefix, _ := redistest.Client(t)
		rl := NewWithOptions(c, Options{Prefix: prefix, Mode: mode, Clock: ClockPlan})
		ledgers[fmt.Sprint("redis mode ", mode)] = ledger{rl, func() uint64 { rl.Wait(); return rl.Stats().Expiries }}
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for name, l := range ledgers {
		n := 0
		plan := func(at time.Duration, dry bool) *engine.Plan {
			n++
			// 100.00 EUR counted as 108.00 USD against a budget of 200.00
			// USD, and one unit of a total of 1.
			return &engine.Plan{Now: t0.Add(at), Ref: fmt.Sprintf("%026d", n), CustomerID: "c", Currency: "EUR", BudgetCurrency: "USD",
				DryRun: dry, Limit: 1, Guardrail: 1 << 40,
				Items: []engine.PlanItem{{OfferID: "held", Amount: 10000, Spend: 10800, Total: 1, Budget: 20000, Hold: 10 * time.Minute, Record: true}}}
		}
		for i, step := range []struct {
			at       time.Duration
			dry      bool
			want     engine.Result
			expiries uint64
		}{
			{0, false, engine.Granted, 0},
			{5 * time.Minute, true, engine.SkippedCapTotal, 0}, // held
			{11 * time.Minute, true, engine.Granted, 0},        // expired: counted out, not released
			{11 * time.Minute, true, engine.Granted, 0},
			{12 * time.Minute, false, engine.Granted, 1}, // released, then granted
			{13 * time.Minute, true, engine.SkippedCapTotal, 1},
		} {
			got, err := l.Reserve(context.Background(), plan(step.at, step.dry))
			if err != nil || !reflect.DeepEqual(got, []engine.Result{step.want}) {
				t.Fatalf("%s step %d: %v %v, want %v", name, i, got, err, step.want)
			}
			if e := l.expiries(); e != step.expiries {
				t.Errorf("%s step %d: %d holds released, want %d", name, i, e, step.expiries)
			}
		}
	}
}

// A dry run at another time is judged at that time under the server's
// clock too (serve's default): two hours after a real grant, its hold has
// expired and its per-customer window has passed, so a dry run then is
// granted both, as the reference ledger answers. Judged at the server's
// time, it would answer what a decision now would: both capped.
func TestDryRunAtAnotherTimeUnderTheServersClock(t *testing.T) {
	now := time.Now()
	plan := func(at time.Time, dry bool, ref string) *engine.Plan {
		return &engine.Plan{Now: at, Ref: ref, CustomerID: "c", Currency: "USD", DryRun: dry, Limit: 2, Guardrail: 1 << 40,
			Items: []engine.PlanItem{
				{OfferID: "held", Amount: 1000, Total: 1, Hold: 10 * time.Minute, Record: true},
				{OfferID: "daily", PerCustomer: 1, Window: time.Hour},
			}}
	}
	ledgers := map[string]engine.Ledger{"memledger": memledger.NewWithOptions(memledger.Options{Now: func() time.Time { return now }})}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		c, prefix, _ := redistest.Client(t)
		ledgers[fmt.Sprint("redis mode ", mode)] = NewWithOptions(c, Options{Prefix: prefix, Mode: mode}) // ClockServer
	}
	both := []engine.Result{engine.Granted, engine.Granted}
	capped := []engine.Result{engine.SkippedCapTotal, engine.SkippedCapPerCustomer}
	for name, l := range ledgers {
		ctx := context.Background()
		if got, err := l.Reserve(ctx, plan(now, false, "01JDB00000000000000000000A")); err != nil || !reflect.DeepEqual(got, both) {
			t.Fatalf("%s: the real decision: %v %v", name, got, err)
		}
		if got, err := l.Reserve(ctx, plan(now.Add(time.Minute), true, "")); err != nil || !reflect.DeepEqual(got, capped) {
			t.Errorf("%s: a dry run a minute later: %v %v, want %v", name, got, err, capped)
		}
		if got, err := l.Reserve(ctx, plan(now.Add(2*time.Hour), true, "")); err != nil || !reflect.DeepEqual(got, both) {
			t.Errorf("%s: a dry run two hours later: %v %v, want %v (what a real decision then would get)", name, got, err, both)
		}
	}
}
