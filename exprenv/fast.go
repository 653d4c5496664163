package exprenv

import (
	"cmp"
	"reflect"
	"time"

	"github.com/expr-lang/expr/ast"
)

// The fast path. Most conditions marketers write are comparisons of
// profile, cart and context fields with constants, joined by and/or/not,
// with segment tests and daysSince and its kin: `profile.ltv >= 1000`,
// `"vip" in segments && cart.total >= 200`, `daysSince(profile.last_order_at)
// <= 30`. Such a condition is also compiled to Go closures over fastEnv,
// which evaluate it without the VM. The closures mirror expr's semantics
// for the types they expect, and give up (ok false) on any other: Env then
// runs the compiled program, which gives the same answer or the error. A
// condition of another shape has no fast form.

// fastEnv is what a fast form reads: the decision time, the values of
// the ruleset's flat names (indexed as Layout.Flat) and whether each
// segment matched so far (indexed as the segments given to Finish).
type fastEnv struct {
	Now   time.Time
	Vals  []any
	Flags []bool
	// Item is the cart line of a discount's items filter, or of the
	// predicate of any/all/none over cart.items.
	Item *Item
	// Items are the cart's lines (cart.items).
	Items []Item
	// Vars are the numbers of Var, each set for the kind that reads it.
	Vars [numVars]float64
}

// fastCond evaluates a condition on e; ok is false when it cannot (a value
// of an unexpected type), and the program must be run instead.
type fastCond func(e *fastEnv) (v, ok bool)

// fastNum evaluates a number expression on e, as fastCond does.
type fastNum func(e *fastEnv) (v float64, ok bool)

type (
	boolFn func(*fastEnv) (bool, bool)
	numFn  func(*fastEnv) (float64, bool)
	intFn  func(*fastEnv) (int, bool)
	strFn  func(*fastEnv) (string, bool)
	timeFn func(*fastEnv) (time.Time, bool)
	anyFn  func(*fastEnv) (any, bool)
	listFn func(*fastEnv) ([]string, bool)
)

// fastCompiler turns a checked, patched and optimized syntax tree into
// closures; every method returns nil for a shape it does not know.
type fastCompiler struct {
	vals  map[string]int // flat name → index in Layout.Flat
	flags map[string]int // segment flag name → index among the segments
	// lineClosure: compiling the predicate of any/all/none over
	// cart.items, where `.field` is the line's (lines).
	lineClosure bool
}

var (
	typeTime  = reflect.TypeOf(time.Time{})
	typeSlice = reflect.TypeOf([]string{})
)

func (c *fastCompiler) cond(n ast.Node) fastCond {
	if f := c.boolean(n); f != nil {
		return fastCond(f)
	}
	return nil
}

func (c *fastCompiler) num(n ast.Node) fastNum {
	if f := c.number(n); f != nil {
		return fastNum(f)
	}
	return nil
}

// itemField is the field of `item.field`, or, in the predicate of
// any/all/none over cart.items (c.lineClosure), of `.field`; else "".
func (c *fastCompiler) itemField(n ast.Node) string {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Method {
		return ""
	}
	prop, isStr := m.Property.(*ast.StringNode)
	if !isStr {
		return ""
	}
	switch base := m.Node.(type) {
	case *ast.IdentifierNode:
		if base.Value == EnvItem && !c.lineClosure {
			return prop.Value
		}
	case *ast.PointerNode:
		if base.Name == "" && c.lineClosure {
			return prop.Value
		}
	}
	return ""
}

// cartItems is the flat name of cart.items, which Env does not fill: the
// fast path reads the lines from fastEnv.Items.
const cartItems = EnvCart + ".items"

// lines compiles any, all and none over cart.items with a predicate on
// the line's fields (`any(cart.items, .category == "shoes")`): the
// predicate reads each line as `item` is read in an items filter, and the
// walk stops where expr's does (any at the first true, all and none at
// the first that decides). A predicate without a fast form, or that
// nests another predicate, has none.
func (c *fastCompiler) lines(n *ast.BuiltinNode) boolFn {
	if len(n.Arguments) != 2 || c.lineClosure || n.Map != nil || n.Threshold != nil {
		return nil
	}
	id, ok := n.Arguments[0].(*ast.IdentifierNode)
	if !ok || id.Value != cartItems {
		return nil
	}
	cl, ok := n.Arguments[1].(*ast.PredicateNode)
	if !ok {
		return nil
	}
	var stop, result bool // a line whose predicate is stop ends the walk with result
	switch n.Name {
	case "any":
		stop, result = true, true
	case "all":
		stop, result = false, false
	case "none":
		stop, result = true, false
	default:
		return nil
	}
	c.lineClosure = true
	pred := c.boolean(cl.Node)
	c.lineClosure = false
	if pred == nil {
		return nil
	}
	return func(e *fastEnv) (bool, bool) {
		saved := e.Item
		for i := range e.Items {
			e.Item = &e.Items[i]
			v, ok := pred(e)
			if !ok || v == stop {
				e.Item = saved
				return result && ok, ok
			}
		}
		e.Item = saved
		return !result, true
	}
}

// flatIndex is the index in Vals of a flat name, or of a member read left
// as it is (a method's receiver), or -1.
func (c *fastCompiler) flatIndex(n ast.Node) int {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if i, ok := c.vals[n.Value]; ok {
			return i
		}
	case *ast.MemberNode:
		if scope, field, ok := flatMember(n); ok {
			if i, ok := c.vals[scope+"."+field]; ok {
				return i
			}
		}
	}
	return -1
}

// timeMethod compiles t.Month(), t.Day(), t.Year(), t.Weekday(), t.Hour()
// to their int value; they are only compared with one another.
func (c *fastCompiler) timeMethod(n ast.Node) intFn {
	call, ok := n.(*ast.CallNode)
	if !ok || len(call.Arguments) != 0 {
		return nil
	}
	m, ok := call.Callee.(*ast.MemberNode)
	if !ok || !m.Method {
		return nil
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return nil
	}
	t := c.timeValue(m.Node)
	if t == nil {
		return nil
	}
	var f func(time.Time) int
	switch prop.Value {
	case "Month":
		f = func(t time.Time) int { return int(t.Month()) }
	case "Day":
		f = func(t time.Time) int { return t.Day() }
	case "Year":
		f = func(t time.Time) int { return t.Year() }
	case "Weekday":
		f = func(t time.Time) int { return int(t.Weekday()) }
	case "Hour":
		f = func(t time.Time) int { return t.Hour() }
	default:
		return nil
	}
	return func(e *fastEnv) (int, bool) { v, ok := t(e); return f(v), ok }
}

func (c *fastCompiler) boolean(n ast.Node) boolFn {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*fastEnv) (bool, bool) { return v, true }
	case *ast.ConstantNode:
		if v, ok := n.Value.(bool); ok {
			return func(*fastEnv) (bool, bool) { return v, true }
		}
	case *ast.IdentifierNode:
		if i, ok := c.flags[n.Value]; ok {
			return func(e *fastEnv) (bool, bool) { return e.Flags[i], true }
		}
		if i, ok := c.vals[n.Value]; ok && kindOf(n) == reflect.Bool {
			return func(e *fastEnv) (bool, bool) { b, ok := e.Vals[i].(bool); return b, ok }
		}
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			if x := c.boolean(n.Node); x != nil {
				return func(e *fastEnv) (bool, bool) { v, ok := x(e); return !v, ok }
			}
		}
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.BuiltinNode:
		return c.lines(n)
	case *ast.CallNode:
		if m, ok := n.Callee.(*ast.MemberNode); ok && m.Method && len(n.Arguments) == 0 {
			if prop, ok := m.Property.(*ast.StringNode); ok && prop.Value == "IsZero" {
				if t := c.timeValue(m.Node); t != nil {
					return func(e *fastEnv) (bool, bool) { v, ok := t(e); return v.IsZero(), ok }
				}
			}
			return nil
		}
		return c.boolCall(n)
	}
	return nil
}

func (c *fastCompiler) binary(n *ast.BinaryNode) boolFn {
	switch n.Operator {
	case "&&", "and":
		l, r := c.boolean(n.Left), c.boolean(n.Right)
		if l == nil || r == nil {
			return nil
		}
		return func(e *fastEnv) (bool, bool) {
			v, ok := l(e)
			if !ok || !v {
				return false, ok
			}
			return r(e)
		}
	case "||", "or":
		l, r := c.boolean(n.Left), c.boolean(n.Right)
		if l == nil || r == nil {
			return nil
		}
		return func(e *fastEnv) (bool, bool) {
			v, ok := l(e)
			if !ok || v {
				return v, ok
			}
			return r(e)
		}
	case "==", "!=":
		f := c.equal(n.Left, n.Right)
		if f == nil {
			return nil
		}
		if n.Operator == "!=" {
			return func(e *fastEnv) (bool, bool) { v, ok := f(e); return !v, ok }
		}
		return f
	case "<", "<=", ">", ">=":
		return c.compare(n.Operator, n.Left, n.Right)
	case "in", "not in":
		f := c.in(n.Left, n.Right)
		if f == nil {
			return nil
		}
		if n.Operator == "not in" {
			return func(e *fastEnv) (bool, bool) { v, ok := f(e); return !v, ok }
		}
		return f
	}
	return nil
}

// equal compiles ==, as expr's runtime.Equal: numbers by value across int
// and float, strings and booleans by value, nil equal only to nil.
func (c *fastCompiler) equal(a, b ast.Node) boolFn {
	if a.Type() != nil && a.Type() == b.Type() {
		if lm, rm := c.timeMethod(a), c.timeMethod(b); lm != nil && rm != nil {
			return both(lm, rm, equals[int])
		}
	}
	if li, ri := c.integer(a), c.integer(b); li != nil && ri != nil {
		return both(li, ri, equals[int])
	}
	if ln, rn := c.number(a), c.number(b); ln != nil && rn != nil {
		return both(ln, rn, equals[float64])
	}
	if ls, rs := c.str(a), c.str(b); ls != nil && rs != nil {
		return both(ls, rs, equals[string])
	}
	if lb, rb := c.boolean(a), c.boolean(b); lb != nil && rb != nil {
		return both(lb, rb, equals[bool])
	}
	// a value of any type (a context field) against a constant
	if f := c.anyEqualsConst(a, b); f != nil {
		return f
	}
	return c.anyEqualsConst(b, a)
}

func (c *fastCompiler) anyEqualsConst(a, b ast.Node) boolFn {
	v := c.anyValue(a)
	if v == nil {
		return nil
	}
	switch k := b.(type) {
	case *ast.StringNode:
		s := k.Value
		return func(e *fastEnv) (bool, bool) {
			x, _ := v(e)
			switch x := x.(type) {
			case string:
				return x == s, true
			case nil, bool, float64, int, []any, map[string]any:
				return false, true
			}
			return false, false
		}
	case *ast.BoolNode:
		want := k.Value
		return func(e *fastEnv) (bool, bool) {
			x, _ := v(e)
			switch x := x.(type) {
			case bool:
				return x == want, true
			case nil, string, float64, int, []any, map[string]any:
				return false, true
			}
			return false, false
		}
	case *ast.NilNode:
		return func(e *fastEnv) (bool, bool) {
			x, _ := v(e)
			switch x.(type) { // a nil list or map equals nil too: the program says
			case nil:
				return true, true
			case bool, string, float64, int:
				return false, true
			}
			return false, false
		}
	case *ast.IntegerNode, *ast.FloatNode:
		num := c.number(b)
		intConst, isInt := b.(*ast.IntegerNode)
		return func(e *fastEnv) (bool, bool) {
			y, _ := num(e)
			x, _ := v(e)
			switch x := x.(type) {
			case float64:
				return x == y, true
			case int:
				if isInt { // int against int: exactly, as expr does
					return x == intConst.Value, true
				}
				return float64(x) == y, true
			case nil, bool, string, []any, map[string]any:
				return false, true
			}
			return false, false
		}
	}
	return nil
}

// compare compiles <, <=, >, >= on numbers (int against int exactly,
// otherwise as float64, as expr does) and on strings.
func (c *fastCompiler) compare(op string, a, b ast.Node) boolFn {
	if li, ri := c.integer(a), c.integer(b); li != nil && ri != nil {
		return both(li, ri, order[int](op))
	}
	if ln, rn := c.number(a), c.number(b); ln != nil && rn != nil {
		return both(ln, rn, order[float64](op))
	}
	if ls, rs := c.str(a), c.str(b); ls != nil && rs != nil {
		return both(ls, rs, order[string](op))
	}
	return nil
}

// both applies op to the values of l and r; ok when both are.
func both[T any](l, r func(*fastEnv) (T, bool), op func(x, y T) bool) boolFn {
	return func(e *fastEnv) (bool, bool) {
		x, ok1 := l(e)
		y, ok2 := r(e)
		return op(x, y), ok1 && ok2
	}
}

func equals[T comparable](x, y T) bool { return x == y }

// order is the comparison op (<, <=, >, >=).
func order[T cmp.Ordered](op string) func(x, y T) bool {
	switch op {
	case "<":
		return func(x, y T) bool { return x < y }
	case "<=":
		return func(x, y T) bool { return x <= y }
	case ">":
		return func(x, y T) bool { return x > y }
	}
	return func(x, y T) bool { return x >= y }
}

// in compiles `x in ["a", "b"]` (a string in a constant list, which the
// optimizer turns into a set) and `"a" in list` (a constant or string in
// a list of strings).
func (c *fastCompiler) in(a, b ast.Node) boolFn {
	s := c.str(a)
	if s == nil {
		return nil
	}
	switch r := b.(type) {
	case *ast.ConstantNode:
		set, ok := r.Value.(map[string]struct{})
		if !ok {
			return nil
		}
		strs := make(map[string]bool, len(set))
		for k := range set {
			strs[k] = true
		}
		return func(e *fastEnv) (bool, bool) { x, ok := s(e); return strs[x], ok }
	case *ast.ArrayNode:
		var strs []string
		for _, el := range r.Nodes {
			k, isStr := el.(*ast.StringNode)
			if !isStr {
				return nil
			}
			strs = append(strs, k.Value)
		}
		return func(e *fastEnv) (bool, bool) {
			x, ok := s(e)
			for _, y := range strs {
				if x == y {
					return true, ok
				}
			}
			return false, ok
		}
	}
	if l := c.list(b); l != nil {
		return func(e *fastEnv) (bool, bool) {
			x, ok1 := s(e)
			ys, ok2 := l(e)
			for _, y := range ys {
				if x == y {
					return true, ok1 && ok2
				}
			}
			return false, ok1 && ok2
		}
	}
	return nil
}

// kindOf is the static kind of a checked node.
func kindOf(n ast.Node) reflect.Kind {
	t := n.Type()
	if t == nil {
		return reflect.Invalid
	}
	return t.Kind()
}

func (c *fastCompiler) integer(n ast.Node) intFn {
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := n.Value
		return func(*fastEnv) (int, bool) { return v, true }
	case *ast.IdentifierNode:
		if i, ok := c.vals[n.Value]; ok && kindOf(n) == reflect.Int {
			return func(e *fastEnv) (int, bool) { v, ok := e.Vals[i].(int); return v, ok }
		}
	case *ast.UnaryNode:
		if n.Operator == "-" {
			if x := c.integer(n.Node); x != nil {
				return func(e *fastEnv) (int, bool) { v, ok := x(e); return -v, ok }
			}
		}
	case *ast.MemberNode:
		if c.itemField(n) == "quantity" {
			return func(e *fastEnv) (int, bool) {
				if e.Item == nil {
					return 0, false
				}
				return e.Item.Quantity, true
			}
		}
	}
	return nil
}

func (c *fastCompiler) number(n ast.Node) numFn {
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := float64(n.Value)
		return func(*fastEnv) (float64, bool) { return v, true }
	case *ast.FloatNode:
		v := n.Value
		return func(*fastEnv) (float64, bool) { return v, true }
	case *ast.UnaryNode:
		// an int is negated as an int by expr (it wraps at the minimum):
		// only float operands here, ints in integer()
		if n.Operator == "-" && kindOf(n.Node) == reflect.Float64 {
			if x := c.number(n.Node); x != nil {
				return func(e *fastEnv) (float64, bool) { v, ok := x(e); return -v, ok }
			}
		}
		if x := c.integer(n); x != nil {
			return func(e *fastEnv) (float64, bool) { v, ok := x(e); return float64(v), ok }
		}
	case *ast.MemberNode:
		switch c.itemField(n) {
		case "price":
			return func(e *fastEnv) (float64, bool) {
				if e.Item == nil {
					return 0, false
				}
				return e.Item.Price, true
			}
		case "quantity":
			return func(e *fastEnv) (float64, bool) {
				if e.Item == nil {
					return 0, false
				}
				return float64(e.Item.Quantity), true
			}
		}
	case *ast.BinaryNode:
		// float arithmetic only: an int result (int + int) wraps in expr
		if kindOf(n) != reflect.Float64 {
			return nil
		}
		l, r := c.number(n.Left), c.number(n.Right)
		if l == nil || r == nil {
			return nil
		}
		var f func(x, y float64) float64
		switch n.Operator {
		case "+":
			f = func(x, y float64) float64 { return x + y }
		case "-":
			f = func(x, y float64) float64 { return x - y }
		case "*":
			f = func(x, y float64) float64 { return x * y }
		case "/":
			f = func(x, y float64) float64 { return x / y }
		default:
			return nil
		}
		return func(e *fastEnv) (float64, bool) {
			x, ok1 := l(e)
			y, ok2 := r(e)
			return f(x, y), ok1 && ok2
		}
	case *ast.IdentifierNode:
		for v := range vars {
			if vars[v].name == n.Value {
				return func(e *fastEnv) (float64, bool) { return e.Vars[v], true }
			}
		}
		i, ok := c.vals[n.Value]
		if !ok {
			return nil
		}
		switch kindOf(n) {
		case reflect.Float64, reflect.Int:
			return func(e *fastEnv) (float64, bool) {
				switch v := e.Vals[i].(type) {
				case float64:
					return v, true
				case int:
					return float64(v), true
				}
				return 0, false
			}
		}
	case *ast.CallNode:
		return c.numCall(n)
	case *ast.BuiltinNode:
		return c.minMax(n)
	}
	return nil
}

// minMax compiles min(a, b, ...) and max(a, b, ...) of numbers as expr's
// builtins compute them: the first argument, replaced by each later one
// that is less (greater), so a NaN is kept only when it comes first.
func (c *fastCompiler) minMax(n *ast.BuiltinNode) numFn {
	if (n.Name != "min" && n.Name != "max") || len(n.Arguments) < 2 {
		return nil
	}
	args := make([]numFn, len(n.Arguments))
	for i, a := range n.Arguments {
		if args[i] = c.number(a); args[i] == nil {
			return nil
		}
	}
	isMin := n.Name == "min"
	return func(e *fastEnv) (float64, bool) {
		best, ok := args[0](e)
		for _, f := range args[1:] {
			v, vok := f(e)
			ok = ok && vok
			if isMin && v < best || !isMin && v > best {
				best = v
			}
		}
		return best, ok
	}
}

func (c *fastCompiler) str(n ast.Node) strFn {
	switch n := n.(type) {
	case *ast.StringNode:
		v := n.Value
		return func(*fastEnv) (string, bool) { return v, true }
	case *ast.IdentifierNode:
		if i, ok := c.vals[n.Value]; ok && kindOf(n) == reflect.String {
			return func(e *fastEnv) (string, bool) { v, ok := e.Vals[i].(string); return v, ok }
		}
	case *ast.MemberNode:
		switch c.itemField(n) {
		case "sku":
			return func(e *fastEnv) (string, bool) {
				if e.Item == nil {
					return "", false
				}
				return e.Item.SKU, true
			}
		case "category":
			return func(e *fastEnv) (string, bool) {
				if e.Item == nil {
					return "", false
				}
				return e.Item.Category, true
			}
		}
	}
	return nil
}

func (c *fastCompiler) timeValue(n ast.Node) timeFn {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if n.Value == EnvNow {
			return func(e *fastEnv) (time.Time, bool) { return e.Now, true }
		}
		// an argument of a custom function is typed as its parameter
		// (any): the value's own type is checked here
		if i, ok := c.vals[n.Value]; ok && (n.Type() == typeTime || kindOf(n) == reflect.Interface) {
			return func(e *fastEnv) (time.Time, bool) { v, ok := e.Vals[i].(time.Time); return v, ok }
		}
	case *ast.MemberNode: // a method's receiver, left unflattened
		if i := c.flatIndex(n); i >= 0 && n.Type() == typeTime {
			return func(e *fastEnv) (time.Time, bool) { v, ok := e.Vals[i].(time.Time); return v, ok }
		}
	}
	return nil
}

func (c *fastCompiler) list(n ast.Node) listFn {
	if c.itemField(n) == "tags" {
		return func(e *fastEnv) ([]string, bool) {
			if e.Item == nil {
				return nil, false
			}
			return e.Item.Tags, true
		}
	}
	if id, ok := n.(*ast.IdentifierNode); ok {
		if i, ok := c.vals[id.Value]; ok && id.Type() == typeSlice {
			return func(e *fastEnv) ([]string, bool) { v, ok := e.Vals[i].([]string); return v, ok }
		}
	}
	return nil
}

// anyValue reads a flat name of any type (a context field).
func (c *fastCompiler) anyValue(n ast.Node) anyFn {
	if id, ok := n.(*ast.IdentifierNode); ok {
		if i, ok := c.vals[id.Value]; ok && kindOf(id) == reflect.Interface {
			return func(e *fastEnv) (any, bool) { return e.Vals[i], true }
		}
	}
	return nil
}

// callee is the name of a called custom function with its arguments, the
// hidden now first (nowPatcher).
func callee(n *ast.CallNode) string {
	if id, ok := n.Callee.(*ast.IdentifierNode); ok {
		return id.Value
	}
	return ""
}

func (c *fastCompiler) numCall(n *ast.CallNode) numFn {
	if f := c.totalBase(n); f != nil {
		return f
	}
	name := callee(n)
	if (name != "daysSince" && name != "hoursSince" && name != "daysUntil") || len(n.Arguments) != 2 {
		return nil
	}
	now, t := c.timeValue(n.Arguments[0]), c.timeValue(n.Arguments[1])
	if now == nil || t == nil {
		return nil
	}
	var f func(now, t time.Time) float64
	switch name {
	case "daysSince":
		f = func(now, t time.Time) float64 { return now.Sub(t).Hours() / 24 }
	case "hoursSince":
		f = func(now, t time.Time) float64 { return now.Sub(t).Hours() }
	default:
		f = func(now, t time.Time) float64 { return t.Sub(now).Hours() / 24 }
	}
	return func(e *fastEnv) (float64, bool) {
		x, ok1 := now(e)
		y, ok2 := t(e)
		return f(x, y), ok1 && ok2
	}
}

func (c *fastCompiler) boolCall(n *ast.CallNode) boolFn {
	if callee(n) != "anniversaryWithin" || len(n.Arguments) != 3 {
		return nil
	}
	now, t, days := c.timeValue(n.Arguments[0]), c.timeValue(n.Arguments[1]), c.number(n.Arguments[2])
	if now == nil || t == nil || days == nil {
		return nil
	}
	return func(e *fastEnv) (bool, bool) {
		x, ok1 := now(e)
		y, ok2 := t(e)
		d, ok3 := days(e)
		return anniversaryWithin(x, y, d), ok1 && ok2 && ok3
	}
}
