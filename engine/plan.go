package engine

// Walk is the greedy walk every ledger runs over a plan, item by item in
// order:
//
//  1. a fallback item is SkippedFallback once an item of the main pass was
//     granted (the main pass comes first in Items);
//  2. SkippedLimit once Limit items were granted;
//  3. SkippedGroup when an item of its group was granted;
//  4. SkippedGuardrail when its amount would take the granted sum past
//     Guardrail (skipped, never trimmed);
//  5. a capped item (PlanItem.Capped) is granted or not by reserve(i),
//     which returns Granted or the cap that stopped it (its per-customer
//     cap, total and budget, in that order, then its pacing); reserve is called
//     only for items that passed 1 to 4, in order;
//  6. any other item is Granted.
//
// The result has one entry per item.
func (p *Plan) Walk(reserve func(i int) Result) []Result {
	if p.out != nil && cap(p.out) >= len(p.Items) { // the engine's room for the results
		return p.walkInto(p.out, reserve)
	}
	return p.walkInto(make([]Result, len(p.Items)), reserve)
}

// walkInto is Walk writing into out (len(out) >= len(p.Items)).
func (p *Plan) walkInto(out []Result, reserve func(i int) Result) []Result {
	out = out[:len(p.Items)]
	granted, mainGranted := 0, 0
	var sum int64
	for i := range p.Items {
		it := &p.Items[i]
		var r Result
		switch {
		case it.Fallback && mainGranted > 0:
			r = SkippedFallback
		case granted >= p.Limit:
			r = SkippedLimit
		case it.Group != "" && p.groupTaken(out[:i], it.Group):
			r = SkippedGroup
		case it.Amount > p.Guardrail-sum:
			r = SkippedGuardrail
		case it.Capped():
			r = reserve(i)
			if r < Granted || r > SkippedPacing {
				r = it.firstCap() // an answer that is no Result grants nothing
			}
		default:
			r = Granted
		}
		if r == Granted {
			granted++
			if !it.Fallback {
				mainGranted++
			}
			sum += it.Amount
		}
		out[i] = r
	}
	return out
}

// groupTaken reports whether an item of group was granted among the first
// len(done) items.
func (p *Plan) groupTaken(done []Result, group string) bool {
	for j, r := range done {
		if r == Granted && p.Items[j].Group == group {
			return true
		}
	}
	return false
}

// firstCap is the result of a capped item that cannot be reserved: the
// first of its caps, in the order per customer, total, budget.
func (it *PlanItem) firstCap() Result {
	switch {
	case it.PerCustomer > 0:
		return SkippedCapPerCustomer
	case it.Total > 0:
		return SkippedCapTotal
	default:
		return SkippedBudget
	}
}

// reason returns the explain reason of a result that is not Granted.
func (r Result) reason() string {
	switch r {
	case SkippedLimit, SkippedFallback:
		return ReasonLimit
	case SkippedGroup:
		return ReasonGroup
	case SkippedGuardrail:
		return ReasonGuardrail
	case SkippedCapPerCustomer:
		return ReasonCapPerCustomer
	case SkippedCapTotal:
		return ReasonCapTotal
	case SkippedBudget:
		return ReasonBudget
	case SkippedPacing:
		return ReasonPacing
	}
	return ""
}
