package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/rules"
)

// Options configure an Engine.
type Options struct {
	// Ledger reserves caps and budgets; nil means no offer with a cap or a
	// budget is ever granted (reason of its first cap, degraded
	// ledger_unavailable).
	Ledger Ledger
	// Observer is told of rule errors and grants; nil: nobody.
	Observer Observer
	// Profiles gives the profile of a customer when Decide is passed none;
	// nil: every customer has the schema's defaults (not degraded). When it
	// is also a ProfileCache, a fresh cache entry is used without a
	// deadline.
	Profiles ProfileSource
	// ProfileTimeout bounds a profile fetch from Profiles (within the
	// decision's context); 0: DefaultProfileTimeout.
	ProfileTimeout time.Duration
	// Logger receives, at debug level, why a profile was unavailable; nil:
	// nothing is logged.
	Logger *slog.Logger

	// Statistics is the learning snapshot scores read propensity from
	// when the ruleset learns; nil: every propensity is the prior mean,
	// not degraded (rule tests, arbiter decide: there are no statistics
	// to miss).
	Statistics Statistics
	// Static decides every customer with propensity at the prior mean, as
	// a variant with `learning: false` does (arbiter simulate's static
	// strategy).
	Static bool
	// Trials is told of every trial; nil: nobody.
	Trials TrialObserver
	// ScoreOverride, when set, replaces every offer's score (arbiter
	// simulate's oracle).
	ScoreOverride ScoreOverride
}

// Engine decides. It is safe for concurrent use; one Engine serves every
// ruleset it is given.
type Engine struct {
	opts  Options
	cache ProfileCache // opts.Profiles, when it has a cache; else nil
	pool  sync.Pool    // of *scratch
	// fullWalk checks every offer of every decision, as an explained
	// decision does, instead of the ones the ruleset's index names (the
	// reference of the index's property test).
	fullWalk bool
	// inspect, when set, is shown each decision's scratch before it is
	// cleared (tests).
	inspect func(*scratch)
}

// New returns an Engine.
func New(o Options) *Engine {
	if o.ProfileTimeout <= 0 {
		o.ProfileTimeout = DefaultProfileTimeout
	}
	e := &Engine{opts: o}
	e.cache, _ = o.Profiles.(ProfileCache)
	e.pool.New = func() any { return newScratch() }
	return e
}

// ErrNoRuleset is returned by Decide when it is given no ruleset.
var ErrNoRuleset = errors.New("engine: no ruleset")

// defaultMaxActionsRules is the limit when a ruleset states none.
const defaultMaxActionsRules = 3

// Decide makes the decision for req with profile p under ruleset rs. When
// p is nil, Decide looks the customer (req.CustomerID) up in
// Options.Profiles: a fresh entry of its cache first, else a fetch bounded
// by Options.ProfileTimeout; without a customer id, without a source or
// for an unknown customer, the schema's defaults (DefaultProfile); when the
// fetch fails or times out, the defaults and degraded profile_unavailable.
// Offline callers (rule tests, arbiter decide) pass the profile they
// decoded. The error is non-nil only when it is given no ruleset or no
// request; every profile, rule or ledger failure is contained in the
// decision (explain, degraded).
//
// A context that is already done does not stop the decision (its own work
// is a few microseconds of CPU): the ledger is not asked, so no capped offer
// is granted and the decision is degraded ledger_unavailable. The checkout
// always gets an answer.
func (e *Engine) Decide(ctx context.Context, rs *rules.Ruleset, p *Profile, req *Request) (*Decision, error) {
	d := new(Decision)
	if err := e.DecideInto(ctx, rs, p, req, d); err != nil {
		return nil, err
	}
	return d, nil
}

// DecideInto is Decide into d, a decision the caller owns (decision.go):
// d's memory is reused, so that a caller that keeps its decisions in a
// pool decides without allocating. Everything d held before is replaced.
func (e *Engine) DecideInto(ctx context.Context, rs *rules.Ruleset, p *Profile, req *Request, d *Decision) error {
	if rs == nil {
		return ErrNoRuleset
	}
	if req == nil {
		return errors.New("engine: no request")
	}
	d.reset()
	profileDegraded := false
	if p == nil {
		p, profileDegraded = e.profileFor(ctx, rs, req.CustomerID, d)
	}
	s := e.pool.Get().(*scratch)
	defer e.put(s)
	s.begin(rs, p, req)

	d.DecisionID = req.DecisionID
	d.CustomerID = req.CustomerID
	d.Ruleset = rs.Version
	d.Placement = req.Placement
	d.Channel = req.Channel
	d.Currency = req.Cart.Currency
	d.CartTotal = Money{Minor: s.cartTotal, Exp: s.exp}
	d.Now = req.Now
	d.Profile = p
	d.Recorded, d.RecordedAt = rs.RecordedFields(), rs.RecordedAt()
	d.Request = req
	if profileDegraded {
		d.Degraded = append(d.Degraded, DegradedProfile)
	}
	e.matchSegments(s, rs)
	d.Segments = append(d.Segments, s.env.Segments()...)

	d.Holdout = inHoldout(rs, req.CustomerID)
	if !d.Holdout && req.CustomerID != "" {
		d.Experiments = e.assignExperiments(s, rs, req.CustomerID, d.Experiments)
	}
	if req.Sign != nil {
		req.DecisionID = req.Sign(d.Experiments, d.Holdout)
		d.DecisionID = req.DecisionID
	}
	e.beginLearning(s, rs, req)
	e.checkOffers(s, rs, req, d.Holdout)
	// In the holdout no offer is eligible: arbitrate only claims the
	// request's Idempotency-Key, if any.
	e.arbitrate(ctx, s, rs, req, d)
	e.endLearning(s, d)
	if req.Explain {
		d.Explain = s.explain(rs)
	}
	return nil
}

func (e *Engine) put(s *scratch) {
	if e.inspect != nil {
		e.inspect(s)
	}
	s.end()
	e.pool.Put(s)
}

func (e *Engine) ruleError(id string) {
	if e.opts.Observer != nil {
		e.opts.Observer.RuleError(id)
	}
}

// matchSegments evaluates the segments in ruleset order; each sees, in
// `segments`, the ones matched before it. A segment whose guard fails
// (rules.SegmentGuard: its condition starts with `profile.x == "const"`,
// `profile.x in [...]` or `"const" in profile.list`, and the decision's
// value is another string, or a list without it) is false without being
// evaluated, as its evaluation would say, with no error.
func (e *Engine) matchSegments(s *scratch, rs *rules.Ruleset) {
	ix := rs.Index()
	if ix == nil || len(ix.SegmentGuards()) == 0 || e.fullWalk {
		for i := range rs.Segments {
			e.matchSegment(s, rs, i)
		}
		return
	}
	words := resize(s.segBits, (len(rs.Segments)+63)/64)
	s.segBits = words
	mark := func(list []int32) { setBits(words, list) }
	mark(ix.UnguardedSegments())
	for _, g := range ix.SegmentGuards() {
		switch {
		case g.List:
			l, ok := s.env.FlatStrings(g.Flat)
			if !ok {
				mark(g.All)
				continue
			}
			for _, v := range l {
				mark(g.ByValue[v])
			}
		default:
			v, ok := s.env.FlatString(g.Flat)
			if !ok {
				mark(g.All)
				continue
			}
			mark(g.ByValue[v])
		}
	}
	for w, word := range words {
		for word != 0 {
			i := w<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			e.matchSegment(s, rs, i)
		}
	}
}

// setBits sets the bits of list's indexes in words.
func setBits(words []uint64, list []int32) {
	for _, i := range list {
		words[i>>6] |= 1 << (i & 63)
	}
}

// matchSegment evaluates segment i.
func (e *Engine) matchSegment(s *scratch, rs *rules.Ruleset, i int) {
	seg := rs.Segments[i]
	if seg.When == nil {
		return
	}
	st := &s.segStates[i]
	ok, err := s.cond(seg.When)
	if err != nil {
		st.err = exprError(seg.When, err)
		e.ruleError(seg.ID)
		return
	}
	if ok {
		st.matched = true
		s.env.Match(i, seg.ID)
		s.matchedPos = append(s.matchedPos, int32(i))
	}
}

// assignExperiments enrolls an identified customer who is not in the
// holdout: the formula (assignment: bucket under traffic, or the layer's
// range), then the `when` condition; a customer in the range of a layered
// experiment whose `when` is false is in no experiment of that layer.
func (e *Engine) assignExperiments(s *scratch, rs *rules.Ruleset, id string, out []Assignment) []Assignment {
	for xi, x := range rs.Experiments {
		k := assignment(x, id)
		if k < 0 {
			continue
		}
		if x.When != nil {
			ok, err := s.cond(x.When)
			if err != nil {
				e.ruleError(x.ID)
				continue
			}
			if !ok {
				continue
			}
		}
		v := &x.Variants[k]
		out = append(out, Assignment{ID: x.ID, Variant: v.ID, Layer: x.Layer})
		s.variantLearning(x, v)
		for idx, o := range v.Offers {
			if idx < 0 || idx >= len(s.over) {
				continue
			}
			// The experiment written first wins an offer two override
			// (docs/decisions.md), as for `learning`: rs.Experiments is
			// in id order.
			switch ov := &s.over[idx]; {
			case ov.offer == nil:
				*ov = override{offer: o, exp: int32(xi), variant: int32(k)}
				s.overIdx = append(s.overIdx, int32(idx))
			case rs.Experiments[ov.exp].Written > x.Written:
				*ov = override{offer: o, exp: int32(xi), variant: int32(k)}
			}
		}
	}
	return out
}

// checkOffers runs the offers' checks in the order of the explain
// reasons, up to their score and discount. An explained decision (or a
// ruleset without an index) checks every offer, so that each has its
// reason; otherwise only the offers the ruleset's index names for the
// request's placement and matched segments, within their schedule's
// window, and those a variant overrides for this customer: every other
// offer would fail at placement, schedule or segment, which only explain
// shows. In the holdout no offer is eligible, and none is checked.
func (e *Engine) checkOffers(s *scratch, rs *rules.Ruleset, req *Request, holdout bool) {
	ix := rs.Index()
	if ix == nil || req.Explain || e.fullWalk {
		for i := range rs.Offers {
			e.checkOffer(s, rs, ix, req, holdout, i)
		}
		return
	}
	if holdout {
		return
	}
	po := ix.Placement(req.Placement)
	words := resize(s.bits, (len(rs.Offers)+63)/64)
	s.bits = words
	setBits(words, po.Open)
	for _, j := range s.matchedPos {
		setBits(words, po.BySegment[j])
	}
	setBits(words, s.overIdx)
	now, nowOK := rules.WindowTime(req.Now)
	for w, word := range words {
		for word != 0 {
			i := w<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			if nowOK && s.over[i].offer == nil && !ix.InWindow(i, now) {
				continue // not active: the schedule's reason
			}
			e.checkOffer(s, rs, ix, req, false, i)
		}
	}
}

// checkOffer runs offer i's checks.
func (e *Engine) checkOffer(s *scratch, rs *rules.Ruleset, ix *rules.Index, req *Request, holdout bool, i int) {
	s.checked = append(s.checked, int32(i))
	c := &s.cands[i]
	base := rs.Offers[i]
	o := base
	if s.over[i].offer != nil {
		o = s.over[i].offer
	}
	c.offer = o
	switch {
	case holdout:
		c.reason = ReasonHoldout
	case o.Disabled:
		c.reason = ReasonExperiment
	case !placementOK(o, req.Placement):
		c.reason = ReasonPlacement
	case !o.Schedule.Active(req.Now):
		c.reason = ReasonSchedule
	case !s.segmentOK(ix, i, o, o == base):
		c.reason = ReasonSegment
	default:
		if e.evalOffer(s, rs, req, c, o) {
			if req.CustomerID == "" && o.Caps.PerCustomer > 0 {
				c.reason = ReasonCapPerCustomer
				c.detail = "anonymous customers are never granted an offer with a per-customer cap"
			} else {
				c.eligible = true
			}
		}
	}
}

// evalOffer runs the offer's when, discount and score; false with the
// reason set when the offer is out.
func (e *Engine) evalOffer(s *scratch, rs *rules.Ruleset, req *Request, c *cand, o *rules.Offer) bool {
	fail := func(x *rules.Expr, err error) bool {
		c.reason = ReasonError
		if errors.Is(err, exprenv.ErrNoRate) {
			c.reason = ReasonCurrency // cart.total_base without a rate
		}
		c.err = exprError(x, err)
		e.ruleError(o.ID)
		return false
	}
	if o.When != nil {
		ok, err := s.cond(o.When)
		if err != nil {
			return fail(o.When, err)
		}
		if !ok {
			c.reason = ReasonWhen
			return false
		}
	}
	if d := o.Discount; d != nil {
		if what, ok := s.conv.moneyNeeds(d); !ok {
			c.reason = ReasonCurrency
			c.detail = s.conv.noRateDetail(what)
			return false
		}
		in := discountInput{D: d, Items: s.items, Exp: s.exp, Conv: &s.conv}
		if d.Amount.Expr == nil {
			in.AmountBy = d.AmountBy
		}
		if d.Items != nil && d.Type != rules.DiscountFreeShipping {
			s.match = s.match[:0]
			for j := range s.items {
				s.env.SetItem(j)
				ok, err := s.cond(d.Items)
				if err != nil {
					return fail(d.Items, err)
				}
				s.match = append(s.match, ok)
			}
			in.Match = s.match
		}
		switch d.Type {
		case rules.DiscountPercent:
			in.Percent = d.Percent.Value
			if d.Percent.Expr != nil {
				v, err := s.number(d.Percent.Expr)
				if err != nil {
					return fail(d.Percent.Expr, err)
				}
				in.Percent = v
			}
		case rules.DiscountAmount:
			in.Amount = d.Amount.Value
			if d.Amount.Expr != nil {
				v, err := s.number(d.Amount.Expr)
				if err != nil {
					return fail(d.Amount.Expr, err)
				}
				in.Amount = v
			}
		}
		out := computeDiscount(&in, s.weights, &s.sorter)
		s.weights = out.Weights
		if out.Amount == 0 && !out.FreeShipping {
			c.reason = ReasonWhen
			c.detail = "the discount would be worth nothing on this cart"
			return false
		}
		spend, ok := s.conv.spend(out.Amount)
		if !ok && o.Caps.Budget > 0 {
			c.reason = ReasonCurrency
			c.detail = "the rules have no rate for " + s.conv.cart + ": a grant cannot be counted against the budget in " + s.conv.base + ": add " + s.conv.cart + " to `rates`"
			return false
		}
		c.spend = spend
		c.hasDiscount = true
		c.amount = out.Amount
		c.micro, c.hasPercent = out.Micro, out.HasPercent
		c.freeShipping = out.FreeShipping
		c.wOff = len(s.wbuf)
		s.wbuf = append(s.wbuf, out.Weights...)
	}
	c.score = o.Priority
	if e.opts.ScoreOverride != nil {
		return e.overrideScore(s, c, o)
	}
	if o.Score != nil {
		s.env.SetVar(exprenv.VarPriority, o.Priority)
		e.setScoreVars(s, rs, req, c, o)
		v, err := s.number(o.Score)
		if err != nil {
			return fail(o.Score, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fail(o.Score, fmt.Errorf("the score is %v, not a finite number", v))
		}
		c.score = v
	}
	c.scored = true
	return true
}

func placementOK(o *rules.Offer, placement string) bool {
	if len(o.Placements) == 0 {
		return true
	}
	for _, p := range o.Placements {
		if p == placement {
			return true
		}
	}
	return false
}

// arbitrate builds the plan (the main pass by score, then the fallback
// offers in the order listed), walks it through the ledger when an item is
// capped, and turns the grants into actions.
func (e *Engine) arbitrate(ctx context.Context, s *scratch, rs *rules.Ruleset, req *Request, d *Decision) {
	s.order = s.order[:0]
	for _, i := range s.checked {
		if c := &s.cands[i]; c.eligible && !c.offer.Fallback {
			s.order = append(s.order, i)
		}
	}
	sort.Sort((*byScore)(s))
	for _, id := range rs.Arbitration.Fallback {
		if o, ok := rs.Offer(id); ok && o.Index >= 0 && o.Index < len(s.cands) && s.cands[o.Index].eligible {
			s.order = append(s.order, int32(o.Index))
		}
	}
	limit := rs.Arbitration.MaxActions
	if limit <= 0 {
		limit = defaultMaxActionsRules
	}
	if req.Limit > 0 && req.Limit < limit {
		limit = req.Limit
	}
	pl := &s.plan
	*pl = Plan{
		Now:        req.Now,
		CustomerID: req.CustomerID,
		Currency:   req.Cart.Currency,
		DryRun:     req.DryRun,
		Limit:      limit,
		Guardrail:  guardrailOf(s.cartTotal, rs.Arbitration.MaxDiscountPercent),
		Items:      pl.Items[:0],
		Ref:        req.Ref,
		Claim:      req.Claim,
	}
	pl.BudgetCurrency = s.conv.budgetCurrency() // the ruleset's currency, else the cart's (currency.go)
	for _, i := range s.order {
		c := &s.cands[i]
		o := c.offer
		it := PlanItem{
			OfferID:     o.ID,
			Group:       o.Group,
			Amount:      c.amount,
			Spend:       c.spend,
			Fallback:    o.Fallback,
			PerCustomer: o.Caps.PerCustomer,
			Window:      o.Caps.Window,
			Total:       o.Caps.Total,
			Score:       c.score,
		}
		if s.learn.on && o.Learns && !req.DryRun {
			it.Record, it.Cell = true, s.learn.cell
		}
		if o.Caps.Budget > 0 {
			it.Budget = BudgetMinor(o.Caps.Budget, s.conv.budgetExp())
		}
		if o.Caps.Hold > 0 {
			it.Hold = o.Caps.Hold
			it.Record = true
		}
		if o.Caps.Pacing == rules.PacingEven && o.Schedule != nil {
			it.Paced = true
			it.PaceTotal, it.PaceBudget = paced(it.Total, it.Budget, o.Schedule.Start, o.Schedule.End, req.Now)
		}
		pl.Items = append(pl.Items, it)
	}
	if cap(s.results) < len(pl.Items) {
		s.results = make([]Result, len(pl.Items))
	}
	res := s.results[:len(pl.Items)]
	pl.out = res // a ledger's Walk writes here
	local := func(i int) Result { return pl.Items[i].firstCap() }
	switch {
	case !pl.NeedsLedger():
		res = pl.walkInto(res, local)
	case e.opts.Ledger == nil || ctx.Err() != nil:
		d.Degraded = ledgerDegraded(d.Degraded, pl)
		res = pl.walkInto(res, local)
	default:
		got, err := e.opts.Ledger.Reserve(ctx, pl)
		if err != nil || len(got) != len(pl.Items) {
			d.Degraded = ledgerDegraded(d.Degraded, pl)
			res = pl.walkInto(res, local)
		} else {
			copy(res, got)
			for j, r := range res {
				if r < Granted || r > SkippedPacing {
					res[j] = pl.Items[j].firstCap() // never grant on a garbled answer
				}
			}
		}
	}
	n := 0
	for _, r := range res {
		if r == Granted {
			n++
		}
	}
	d.Actions = slices.Grow(d.Actions, n)
	d.reserve(n)
	// What the metrics and learning count: a real decision's grants, not
	// those of a decision whose Idempotency-Key was claimed before (the
	// caller answers the first decision again, or refuses: this one is
	// thrown away and reserved nothing).
	counted := !req.DryRun && (req.Claim == nil || req.Claim.State < ClaimReplay)
	for j, i := range s.order {
		c := &s.cands[i]
		if res[j] != Granted {
			c.reason = res[j].reason()
			if res[j] == SkippedFallback {
				c.detail = "a fallback offer: offered only when nothing else is chosen"
			}
			continue
		}
		c.chosen = true
		d.Actions = append(d.Actions, s.action(c, d))
		if counted && e.opts.Observer != nil {
			e.opts.Observer.Granted(c.offer.ID)
		}
		if s.learn.on && c.offer.Learns {
			d.Actions[len(d.Actions)-1].Cell = s.learn.cell
			if counted && e.opts.Trials != nil {
				e.opts.Trials.Trial(c.offer.ID, s.learn.cell, req.Now)
			}
		}
	}
}

// ledgerDegraded adds what an unreachable ledger degrades: the ledger
// when the plan holds a capped item (never granted then), the
// Idempotency-Key when it carries one.
func ledgerDegraded(deg []string, pl *Plan) []string {
	for i := range pl.Items {
		if pl.Items[i].Capped() {
			deg = append(deg, DegradedLedger)
			break
		}
	}
	if pl.Claim != nil {
		pl.Claim.State = ClaimUnknown
		deg = append(deg, DegradedIdempotency)
	}
	return deg
}

// PacedShares returns the shares of total and budget that pacing allows
// by now over the schedule [start, end): ⌈total × f⌉ and ⌊budget × f⌋
// with f = (now − start) / (end − start), exact; 0 before the start, the
// whole from the end.
func PacedShares(total, budget int64, start, end, now time.Time) (int64, int64) {
	return paced(total, budget, start, end, now)
}

// paced returns the shares of total and budget that pacing allows at now
// within [start, end): ⌈total × f⌉ and ⌊budget × f⌋ with f = (now −
// start) / (end − start), exactly (128-bit products); outside the window, 0
// before it and the whole after it.
func paced(total, budget int64, start, end, now time.Time) (int64, int64) {
	if !now.After(start) {
		return 0, 0
	}
	if !now.Before(end) {
		return total, budget
	}
	num, den := uint64(now.Sub(start)), uint64(end.Sub(start))
	share := func(v int64, up bool) int64 {
		if v <= 0 {
			return 0
		}
		hi, lo := bits.Mul64(uint64(v), num)
		q, r := bits.Div64(hi, lo, den) // hi < den: v × num < v × den
		if up && r != 0 {
			q++
		}
		return int64(q)
	}
	return share(total, true), share(budget, false)
}

// byScore sorts scratch.order by score, highest first, ties by offer id.
type byScore scratch

func (b *byScore) Len() int      { return len(b.order) }
func (b *byScore) Swap(i, j int) { b.order[i], b.order[j] = b.order[j], b.order[i] }
func (b *byScore) Less(i, j int) bool {
	x, y := &b.cands[b.order[i]], &b.cands[b.order[j]]
	if x.score != y.score {
		return x.score > y.score
	}
	return x.offer.ID < y.offer.ID
}

// action builds the response action of a granted candidate.
func (s *scratch) action(c *cand, d *Decision) Action {
	o := c.offer
	a := Action{
		OfferID: o.ID,
		Kind:    o.Kind,
		Score:   c.score,
		Payload: o.Payload,
	}
	if a.Kind == "" {
		a.Kind = rules.KindAction
		if o.Discount != nil {
			a.Kind = rules.KindDiscount
		}
	}
	if c.hasDiscount {
		dr := d.newDiscount()
		*dr = DiscountResult{
			Type:         string(o.Discount.Type),
			Amount:       Money{Minor: c.amount, Exp: s.exp},
			Currency:     s.currency,
			FreeShipping: c.freeShipping,
			Items:        []ItemAmount{},
		}
		if c.hasPercent {
			dr.Percent = d.newPercent(microPercentFloat(c.micro))
		}
		if c.amount > 0 {
			w := s.wbuf[c.wOff : c.wOff+len(s.items)]
			parts := splitAmount(c.amount, s.items, w, s.split, &s.sorter)
			s.split = parts
			n := 0
			for _, v := range parts {
				if v > 0 {
					n++
				}
			}
			start := len(d.amounts)
			d.amounts = slices.Grow(d.amounts, n)
			for j, v := range parts {
				if v > 0 {
					d.amounts = append(d.amounts, ItemAmount{SKU: s.items[j].SKU, Amount: Money{Minor: v, Exp: s.exp}})
				}
			}
			dr.Items = d.amounts[start:len(d.amounts):len(d.amounts)]
		}
		a.Discount = dr
	}
	a.Title = d.keepText(s.render(&o.Title, c))
	a.Message = d.keepText(s.render(&o.Message, c))
	return a
}
