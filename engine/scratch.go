package engine

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/rules"
)

// scratch is the per-decision working memory, pooled by the Engine so that
// a decision allocates little: the expression environment, the
// candidates, the plan. Nothing in it outlives Decide: the Decision is
// built from fresh copies.
type scratch struct {
	env   exprenv.Env
	in    exprenv.Input
	lines []exprenv.Item // the cart's lines, as `item` shows them

	items     []Item
	itemCount int
	exp       int8
	currency  string
	cartTotal int64
	profile   *Profile
	conv      moneyConv // the rules' money in the cart's currency (currency.go)

	segStates []segState

	// cands and over are indexed as the ruleset's offers, and all zero
	// outside a decision: a decision sets only those it checks (checked)
	// and those a variant overrides (overIdx), and end clears only those.
	cands   []cand
	over    []override
	checked []int32  // the offers checked, in ascending order
	overIdx []int32  // the offers a variant overrides for this customer
	bits    []uint64 // the offers to check, a bit each (checkOffers)
	// matchedPos are the positions of the matched segments, ascending.
	matchedPos []int32
	segBits    []uint64 // the segments to evaluate, a bit each (matchSegments)
	order      []int32
	match      []bool
	weights    []int64
	wbuf       []int64
	split      []int64
	sorter     lineSorter
	plan       Plan
	results    []Result
	buf        []byte

	// Learning (learning.go): the decision's state, the propensities its
	// scores read, and the variant that decides whether it learns.
	learn              learnState
	uses               []LearningUse
	learnFrom          int // Written of that variant's experiment; -1: none
	variantLearningOff bool
}

type segState struct {
	matched bool
	err     string
}

// override is the variant offer that replaces a base offer for this
// customer: of the experiments that override it, the one written first.
type override struct {
	offer        *rules.Offer
	exp, variant int32
}

// cand is one offer's state in a decision.
type cand struct {
	offer        *rules.Offer // the effective offer (a variant's, when overridden)
	eligible     bool
	chosen       bool
	scored       bool
	reason       string
	detail       string
	err          string
	score        float64
	hasDiscount  bool
	amount       int64
	micro        int64
	hasPercent   bool
	freeShipping bool
	wOff         int   // the discount's per-line weights in scratch.wbuf
	spend        int64 // what a grant counts against a budget, in Plan.BudgetCurrency
	use          int32 // 1 + its index in scratch.uses, when its score read propensity; else 0
}

func newScratch() *scratch { return &scratch{} }

// begin starts a decision: its money, and the expression environment.
func (s *scratch) begin(rs *rules.Ruleset, p *Profile, req *Request) {
	exp, ok := CurrencyExp(req.Cart.Currency)
	if !ok {
		exp = 2
	}
	s.exp = exp
	s.currency = req.Cart.Currency
	s.items = req.Cart.Items
	s.profile = p

	var total int64
	count := 0
	s.lines = resize(s.lines, len(s.items))
	for i := range s.items {
		it := &s.items[i]
		total = addSat(total, lineValue(it))
		count += it.Quantity
		s.lines[i] = exprenv.Item{SKU: it.SKU, Category: it.Category, Price: Money{Minor: it.Price, Exp: exp}.Major(),
			Quantity: it.Quantity, Tags: it.Tags}
	}
	s.cartTotal = total
	s.itemCount = count
	s.conv = newMoneyConv(rs, req.Cart.Currency, exp)
	totalBase, hasTotalBase := s.conv.totalBase(total)

	s.in = exprenv.Input{
		Now:       req.Now,
		ProfileID: p.ID,
		Known:     p.Known,
		Attrs:     p.Attrs,
		Total:     Money{Minor: total, Exp: exp}.Major(),
		Currency:  req.Cart.Currency,
		ItemCount: count,
		Items:     s.lines,
		Placement: req.Placement,
		Channel:   req.Channel,
		Context:   req.Context,

		TotalBase:    totalBase,
		HasTotalBase: hasTotalBase,
	}
	if p.Values != nil {
		if p.decodedBy(rs.Schema.Fields) && len(rs.ProfileAt()) == len(rs.Env.Flat()) && len(rs.SchemaNames()) == len(p.Values) {
			s.in.Values, s.in.ValueNames, s.in.ValueAt = p.Values, rs.SchemaNames(), rs.ProfileAt()
		} else {
			s.in.Attrs = p.AttrMap() // decoded by another schema, or a hand-made ruleset
		}
	}
	s.env.Begin(rs.Env, &s.in)

	s.segStates = resize(s.segStates, len(rs.Segments))
	s.cands = grow(s.cands, len(rs.Offers))
	s.over = grow(s.over, len(rs.Offers))
	s.checked = s.checked[:0]
	s.overIdx = s.overIdx[:0]
	s.matchedPos = s.matchedPos[:0]
	s.wbuf = s.wbuf[:0]
	s.learnFrom, s.variantLearningOff = -1, false
}

// resize returns a slice of n zero values, reusing v's memory.
func resize[T any](v []T, n int) []T {
	if cap(v) < n {
		return make([]T, n)
	}
	v = v[:n]
	clear(v)
	return v
}

// grow returns v with length n, reusing its memory; the values past its
// length must be zero already (the slices of scratch that end clears).
func grow[T any](v []T, n int) []T {
	if cap(v) < n {
		return make([]T, n)
	}
	return v[:n]
}

// end drops every reference into the request, the profile and the
// ruleset, so that the pooled scratch keeps nothing alive.
func (s *scratch) end() {
	s.env.End()
	s.in = exprenv.Input{}
	clear(s.lines)
	s.items = nil
	s.profile = nil
	for _, i := range s.checked {
		s.cands[i] = cand{}
	}
	for _, i := range s.overIdx {
		s.over[i] = override{}
	}
	s.checked = s.checked[:0]
	s.overIdx = s.overIdx[:0]
	clear(s.segStates)
	s.plan.Items = s.plan.Items[:0]
	s.sorter.items = nil
	s.sorter.weights = nil
	s.currency = ""
	s.conv = moneyConv{}
	clear(s.uses)
	s.uses = s.uses[:0]
	s.learn = learnState{}
}

func (s *scratch) matchedSegment(id string) bool {
	for _, m := range s.env.Segments() {
		if m == id {
			return true
		}
	}
	return false
}

// segmentOK: any of the offer's segments (or none listed), none of its
// excluded segments. Offer i's own segments (base: o is not a variant's)
// are looked up by their positions in the index.
func (s *scratch) segmentOK(ix *rules.Index, i int, o *rules.Offer, base bool) bool {
	if ix != nil && base {
		anyOf, excluded := ix.Segments(i)
		if len(anyOf) > 0 {
			found := false
			for _, p := range anyOf {
				if s.segStates[p].matched {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		for _, p := range excluded {
			if s.segStates[p].matched {
				return false
			}
		}
		return true
	}
	if len(o.Segments) > 0 {
		any := false
		for _, id := range o.Segments {
			if s.matchedSegment(id) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	for _, id := range o.ExcludeSegments {
		if s.matchedSegment(id) {
			return false
		}
	}
	return true
}

// cond evaluates a condition.
func (s *scratch) cond(x *rules.Expr) (bool, error) {
	if x == nil {
		return false, errNotCompiled
	}
	return s.env.Cond(x.Expr)
}

// number evaluates a number expression.
func (s *scratch) number(x *rules.Expr) (float64, error) {
	if x == nil {
		return 0, errNotCompiled
	}
	return s.env.Number(x.Expr)
}

var errNotCompiled = errors.New("expression not compiled")

// exprError is the explain text of a run-time error: where the
// expression is written, and what went wrong.
func exprError(e *rules.Expr, err error) string {
	msg := exprenv.Message(err)
	if e == nil || e.Pos.File == "" {
		return msg
	}
	return e.Pos.File + ":" + strconv.Itoa(e.Pos.Line) + ":" + strconv.Itoa(e.Pos.Col) + ": " + msg
}

// render fills a title or message.
func (s *scratch) render(t *rules.Template, c *cand) rendered {
	if len(t.Parts) == 0 {
		return rendered{s: t.Source}
	}
	if len(t.Parts) == 1 && t.Parts[0].Var == "" {
		return rendered{s: t.Parts[0].Literal}
	}
	b := s.buf[:0]
	for _, p := range t.Parts {
		switch {
		case p.Var == "":
			b = append(b, p.Literal...)
		case p.Var == "amount":
			if c.hasDiscount {
				b = Money{Minor: c.amount, Exp: s.exp}.AppendText(b)
			}
		case p.Var == "percent":
			if c.hasPercent {
				b = strconv.AppendFloat(b, microPercentFloat(c.micro), 'f', -1, 64)
			}
		case p.Var == "currency":
			b = append(b, s.currency...)
		case len(p.Var) > 8 && p.Var[:8] == "profile.":
			switch field := p.Var[8:]; field {
			case "id":
				b = append(b, s.profile.ID...)
			default:
				b = appendValue(b, s.profile.Value(field))
			}
		}
	}
	s.buf = b
	return rendered{b: b}
}

// appendValue writes a profile value as text: lists comma-separated,
// times in RFC 3339 (nothing for the zero time).
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case string:
		return append(b, x...)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		if x.IsZero() {
			return b
		}
		return x.AppendFormat(b, time.RFC3339)
	case []string:
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, e...)
		}
		return b
	case []float64:
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendFloat(b, e, 'f', -1, 64)
		}
		return b
	}
	return fmt.Append(b, v)
}

// explain builds the explanation from the decision's state.
func (s *scratch) explain(rs *rules.Ruleset) *Explain {
	ex := &Explain{
		Segments: make([]SegmentExplain, len(rs.Segments)),
		Offers:   make([]OfferExplain, len(rs.Offers)),
	}
	for i, seg := range rs.Segments {
		st := &s.segStates[i]
		ex.Segments[i] = SegmentExplain{ID: seg.ID, Matched: st.matched, Error: st.err}
	}
	for i, base := range rs.Offers {
		c := &s.cands[i]
		oe := OfferExplain{ID: base.ID, Chosen: c.chosen, Error: c.err}
		if !c.chosen {
			oe.Reason = c.reason
			oe.Detail = c.detail
		}
		if c.scored {
			sc := c.score
			oe.Score = &sc
		}
		if ov := s.over[i]; ov.offer != nil {
			x := rs.Experiments[ov.exp]
			oe.Variant = x.ID + "/" + x.Variants[ov.variant].ID
		}
		if c.use > 0 && int(c.use) <= len(s.uses) {
			u := s.uses[c.use-1]
			oe.Learning = &u
		}
		ex.Offers[i] = oe
	}
	return ex
}
