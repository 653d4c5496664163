package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Limits on expressions, checked at load (documented in docs/rules.md).
const (
	// MaxExprLen is the longest expression source, in bytes.
	MaxExprLen = 2000
	// MaxExprNodes is the most syntax nodes an expression may have.
	MaxExprNodes = 300
	// MaxPredicateDepth bounds the nesting of collection functions with a
	// predicate (all, any, none, one, filter, map, count, sum, find, ...).
	MaxPredicateDepth = 2
	// MaxRangeLen bounds a range a..b; its ends must be constants.
	MaxRangeLen = 1000
	// TrialItems is the number of cart items (and list entries) of the
	// synthetic environment every expression is tried on at load.
	TrialItems = 200
	// TrialMemoryBudget is the expr VM memory budget of that trial run.
	TrialMemoryBudget = 250_000
	// TrialTimeLimit is how long the trial run of one expression may take.
	TrialTimeLimit = 500 * time.Millisecond
)

// exprKind is what an expression must produce and what it may read.
type exprKind int

const (
	kindCond   exprKind = iota // bool
	kindNumber                 // a number
	kindItems                  // bool, with item in scope
	kindScore                  // a number, with priority in scope
	numKinds
)

// EnvPriority is the offer's priority (float64), in score expressions only.
const EnvPriority = "priority"

var (
	itemType = types.Map{
		"sku":      types.String,
		"category": types.String,
		"price":    types.Float64,
		"quantity": types.Int,
		"tags":     types.TypeOf([]string{}),
	}
	cartType = types.Map{
		"total":      types.Float64,
		"currency":   types.String,
		"item_count": types.Int,
		"items":      types.Array(itemType),
	}
	ctxType = types.Map{
		"placement": types.String,
		"channel":   types.String,
		types.Extra: types.Any,
	}
)

func fieldsOf(m types.Map) []string {
	var out []string
	for k := range m {
		if k != types.Extra {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// goType is the expr type of a profile field type.
func goType(t Type) types.Type {
	switch t {
	case TypeString:
		return types.String
	case TypeInt:
		return types.Int
	case TypeNumber:
		return types.Float64
	case TypeBool:
		return types.Bool
	case TypeTime:
		return types.TypeOf(time.Time{})
	case TypeStringList:
		return types.TypeOf([]string{})
	case TypeNumberList:
		return types.TypeOf([]float64{})
	}
	return types.Any
}

// compiled is an expression with what the loader needs to know about it.
type compiled struct {
	e *Expr
	// refs are the segment ids named by string literals in an expression
	// that reads `segments`: the segments it depends on.
	refs []string
}

type cacheKey struct {
	kind exprKind
	src  string
	pos  Pos
}

// exprCompiler compiles every expression of one load against the typed
// environment built from the schema.
type exprCompiler struct {
	l      *loader
	schema *Schema
	segSet map[string]bool
	segIDs []string
	tz     *tzCache
	envs   [numKinds]types.Map
	opts   [numKinds][]expr.Option
	// check holds the options of a first, type-checking compile in which
	// the custom functions have the signatures the user writes (without
	// the hidden now), so that argument errors speak of the user's
	// arguments and none is hidden by the patch.
	check [numKinds][]expr.Option
	trial [numKinds]map[string]any
	cache map[cacheKey]*compiled
	now   time.Time

	// What the compiled programs read through flat names (flat.go).
	flat          map[string]FlatRef
	flagged       map[string]bool
	wholeSegments bool
	wholeProfile  bool
	// conds and nums are the compiled conditions and number expressions,
	// given a fast form at the end.
	conds, nums []*Expr
}

func newExprCompiler(l *loader, schema *Schema, segIDs []string, tz *tzCache) *exprCompiler {
	c := &exprCompiler{l: l, schema: schema, tz: tz, segSet: map[string]bool{}, cache: map[cacheKey]*compiled{},
		flat: map[string]FlatRef{}, flagged: map[string]bool{}}
	c.segIDs = append([]string(nil), segIDs...)
	sort.Strings(c.segIDs)
	for _, s := range segIDs {
		c.segSet[s] = true
	}
	profile := types.Map{"id": types.String, "known": types.Bool}
	for _, f := range schema.Fields {
		profile[f.Name] = goType(f.Type)
	}
	base := func() types.Map {
		return types.Map{
			EnvProfile:  profile,
			EnvCart:     cartType,
			EnvCtx:      ctxType,
			EnvNow:      types.TypeOf(time.Time{}),
			EnvSegments: types.TypeOf([]string{}),
		}
	}
	for k := range c.envs {
		c.envs[k] = base()
	}
	c.envs[kindItems][EnvItem] = itemType
	c.envs[kindScore][EnvPriority] = types.Float64
	funcs := funcOptions(tz)
	for k := range c.opts {
		o := []expr.Option{expr.Env(c.envs[k]), expr.DisableBuiltin("now"), expr.MaxNodes(MaxExprNodes)}
		o = append(o, funcs...)
		switch exprKind(k) {
		case kindCond, kindItems:
			o = append(o, expr.AsBool())
		default:
			o = append(o, expr.AsFloat64())
		}
		c.opts[k] = o
		ch := []expr.Option{expr.Env(c.envs[k]), expr.DisableBuiltin("now"), expr.MaxNodes(MaxExprNodes)}
		ch = append(ch, userFuncOptions()...)
		ch = append(ch, o[len(o)-1]) // AsBool or AsFloat64
		c.check[k] = ch
	}
	c.now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	c.buildTrial()
	return c
}

// buildTrial makes the synthetic environment of the load-time trial run:
// a cart of TrialItems items, profile lists of TrialItems entries, every
// segment matched.
func (c *exprCompiler) buildTrial() {
	tags := make([]string, 10)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag%d", i)
	}
	items := make([]any, TrialItems)
	for i := range items {
		items[i] = map[string]any{"sku": fmt.Sprintf("SKU-%d", i), "category": "cat", "price": 10.5, "quantity": 2, "tags": tags}
	}
	strs := make([]string, TrialItems)
	nums := make([]float64, TrialItems)
	for i := range strs {
		strs[i] = fmt.Sprintf("v%d", i)
		nums[i] = float64(i)
	}
	profile := map[string]any{"id": "trial", "known": true}
	for _, f := range c.schema.Fields {
		switch f.Type {
		case TypeString:
			profile[f.Name] = "trial-value"
		case TypeInt:
			profile[f.Name] = 1000
		case TypeNumber:
			profile[f.Name] = 1000.5
		case TypeBool:
			profile[f.Name] = true
		case TypeTime:
			profile[f.Name] = c.now.AddDate(-1, 0, -3)
		case TypeStringList:
			profile[f.Name] = strs
		case TypeNumberList:
			profile[f.Name] = nums
		}
	}
	ctx := map[string]any{"placement": "checkout", "channel": "web"}
	for i := 0; i < 20; i++ {
		ctx[fmt.Sprintf("k%d", i)] = strs
	}
	for k := range c.trial {
		env := map[string]any{
			EnvProfile:  profile,
			EnvCart:     map[string]any{"total": 4200.0, "currency": "USD", "item_count": 2 * TrialItems, "items": items},
			EnvCtx:      ctx,
			EnvNow:      c.now,
			EnvSegments: c.segIDs,
		}
		if exprKind(k) == kindItems {
			env[EnvItem] = items[0]
		}
		if exprKind(k) == kindScore {
			env[EnvPriority] = 50.0
		}
		FlatEnv(env) // every segment is in the list
		c.trial[k] = env
	}
}

// shorten quotes an expression for a message.
func shorten(src string) string {
	src = strings.Join(strings.Fields(src), " ")
	if utf8.RuneCountInString(src) > 60 {
		r := []rune(src)
		src = string(r[:57]) + "..."
	}
	return "`" + src + "`"
}

// at maps a rune offset in the expression of node n to the file.
func (c *exprCompiler) at(n *yaml.Node, off int) Pos {
	f := c.l.nodeFile[n]
	if f == nil {
		return c.l.pos(n)
	}
	p := f.scalarPos(n, off)
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Col < 1 {
		p.Col = 1
	}
	return p
}

// compile compiles the expression in scalar n; what names it in messages.
// It returns nil (with the errors recorded) when it does not compile.
func (c *exprCompiler) compile(n *yaml.Node, kind exprKind, what string) *compiled {
	n = c.l.deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		c.l.errf(n, "write an expression like `cart.total >= 50`", "%s must be an expression, got %s", what, describe(n))
		return nil
	}
	src := n.Value
	key := cacheKey{kind, src, c.l.pos(n)}
	if r, ok := c.cache[key]; ok {
		return r
	}
	r := c.compileNew(n, kind, what, src)
	c.cache[key] = r
	return r
}

func (c *exprCompiler) compileNew(n *yaml.Node, kind exprKind, what, src string) *compiled {
	start := c.l.pos(n)
	if strings.TrimSpace(src) == "" {
		c.l.errAt(start, "write an expression like `cart.total >= 50`", "%s is empty", what)
		return nil
	}
	if len(src) > MaxExprLen {
		c.l.errAt(start, "split it: move parts into segments and use `\"id\" in segments`",
			"%s is %d characters long, more than the limit of %d", what, len(src), MaxExprLen)
		return nil
	}
	tree, err := parser.Parse(src)
	if err != nil {
		c.exprError(n, kind, what, src, err)
		return nil
	}
	refs, ok := c.precheck(n, kind, what, src, tree.Node)
	if !ok {
		return nil
	}
	if _, err := expr.Compile(src, c.check[kind]...); err != nil {
		c.exprError(n, kind, what, src, err)
		return nil
	}
	p := &nowPatcher{c: c, n: n, what: what, src: src}
	scan := c.scanFlat(tree.Node, c.envs[kind])
	opts := make([]expr.Option, 0, len(c.opts[kind])+2)
	opts = append(opts, expr.Env(flatEnv(c.envs[kind], scan)))
	opts = append(opts, c.opts[kind][1:]...) // [0] is the plain environment
	opts = append(opts, expr.Patch(p), expr.Patch(&flatPatcher{scan: scan}))
	prog, err := expr.Compile(src, opts...)
	if p.failed {
		return nil
	}
	if err != nil {
		c.exprError(n, kind, what, src, err)
		return nil
	}
	if !c.tryRun(n, kind, what, src, prog) {
		return nil
	}
	c.record(scan)
	e := &Expr{Source: src, Pos: start, Program: prog}
	if kind == kindCond || kind == kindItems {
		c.conds = append(c.conds, e)
	} else {
		c.nums = append(c.nums, e)
	}
	return &compiled{e: e, refs: refs}
}

// tryRun runs the program once on the synthetic large environment: an
// expression that exceeds the memory budget or the time limit there is
// rejected. Other run-time errors are ignored (the data is made up).
func (c *exprCompiler) tryRun(n *yaml.Node, kind exprKind, what, src string, prog *vm.Program) bool {
	machine := vm.VM{MemoryBudget: TrialMemoryBudget}
	began := time.Now()
	_, err := machine.Run(prog, c.trial[kind])
	took := time.Since(began)
	if err != nil && strings.Contains(err.Error(), "memory budget exceeded") {
		c.l.errAt(c.l.pos(n), "avoid nesting loops over lists (all, any, filter, map inside one another) and large ranges",
			"%s %s is too costly: on a cart of %d items it exceeds the memory budget of %d", what, shorten(src), TrialItems, TrialMemoryBudget)
		return false
	}
	if took > TrialTimeLimit {
		c.l.errAt(c.l.pos(n), "avoid nesting loops over lists and large ranges",
			"%s %s is too slow: on a cart of %d items it took %s (limit %s)", what, shorten(src), TrialItems, took.Round(time.Millisecond), TrialTimeLimit)
		return false
	}
	return true
}

// names lists the top-level names an expression of kind may use.
func (c *exprCompiler) names(kind exprKind) []string {
	out := fieldsOf(c.envs[kind])
	for name := range customFuncs {
		out = append(out, name)
	}
	out = append(out, builtin.Names...)
	return out
}

// exprError turns an expr error into an Error at its place in the file.
func (c *exprCompiler) exprError(n *yaml.Node, kind exprKind, what, src string, err error) {
	var fe *file.Error
	pos := c.l.pos(n)
	msg := err.Error()
	if errors.As(err, &fe) {
		msg = fe.Message
		pos = c.at(n, fe.From)
	}
	in := " in " + shorten(src)
	hint := ""
	defer func() {
		// a plain YAML value ends at " #": the rest was read as a comment
		if f := c.l.nodeFile[n]; f != nil && n.Style == 0 && n.Line >= 1 && n.Line <= len(f.lines) {
			if strings.Contains(string(f.lines[n.Line-1]), " #") && strings.Contains(msg, "unexpected token") {
				c.l.errs[len(c.l.errs)-1].Hint = "in YAML \" #\" starts a comment: put the expression in quotes"
			}
		}
	}()
	switch {
	case strings.HasPrefix(msg, "unknown name "):
		name := strings.TrimPrefix(msg, "unknown name ")
		switch {
		case name == EnvItem:
			hint = "`item` is only known in an offer's discount.items filter"
		case name == EnvPriority:
			hint = "`priority` is only known in an offer's score"
		default:
			hint = didYouMean(name, c.names(kind), "")
		}
		msg = "unknown name `" + name + "`"
	case strings.HasPrefix(msg, "unknown field "):
		name := strings.TrimPrefix(msg, "unknown field ")
		var from int
		if fe != nil {
			from = fe.From
		}
		owner, cands := c.fieldOwner(kind, src, from)
		if owner != "" {
			msg = "unknown field `" + owner + "." + name + "`"
			hint = didYouMean(name, cands, owner+".")
			if owner == EnvProfile && hint == "" {
				hint = "declare it under `profile:` first"
			}
		} else {
			msg = "unknown field `" + name + "`"
			hint = didYouMean(name, cands, "")
		}
	case strings.HasPrefix(msg, "expected bool, but got "):
		msg = what + " must be true or false, but it gives " + strings.TrimPrefix(msg, "expected bool, but got ")
		hint = "compare it: `cart.total >= 50`"
		pos = c.l.pos(n)
	case strings.HasPrefix(msg, "expected float64, but got "):
		msg = what + " must be a number, but it gives " + strings.TrimPrefix(msg, "expected float64, but got ")
		pos = c.l.pos(n)
	case strings.Contains(msg, "is not callable") && strings.HasPrefix(strings.TrimSpace(src[min(len(src), max(0, runeByte(src, fe))):]), "now"):
		hint = "`now` is the decision time: write `now`, without parentheses"
	case strings.Contains(msg, "exceeds maximum allowed nodes"):
		msg = fmt.Sprintf("%s has more than %d parts", what, MaxExprNodes)
		hint = "split it: move parts into segments and use `\"id\" in segments`"
		pos = c.l.pos(n)
	}
	c.l.errAt(pos, hint, "%s%s", msg, in)
}

// runeByte is the byte offset of an error's rune offset in src.
func runeByte(src string, fe *file.Error) int {
	if fe == nil {
		return 0
	}
	i := 0
	for b := range src {
		if i == fe.From {
			return b
		}
		i++
	}
	return len(src)
}

// fieldOwner finds, for an "unknown field" error at rune offset from, the
// map it was looked up in (profile, cart, item) from the text before it,
// and the fields that map has.
func (c *exprCompiler) fieldOwner(kind exprKind, src string, from int) (string, []string) {
	r := []rune(src)
	if from > len(r) {
		from = len(r)
	}
	i := from - 1
	for i >= 0 && (r[i] == '.' || r[i] == '?' || r[i] == ' ') {
		i--
	}
	end := i + 1
	for i >= 0 && (r[i] == '_' || r[i] == '.' || r[i] == ']' || r[i] == '[' || r[i] == '#' ||
		(r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') || (r[i] >= '0' && r[i] <= '9')) {
		i--
	}
	chain := string(r[i+1 : end])
	profile := fieldsOf(c.envs[kind][EnvProfile].(types.Map))
	switch {
	case chain == EnvProfile:
		return EnvProfile, profile
	case chain == EnvCart:
		return EnvCart, fieldsOf(cartType)
	case chain == EnvItem || strings.HasSuffix(chain, "items]") || chain == "" || chain == "#":
		if chain == EnvItem {
			return EnvItem, fieldsOf(itemType)
		}
		return "", fieldsOf(itemType)
	case chain == EnvCtx:
		return EnvCtx, fieldsOf(ctxType)
	}
	all := append(append(profile, fieldsOf(cartType)...), fieldsOf(itemType)...)
	return "", all
}

// precheck walks the syntax tree before type checking: calls of the custom
// functions with the wrong number of arguments, names that would hide the
// environment, predicate nesting, ranges, and segment ids.
func (c *exprCompiler) precheck(n *yaml.Node, kind exprKind, what, src string, root ast.Node) ([]string, bool) {
	ok := true
	fail := func(loc file.Location, hint, format string, args ...any) {
		ok = false
		c.l.errAt(c.at(n, loc.From), hint, format+" in "+shorten(src), args...)
	}
	v := &collector{}
	ast.Walk(&root, v)
	for _, call := range v.calls {
		id, isID := call.Callee.(*ast.IdentifierNode)
		if !isID {
			continue
		}
		spec, known := customFuncs[id.Value]
		if !known {
			continue
		}
		if len(call.Arguments) != spec.args {
			plural := "s"
			if spec.args == 1 {
				plural = ""
			}
			fail(call.Location(), "write "+spec.usage, "%s takes %d argument%s, got %d", spec.name, spec.args, plural, len(call.Arguments))
		}
	}
	reserved := c.envs[kind]
	for _, d := range v.lets {
		if _, clash := reserved[d.Name]; clash || customFuncs[d.Name].name != "" {
			fail(d.Location(), "choose another name", "`let %s` would hide the built-in name `%s`", d.Name, d.Name)
		}
	}
	for _, b := range v.ranges {
		lo, ok1 := intConst(b.Left)
		hi, ok2 := intConst(b.Right)
		if !ok1 || !ok2 {
			fail(b.Location(), "write constant ends, like 1..10", "a range needs constant ends")
		} else if hi-lo+1 > MaxRangeLen {
			fail(b.Location(), "", "the range %d..%d has more than %d numbers", lo, hi, MaxRangeLen)
		}
	}
	if d, at := predicateDepth(root); d > MaxPredicateDepth {
		fail(at.Location(), "split it into segments, or use a simpler test",
			"collection functions (all, any, filter, map, ...) are nested %d deep, more than %d", d, MaxPredicateDepth)
	}
	var refs []string
	if v.readsSegments {
		seen := map[string]bool{}
		for _, s := range v.strs {
			if c.segSet[s.Value] && !seen[s.Value] {
				seen[s.Value] = true
				refs = append(refs, s.Value)
			}
		}
		for _, b := range v.ins {
			s := b.Left.(*ast.StringNode)
			if !c.segSet[s.Value] {
				fail(s.Location(), didYouMean(s.Value, c.segIDs, ""), "unknown segment %q", s.Value)
			}
		}
	}
	sort.Strings(refs)
	return refs, ok
}

func intConst(n ast.Node) (int, bool) {
	switch v := n.(type) {
	case *ast.IntegerNode:
		return v.Value, true
	case *ast.UnaryNode:
		if v.Operator == "-" {
			if i, ok := intConst(v.Node); ok {
				return -i, true
			}
		}
	}
	return 0, false
}

// collector gathers the nodes precheck looks at.
type collector struct {
	calls         []*ast.CallNode
	lets          []*ast.VariableDeclaratorNode
	ranges        []*ast.BinaryNode
	strs          []*ast.StringNode
	ins           []*ast.BinaryNode
	readsSegments bool
}

func (v *collector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		v.calls = append(v.calls, n)
	case *ast.VariableDeclaratorNode:
		v.lets = append(v.lets, n)
	case *ast.IdentifierNode:
		if n.Value == EnvSegments || n.Value == "$env" {
			v.readsSegments = true
		}
	case *ast.StringNode:
		v.strs = append(v.strs, n)
	case *ast.BinaryNode:
		switch n.Operator {
		case "..":
			v.ranges = append(v.ranges, n)
		case "in", "not in":
			_, isStr := n.Left.(*ast.StringNode)
			id, isID := n.Right.(*ast.IdentifierNode)
			if isStr && isID && id.Value == EnvSegments {
				v.ins = append(v.ins, n)
			}
		}
	}
}

// predicateDepth is the deepest nesting of builtins that take a predicate
// (a closure run per element), and the outermost builtin of that nesting.
func predicateDepth(root ast.Node) (int, ast.Node) {
	best, at := 0, ast.Node(nil)
	var visit func(n ast.Node) int
	visit = func(n ast.Node) int {
		d := 0
		f := &depthFinder{}
		ast.Walk(&n, f)
		for _, b := range f.preds {
			for _, a := range b.Arguments {
				if p, ok := a.(*ast.PredicateNode); ok {
					if dd := 1 + visit(p.Node); dd > d {
						d = dd
						if dd > best {
							best, at = dd, b
						}
					}
				}
			}
		}
		return d
	}
	visit(root)
	return best, at
}

type depthFinder struct{ preds []*ast.BuiltinNode }

func (f *depthFinder) Visit(node *ast.Node) {
	if b, ok := (*node).(*ast.BuiltinNode); ok {
		for _, a := range b.Arguments {
			if _, ok := a.(*ast.PredicateNode); ok {
				f.preds = append(f.preds, b)
				return
			}
		}
	}
}

// nowPatcher rewrites a call of a custom function f(x) into f(now, x),
// and resolves a constant time zone name at load.
type nowPatcher struct {
	c      *exprCompiler
	n      *yaml.Node
	what   string
	src    string
	failed bool
}

func (p *nowPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	spec, ok := customFuncs[id.Value]
	if !ok || len(call.Arguments) != spec.args {
		return
	}
	if len(call.Arguments) > 0 {
		if s, ok := call.Arguments[0].(*ast.StringNode); ok && (spec.name == "hourIn" || spec.name == "weekdayIn") {
			loc, err := p.c.tz.load(s.Value)
			if err != nil || s.Value == "" || s.Value == "Local" {
				p.failed = true
				p.c.l.errAt(p.c.at(p.n, s.Location().From), "write an IANA time zone name like \"Europe/Paris\" or \"UTC\"",
					"unknown time zone %q in %s", s.Value, shorten(p.src))
				return
			}
			c := &ast.ConstantNode{Value: loc}
			c.SetLocation(s.Location())
			call.Arguments[0] = c
		}
	}
	nowID := &ast.IdentifierNode{Value: EnvNow}
	nowID.SetLocation(call.Location())
	args := make([]ast.Node, 0, len(call.Arguments)+1)
	args = append(args, nowID)
	args = append(args, call.Arguments...)
	ast.Patch(node, &ast.CallNode{Callee: call.Callee, Arguments: args})
}
