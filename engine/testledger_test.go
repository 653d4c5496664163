package engine

import (
	"context"
	"sync"
)

// testLedger is the smallest exact ledger, for the engine's internal tests
// (the reference ledger, package memledger, imports the engine): caps as
// counters, per-customer caps for ever or in a rolling window, budgets in
// the plan's budget currency (Plan.BudgetOf).
type testLedger struct {
	mu     sync.Mutex
	grants map[[2]string][]int64 // customer/offer: grant times (ns)
	totals map[string]int64
	spent  map[[2]string]int64 // offer/currency
}

func newTestLedger() *testLedger {
	return &testLedger{grants: map[[2]string][]int64{}, totals: map[string]int64{}, spent: map[[2]string]int64{}}
}

func (l *testLedger) Reserve(ctx context.Context, p *Plan) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := p.Now.UnixNano()
	return p.Walk(func(i int) Result {
		it := &p.Items[i]
		ck := [2]string{p.CustomerID, it.OfferID}
		spend, cur := p.BudgetOf(i)
		bk := [2]string{it.OfferID, cur}
		if it.PerCustomer > 0 {
			if p.CustomerID == "" {
				return SkippedCapPerCustomer
			}
			n := 0
			for _, t := range l.grants[ck] {
				if it.Window <= 0 || now-t < it.Window.Nanoseconds() {
					n++
				}
			}
			if n >= it.PerCustomer {
				return SkippedCapPerCustomer
			}
		}
		if it.Total > 0 && l.totals[it.OfferID] >= it.Total {
			return SkippedCapTotal
		}
		if it.Budget > 0 && l.spent[bk]+spend > it.Budget {
			return SkippedBudget
		}
		if !p.DryRun {
			if it.PerCustomer > 0 {
				l.grants[ck] = append(l.grants[ck], now)
			}
			if it.Total > 0 {
				l.totals[it.OfferID]++
			}
			if it.Budget > 0 {
				l.spent[bk] += spend
			}
		}
		return Granted
	}), nil
}

// Spent returns the budget money counted for offerID in currency, in
// minor units.
func (l *testLedger) Spent(offerID, currency string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spent[[2]string{offerID, currency}]
}
