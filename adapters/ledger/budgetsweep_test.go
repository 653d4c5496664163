package ledger

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestBudgetsReleaseExpiredHoldsInChunks: GET /v1/budgets releases the
// holds that expired with nobody deciding for the offer (a sale over, its
// last hour's holds never ordered). One budget script released every one
// of them (up to a million, five Redis calls each: seconds of a blocked
// Redis, every decision degraded meanwhile); it now releases at most a
// chunk per call, and Budgets reads the offer again until all are
// released, so the state it answers is the same.
func TestBudgetsReleaseExpiredHoldsInChunks(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	l := NewWithOptions(c, Options{Prefix: prefix, Mode: ModeScript, Clock: ClockPlan})
	l.budgetChunk = 3
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	const held = 7
	for k := 1; k <= held; k++ {
		res, err := l.Reserve(ctx, &engine.Plan{Now: t0, Ref: fmt.Sprintf("%026d", k), CustomerID: fmt.Sprint("c-", k), Currency: "USD",
			Limit: 1, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "sale", Amount: 500, Spend: 500, Total: 100, Budget: 100000, Hold: 10 * time.Minute, Record: true}}})
		if err != nil || res[0] != engine.Granted {
			t.Fatalf("grant %d: %v %v", k, res, err)
		}
	}
	after := t0.Add(time.Hour)
	// One call releases a chunk, no more.
	vals, err := scriptBudget.Run(ctx, c, []string{TotalKey(prefix, "sale")}, prefix, "sale",
		strconv.FormatInt(after.UnixMilli(), 10), l.serverClock(), "", strconv.Itoa(l.budgetChunk)).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if swept, heldNow := vals[3].(int64), vals[1].(int64); swept != 3 || heldNow != held-3 {
		t.Fatalf("one call released %d (held %d), want 3 (held %d)", swept, heldNow, held-3)
	}
	// Budgets reads on until every expired hold is released.
	st, err := l.Budgets(ctx, after, []engine.BudgetQuery{{OfferID: "sale"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Held != 0 || st[0].Count != 0 || st[0].Spent != 0 || st[0].HeldAmount != 0 {
		t.Fatalf("budgets %+v: want nothing held or counted", st)
	}
	if got := l.expiries.Load(); got != held-3 {
		t.Errorf("Budgets counted %d expiries, want %d", got, held-3)
	}
}
