package engine

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/arbiterhq/arbiter/rules"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// scratch is the per-decision working memory, pooled by the Engine so that
// a decision allocates little: the expression environment and its maps,
// the expr VM, the candidates, the plan. Nothing in it outlives Decide:
// the Decision is built from fresh copies.
type scratch struct {
	vm   vm.VM
	fast rules.FastEnv

	env       map[string]any
	cart      map[string]any
	ctx       map[string]any
	itemMaps  []map[string]any
	itemsAny  []any
	fastItems []rules.FastItem

	items     []Item
	itemCount int
	exp       int8
	rs        *rules.Ruleset
	req       *Request
	envReady  bool // the VM's environment is filled (fillEnv)
	curItem   int  // the cart line of an items filter, or -1
	scoring   bool // a score is evaluated: the VM needs `priority`
	currency  string
	cartTotal int64
	profile   *Profile

	segs      []string
	segsDirty bool
	segStates []segState

	cands   []cand
	over    []override
	order   []int32
	match   []bool
	weights []int64
	wbuf    []int64
	split   []int64
	sorter  lineSorter
	plan    Plan
	results []Result
	buf     []byte
}

type segState struct {
	matched bool
	err     string
}

// override is the variant offer that replaces a base offer for this
// customer: the first experiment (in ruleset order) that overrides it.
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
	wOff         int // the discount's per-line weights in scratch.wbuf
}

func newScratch() *scratch {
	return &scratch{
		env:  make(map[string]any, 8),
		cart: make(map[string]any, 4),
		ctx:  make(map[string]any, 8),
	}
}

// begin fills the fast path's environment for one decision; the VM's
// maps are filled only when a program needs them (fillEnv).
func (s *scratch) begin(rs *rules.Ruleset, p *Profile, req *Request) {
	exp, ok := CurrencyExp(req.Cart.Currency)
	if !ok {
		exp = 2
	}
	s.exp = exp
	s.currency = req.Cart.Currency
	s.items = req.Cart.Items
	s.profile = p
	s.rs, s.req = rs, req
	s.envReady = false
	s.curItem = -1

	var total int64
	count := 0
	s.fastItems = resize(s.fastItems, len(s.items))
	for i := range s.items {
		it := &s.items[i]
		total = addSat(total, lineValue(it))
		count += it.Quantity
		s.fastItems[i] = rules.FastItem{SKU: it.SKU, Category: it.Category, Price: Money{Minor: it.Price, Exp: exp}.Major(),
			Quantity: it.Quantity, Tags: it.Tags}
	}
	s.cartTotal = total
	s.itemCount = count

	s.fast.Now = req.Now
	s.fast.Vals = resize(s.fast.Vals, len(rs.Flat))
	s.fast.Flags = resize(s.fast.Flags, len(rs.Segments))
	for i := range rs.Flat {
		f := &rs.Flat[i]
		var v any
		ok := true
		switch f.Scope {
		case rules.EnvProfile:
			switch f.Field {
			case "id":
				v = p.ID
			case "known":
				v = p.Known
			default:
				v, ok = p.Attrs[f.Field]
			}
		case rules.EnvCart:
			switch f.Field {
			case "total":
				v = Money{Minor: total, Exp: exp}.Major()
			case "currency":
				v = req.Cart.Currency
			case "item_count":
				v = count
			default:
				ok = false // items: a list of maps, only for the VM (fillEnv)
			}
		case rules.EnvCtx:
			switch f.Field {
			case "placement":
				v = req.Placement
			case "channel":
				v = req.Channel
			default:
				v, ok = req.Context[f.Field]
			}
		}
		if ok {
			s.fast.Vals[i] = v
		}
	}
	s.segs = s.segs[:0]
	s.segsDirty = false

	s.segStates = resize(s.segStates, len(rs.Segments))
	s.cands = resize(s.cands, len(rs.Offers))
	s.over = resize(s.over, len(rs.Offers))
	s.wbuf = s.wbuf[:0]
}

// fillEnv fills the VM's environment (rules/env.go), on the first program
// of the decision that the fast path cannot answer.
func (s *scratch) fillEnv() {
	if s.envReady {
		return
	}
	s.envReady = true
	rs, req, p := s.rs, s.req, s.profile
	for len(s.itemMaps) < len(s.items) {
		s.itemMaps = append(s.itemMaps, make(map[string]any, 5))
	}
	s.itemsAny = s.itemsAny[:0]
	for i := range s.fastItems {
		it := &s.fastItems[i]
		m := s.itemMaps[i]
		m["sku"] = it.SKU
		m["category"] = it.Category
		m["price"] = it.Price
		m["quantity"] = it.Quantity
		m["tags"] = it.Tags // a nil list boxes without allocating
		s.itemsAny = append(s.itemsAny, m)
	}
	s.cart["total"] = Money{Minor: s.cartTotal, Exp: s.exp}.Major()
	s.cart["currency"] = req.Cart.Currency
	s.cart["item_count"] = s.itemCount
	s.cart["items"] = s.itemsAny
	for k, v := range req.Context {
		s.ctx[k] = v
	}
	s.ctx["placement"] = req.Placement
	s.ctx["channel"] = req.Channel

	attrs := p.Attrs
	if rs.ReadsProfile && !p.Known && p.ID != "" {
		// the shared defaults of a profile that is not stored say id ""
		attrs = maps.Clone(attrs)
		attrs["id"] = p.ID
	}
	s.env[rules.EnvProfile] = attrs
	s.env[rules.EnvCart] = s.cart
	s.env[rules.EnvCtx] = s.ctx
	s.env[rules.EnvNow] = req.Now
	for i := range rs.Flat {
		f := &rs.Flat[i]
		if f.Scope == rules.EnvCart && f.Field == "items" {
			s.env[f.Key] = s.itemsAny // the one value begin leaves out
		} else {
			s.env[f.Key] = s.fast.Vals[i] // nil when missing: read as nil all the same
		}
	}
	for i, seg := range rs.Segments {
		if seg.Flag != "" && s.fast.Flags[i] {
			s.env[seg.Flag] = true
		}
	}
	s.segsDirty = rs.ReadsSegments
	s.syncSegments()
}

// endItems ends an items filter: no cart line is current any more. The
// VM's environment is touched only when a program filled it.
func (s *scratch) endItems() {
	s.curItem, s.fast.Item = -1, nil
	if s.envReady {
		delete(s.env, rules.EnvItem)
	}
}

// endScore ends a score's evaluation, as endItems does a filter's.
func (s *scratch) endScore() {
	s.scoring = false
	if s.envReady {
		delete(s.env, rules.EnvPriority)
	}
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

// end drops every reference into the request, the profile and the
// ruleset, so that the pooled scratch keeps nothing alive.
func (s *scratch) end() {
	clear(s.env)
	clear(s.fast.Vals)
	clear(s.fastItems)
	clear(s.ctx)
	clear(s.cart)
	for _, m := range s.itemMaps {
		clear(m)
	}
	clear(s.itemsAny)
	s.itemsAny = s.itemsAny[:0]
	s.items = nil
	s.profile = nil
	s.rs, s.req = nil, nil
	clear(s.segs)
	clear(s.cands)
	clear(s.over)
	clear(s.segStates)
	s.plan.Items = s.plan.Items[:0]
	s.sorter.items = nil
	s.sorter.weights = nil
	s.currency = ""
}

// syncSegments makes `segments` hold the segments matched so far, when a
// program reads it as a list (most read only the flags) and the VM's
// environment is in use.
func (s *scratch) syncSegments() {
	if s.segsDirty && s.envReady {
		s.env[rules.EnvSegments] = s.segs[:len(s.segs):len(s.segs)]
		s.segsDirty = false
	}
}

func (s *scratch) matchedSegment(id string) bool {
	for _, m := range s.segs {
		if m == id {
			return true
		}
	}
	return false
}

// segmentOK: any of the offer's segments (or none listed), none of its
// excluded segments.
func (s *scratch) segmentOK(o *rules.Offer) bool {
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

// errResultType is a program that returned an unexpected type.
var errResultType = errors.New("unexpected result type")

// cond runs a condition.
func (s *scratch) cond(e *rules.Expr) (bool, error) {
	if e == nil || e.Program == nil {
		return false, errors.New("expression not compiled")
	}
	if e.Fast != nil {
		if v, ok := e.Fast(&s.fast); ok {
			return v, nil
		}
	}
	s.fillEnv()
	if s.curItem >= 0 {
		s.env[rules.EnvItem] = s.itemMaps[s.curItem]
	}
	v, err := s.vm.Run(e.Program, s.env)
	if err != nil {
		return false, err
	}
	switch b := v.(type) {
	case bool:
		return b, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("%w %T, want a bool", errResultType, v)
}

// number runs a number expression.
func (s *scratch) number(e *rules.Expr) (float64, error) {
	if e == nil || e.Program == nil {
		return 0, errors.New("expression not compiled")
	}
	if e.FastNum != nil {
		if v, ok := e.FastNum(&s.fast); ok {
			return v, nil
		}
	}
	s.fillEnv()
	if s.scoring {
		s.env[rules.EnvPriority] = s.fast.Priority
	}
	v, err := s.vm.Run(e.Program, s.env)
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case float32:
		return float64(n), nil
	}
	return 0, fmt.Errorf("%w %T, want a number", errResultType, v)
}

// exprError is the explain text of a run-time error: where the
// expression is written, and what went wrong.
func exprError(e *rules.Expr, err error) string {
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	if e == nil || e.Pos.File == "" {
		return msg
	}
	return e.Pos.File + ":" + strconv.Itoa(e.Pos.Line) + ":" + strconv.Itoa(e.Pos.Col) + ": " + msg
}

// render fills a title or message.
func (s *scratch) render(t *rules.Template, c *cand) string {
	if len(t.Parts) == 0 {
		return t.Source
	}
	if len(t.Parts) == 1 && t.Parts[0].Var == "" {
		return t.Parts[0].Literal
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
				b = appendValue(b, s.profile.Attrs[field])
			}
		}
	}
	s.buf = b
	return string(b)
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
		ex.Offers[i] = oe
	}
	return ex
}
