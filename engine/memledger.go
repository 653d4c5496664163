package engine

import (
	"context"
	"sync"
	"time"
)

// MemoryLedger is a Ledger in process memory: exact under concurrency (one
// mutex), for one process only (rule tests, offline decisions, the demo
// without Redis, tests). Per-customer caps count grants in a rolling window
// ending at Plan.Now; total caps count grants; budgets add up the granted
// discount money per offer and budget currency (Plan.BudgetOf: each grant's
// Spend in Plan.BudgetCurrency).
type MemoryLedger struct {
	mu     sync.Mutex
	grants map[custKey][]time.Time // per customer and offer, grant times
	totals map[string]int64        // grants per offer
	spent  map[budgetKey]int64     // minor units per offer and currency
}

type custKey struct{ customer, offer string }

type budgetKey struct{ offer, currency string }

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{
		grants: map[custKey][]time.Time{},
		totals: map[string]int64{},
		spent:  map[budgetKey]int64{},
	}
}

// Reserve walks p (Plan.Walk) and reserves every capped item it grants,
// unless p.DryRun. It fails only when ctx is done.
func (l *MemoryLedger) Reserve(ctx context.Context, p *Plan) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// In a dry run nothing is recorded, but the walk still sees its own
	// earlier grants of this plan: each offer appears once, so there is
	// nothing to add up.
	return p.Walk(func(i int) Result {
		it := &p.Items[i]
		ck := custKey{p.CustomerID, it.OfferID}
		if it.PerCustomer > 0 {
			if p.CustomerID == "" {
				return SkippedCapPerCustomer
			}
			if l.count(ck, it.Window, p.Now, !p.DryRun) >= it.PerCustomer {
				return SkippedCapPerCustomer
			}
		}
		if it.Total > 0 && l.totals[it.OfferID] >= it.Total {
			return SkippedCapTotal
		}
		spend, cur := p.BudgetOf(i)
		bk := budgetKey{it.OfferID, cur}
		if it.Budget > 0 && l.spent[bk]+spend > it.Budget {
			return SkippedBudget
		}
		if p.DryRun {
			return Granted
		}
		if it.PerCustomer > 0 {
			l.grants[ck] = append(l.grants[ck], p.Now)
		}
		if it.Total > 0 {
			l.totals[it.OfferID]++
		}
		if it.Budget > 0 {
			l.spent[bk] += spend
		}
		return Granted
	}), nil
}

// count returns the grants of ck in the window ending at now (a grant at
// t counts while now - t < window; without a window, for ever). With prune,
// it also forgets the grants that fell out of the window; a dry run never
// prunes, since its "now" may be any time.
func (l *MemoryLedger) count(ck custKey, window time.Duration, now time.Time, prune bool) int {
	ts := l.grants[ck]
	if window <= 0 {
		return len(ts)
	}
	since := now.Add(-window)
	n := 0
	for _, t := range ts {
		if t.After(since) {
			n++
		}
	}
	if prune && n < len(ts) {
		kept := ts[:0]
		for _, t := range ts {
			if t.After(since) {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 {
			delete(l.grants, ck)
		} else {
			l.grants[ck] = kept
		}
	}
	return n
}

// Spent returns the budget money granted for offerID, counted in currency
// (the plans' BudgetCurrency), in minor units.
func (l *MemoryLedger) Spent(offerID, currency string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spent[budgetKey{offerID, currency}]
}

// Total returns the number of grants of offerID counted against its total
// cap.
func (l *MemoryLedger) Total(offerID string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.totals[offerID]
}
