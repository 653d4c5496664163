package exprenv

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Input is what one decision gives its expressions. Money is in major
// units of the cart's currency.
type Input struct {
	// Now is the decision's time.
	Now time.Time
	// ProfileID and Known are profile.id and profile.known. Attrs holds
	// the other fields of profile (and may hold "id" and "known" too):
	// for a customer without a stored profile, the schema's shared
	// defaults, whose "id" is "" (Env gives the programs that read
	// profile whole a copy with ProfileID).
	ProfileID string
	Known     bool
	Attrs     map[string]any
	// Values, when not nil, holds the profile's fields instead of Attrs:
	// Values[i] is the field named ValueNames[i], and ValueAt[k] is the
	// index in Values of the k-th of the layout's flat names (Layout.Flat),
	// or -1 where that name is not one of them (rules.Ruleset.ProfileAt).
	Values     []any
	ValueNames []string
	ValueAt    []int32
	// The cart: total, currency, item_count (the sum of quantities) and
	// its lines.
	Total     float64
	Currency  string
	ItemCount int
	Items     []Item
	// TotalBase is cart.total_base, the total in the ruleset's currency
	// (major units), when HasTotalBase; without it (the cart's currency
	// has no rate), reading cart.total_base is an error (ErrNoRate).
	TotalBase    float64
	HasTotalBase bool
	// ctx: Placement, Channel and the request's Context.
	Placement string
	Channel   string
	Context   map[string]any
}

// Item is a cart line as `item` shows it.
type Item struct {
	SKU, Category string
	Price         float64 // major units
	Quantity      int
	Tags          []string
}

// Env is the environment of one decision: it evaluates the ruleset's
// conditions and numbers on the fast path, and fills the VM's maps only
// when a program needs them. Its zero value is ready; reuse it (Begin,
// End) so that a decision allocates little. It is not safe for concurrent
// use, and does no I/O.
type Env struct {
	vm     vm.VM
	fast   fastEnv
	layout *Layout
	in     Input
	ready  bool // the VM's environment is filled (fill)
	item   int  // the cart line of an items filter, or -1

	segs      []string
	segsDirty bool

	env      map[string]any
	cart     map[string]any
	ctx      map[string]any
	profile  map[string]any // `profile` for the VM, from Input.Values
	itemMaps []map[string]any
	itemsAny []any

	boxes stringBoxes // placement, channel and currency, boxed
}

// Begin starts a decision under the layout of a ruleset (from Finish):
// it fills the fast path's environment from in; the VM's maps are filled
// only when a program needs them.
func (e *Env) Begin(l *Layout, in *Input) {
	if e.env == nil {
		e.env = make(map[string]any, 8)
		e.cart = make(map[string]any, 4)
		e.ctx = make(map[string]any, 8)
	}
	e.layout = l
	e.in = *in
	e.ready = false
	e.item = -1
	e.segs = e.segs[:0]
	e.segsDirty = false

	flat := l.Flat()
	e.fast.Now = in.Now
	e.fast.Item = nil
	e.fast.Items = in.Items
	e.fast.Vars = [numVars]float64{}
	e.fast.Vals = resize(e.fast.Vals, len(flat))
	var nSegs int
	if l != nil {
		nSegs = len(l.flags)
	}
	e.fast.Flags = resize(e.fast.Flags, nSegs)
	for i := range flat {
		f := &flat[i]
		var v any
		ok := true
		switch f.Scope {
		case EnvProfile:
			switch f.Field {
			case "id":
				v = in.ProfileID
			case "known":
				v = in.Known
			default:
				if in.Values != nil {
					if j := in.ValueAt[i]; j >= 0 {
						v = in.Values[j]
					} else {
						ok = false
					}
				} else {
					v, ok = in.Attrs[f.Field]
				}
			}
		case EnvCart:
			ok = false // items: a list of maps, only for the VM (fill)
			for _, cf := range cartFields {
				if cf.name == f.Field && cf.get != nil {
					if f.Field == "currency" {
						v, ok = e.boxes.box(in.Currency), true
					} else {
						v, ok = cf.get(in), true
					}
					break
				}
			}
		case EnvCtx:
			switch f.Field {
			case "placement":
				v = e.boxes.box(in.Placement)
			case "channel":
				v = e.boxes.box(in.Channel)
			default:
				v, ok = in.Context[f.Field]
			}
		}
		if ok {
			e.fast.Vals[i] = v
		}
	}
}

// End drops every reference into the decision's input, so that a pooled
// Env keeps nothing alive.
func (e *Env) End() {
	clear(e.env)
	clear(e.fast.Vals)
	e.fast.Item = nil
	e.fast.Items = nil
	clear(e.ctx)
	clear(e.cart)
	clear(e.profile)
	for _, m := range e.itemMaps {
		clear(m)
	}
	clear(e.itemsAny)
	e.itemsAny = e.itemsAny[:0]
	clear(e.segs)
	e.segs = e.segs[:0]
	e.in = Input{}
	e.layout = nil
}

// fill fills the VM's environment (env.go), on the first program of the
// decision that the fast path cannot answer.
func (e *Env) fill() {
	if e.ready {
		return
	}
	e.ready = true
	l, in := e.layout, &e.in
	for len(e.itemMaps) < len(in.Items) {
		e.itemMaps = append(e.itemMaps, make(map[string]any, 5))
	}
	e.itemsAny = e.itemsAny[:0]
	for i := range in.Items {
		it := &in.Items[i]
		m := e.itemMaps[i]
		m["sku"] = it.SKU
		m["category"] = it.Category
		m["price"] = it.Price
		m["quantity"] = it.Quantity
		m["tags"] = it.Tags // a nil list boxes without allocating
		e.itemsAny = append(e.itemsAny, m)
	}
	for _, cf := range cartFields {
		if cf.get != nil {
			e.cart[cf.name] = cf.get(in)
		}
	}
	e.cart["items"] = e.itemsAny
	for k, v := range in.Context {
		e.ctx[k] = v
	}
	e.ctx["placement"] = in.Placement
	e.ctx["channel"] = in.Channel

	attrs := in.Attrs
	if in.Values != nil {
		if e.profile == nil {
			e.profile = make(map[string]any, len(in.Values)+2)
		}
		for i, name := range in.ValueNames {
			e.profile[name] = in.Values[i]
		}
		e.profile["id"] = in.ProfileID
		e.profile["known"] = in.Known
		attrs = e.profile
	} else if l.ReadsProfile() && !in.Known && in.ProfileID != "" {
		// the shared defaults of a profile that is not stored say id ""
		attrs = maps.Clone(attrs)
		attrs["id"] = in.ProfileID
	}
	e.env[EnvProfile] = attrs
	e.env[EnvCart] = e.cart
	e.env[EnvCtx] = e.ctx
	e.env[EnvNow] = in.Now
	for i, f := range l.Flat() {
		if f.Scope == EnvCart && f.Field == "items" {
			e.env[f.Key] = e.itemsAny // the one value Begin leaves out
		} else {
			e.env[f.Key] = e.fast.Vals[i] // nil when missing: read as nil all the same
		}
	}
	if l != nil {
		for i, flag := range l.flags {
			if flag != "" && e.fast.Flags[i] {
				e.env[flag] = true
			}
		}
	}
	e.segsDirty = l.ReadsSegments()
	e.syncSegments()
}

// syncSegments makes `segments` hold the segments matched so far, when a
// program reads it as a list (most read only the flags) and the VM's
// environment is in use.
func (e *Env) syncSegments() {
	if e.segsDirty && e.ready {
		e.env[EnvSegments] = e.segs[:len(e.segs):len(e.segs)]
		e.segsDirty = false
	}
}

// Match records that segment i (in the order given to Finish), whose id
// is id, matched: later expressions see it in `segments`.
func (e *Env) Match(i int, id string) {
	e.segs = append(e.segs, id)
	e.segsDirty = e.layout.ReadsSegments()
	if i >= 0 && i < len(e.fast.Flags) {
		e.fast.Flags[i] = true
		if flag := e.layout.flags[i]; flag != "" && e.ready {
			e.env[flag] = true
		}
	}
}

// Segments lists the ids of the segments matched so far, in the order of
// Match. The slice is the Env's: copy it to keep it.
func (e *Env) Segments() []string { return e.segs }

// SetItem makes cart line i (of Input.Items) the `item` of the items
// filters evaluated next.
func (e *Env) SetItem(i int) {
	if i < 0 || i >= len(e.in.Items) {
		e.item, e.fast.Item = -1, nil
		return
	}
	e.item, e.fast.Item = i, &e.in.Items[i]
}

// SetVar sets a number that the expressions of one kind read (the
// offer's priority, for its score) before they are evaluated.
func (e *Env) SetVar(v Var, x float64) {
	if v >= 0 && v < numVars {
		e.fast.Vars[v] = x
	}
}

var (
	errNotCompiled = errors.New("expression not compiled")
	// errResultType is a program that returned an unexpected type.
	errResultType = errors.New("unexpected result type")
)

// Cond evaluates a condition (KindCond, KindItems).
func (e *Env) Cond(x *Expr) (bool, error) {
	if x == nil || x.prog == nil {
		return false, errNotCompiled
	}
	if x.cond != nil {
		if v, ok := x.cond(&e.fast); ok {
			return v, nil
		}
	}
	v, err := e.run(x)
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

// Number evaluates a number expression (KindNumber, KindScore).
func (e *Env) Number(x *Expr) (float64, error) {
	if x == nil || x.prog == nil {
		return 0, errNotCompiled
	}
	if x.num != nil {
		if v, ok := x.num(&e.fast); ok {
			return v, nil
		}
	}
	v, err := e.run(x)
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

// run runs x's program on the VM, with the names of its kind (item, the
// vars) in the environment for that run only.
func (e *Env) run(x *Expr) (any, error) {
	e.fill()
	e.syncSegments()
	item := x.kind == KindItems && e.item >= 0
	if item {
		e.env[EnvItem] = e.itemMaps[e.item]
	}
	for v := range vars {
		if vars[v].kind == x.kind {
			e.env[vars[v].name] = e.fast.Vars[v]
		}
	}
	out, err := e.vm.Run(x.prog, e.env)
	if item {
		delete(e.env, EnvItem)
	}
	for v := range vars {
		if vars[v].kind == x.kind {
			delete(e.env, vars[v].name)
		}
	}
	return out, err
}

// Message is the text of an evaluation error, without expr's excerpt of
// the source.
func Message(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
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
