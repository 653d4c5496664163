package memledger

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

func TestMemoryLedgerWindowAndDryRun(t *testing.T) {
	l := New()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	plan := func(now time.Time, dry bool) *engine.Plan {
		return &engine.Plan{Now: now, CustomerID: "c1", Currency: "USD", DryRun: dry, Limit: 1, Guardrail: 1000,
			Items: []engine.PlanItem{{OfferID: "o", PerCustomer: 1, Window: 24 * time.Hour, Amount: 100, Budget: 250}}}
	}
	steps := []struct {
		now  time.Time
		dry  bool
		want engine.Result
	}{
		{t0, true, engine.Granted},                                   // a dry run reserves nothing
		{t0, false, engine.Granted},                                  //
		{t0.Add(time.Hour), false, engine.SkippedCapPerCustomer},     // within 24h
		{t0.Add(48 * time.Hour), true, engine.Granted},               // a dry run in the future does not forget grants
		{t0.Add(2 * time.Hour), false, engine.SkippedCapPerCustomer}, //
		{t0.Add(24 * time.Hour), false, engine.Granted},              // out of the window: budget 200 of 250 spent
		{t0.Add(49 * time.Hour), false, engine.SkippedBudget},        // 300 > 250
	}
	for i, s := range steps {
		got, err := l.Reserve(context.Background(), plan(s.now, s.dry))
		if err != nil || got[0] != s.want {
			t.Fatalf("step %d: %v %v, want %v", i, got, err, s.want)
		}
	}
	if l.Spent("o", "USD") != 200 {
		t.Errorf("spent %d", l.Spent("o", "USD"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Reserve(ctx, plan(t0, false)); err == nil {
		t.Error("a done context must fail")
	}
}

// TestMemoryLedgerConcurrent: 64 goroutines never grant past a total cap,
// a budget or a per-customer cap.
func TestMemoryLedgerConcurrent(t *testing.T) {
	l := New()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	const workers, per = 64, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	grants := map[string]int{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				p := &engine.Plan{Now: now, CustomerID: "c" + strconv.Itoa(i%10), Currency: "USD", Limit: 3, Guardrail: 1 << 40,
					Items: []engine.PlanItem{
						{OfferID: "total", Total: 100},
						{OfferID: "budget", Amount: 7, Budget: 1000},
						{OfferID: "percust", PerCustomer: 2},
					}}
				res, err := l.Reserve(context.Background(), p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for j, r := range res {
					if r == engine.Granted {
						grants[p.Items[j].OfferID]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if grants["total"] != 100 {
		t.Errorf("total cap 100: %d grants", grants["total"])
	}
	if grants["budget"] != 1000/7 || l.Spent("budget", "USD") != int64(1000/7*7) {
		t.Errorf("budget 1000 at 7: %d grants, %d spent", grants["budget"], l.Spent("budget", "USD"))
	}
	if grants["percust"] != 20 {
		t.Errorf("2 per customer, 10 customers: %d grants", grants["percust"])
	}
}
