package exprenv

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
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
)

// Limits on expressions, checked at compile time (documented in
// docs/rules.md).
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
)

// Config describes the environment of one ruleset's expressions.
type Config struct {
	// Profile is the profile schema: the fields of profile, besides id
	// and known.
	Profile []Field
	// Segments are the ids of the ruleset's segments, which `"id" in
	// segments` may name.
	Segments []string
	// Zones loads the time zones the expressions name; nil: the system's
	// (SystemZones).
	Zones Zones
	// Learning: the ruleset learns (arbitration.learning), so that scores
	// may read propensity.
	Learning bool
	// TotalBase: the rules name a currency, so expressions may read
	// cart.total_base (base.go); without it, reading it is an error.
	TotalBase bool
}

// Expr is one compiled expression: its program for expr's VM and, when
// its shape is common, its fast form (fast.go). Env evaluates it.
type Expr struct {
	// Source is the expression as written.
	Source string
	prog   *vm.Program
	kind   Kind
	uses   []string
	reads  uint8    // the vars it reads, a bit per Var
	cond   fastCond // a condition's fast form, or nil
	num    fastNum  // a number's fast form, or nil
	guard  *Guard   // a condition's guard (guard.go), or nil
}

// Reads reports whether the expression reads the var v (a score that
// reads propensity). An expression that reads the whole environment
// (`$env`) reads every var of its kind.
func (x *Expr) Reads(v Var) bool { return v >= 0 && v < numVars && x.reads&(1<<v) != 0 }

// Uses lists the segment ids that the expression names while reading
// `segments` (the segments it depends on), sorted.
func (x *Expr) Uses() []string { return x.uses }

// Fast reports whether the expression has a fast form: a decision
// evaluates it without the VM unless a value has an unexpected type.
func (x *Expr) Fast() bool { return x.cond != nil || x.num != nil }

// Error is a problem with one expression, found at compile time. Offset
// is where it is, in runes from the start of the source (0 for the
// expression as a whole); Msg names the expression as Compile was told
// (what) and quotes it.
type Error struct {
	Offset int
	Msg    string
	Hint   string // what to write instead; may be empty
	// UnexpectedToken: expr read a token it did not expect, which in a
	// file format with comments may mean the source was cut short.
	UnexpectedToken bool
	// Ref names what an "unknown" error refers to, so that a caller can
	// tell a follow-on error of a declaration that failed: "profile.NAME"
	// for an unknown profile field, "segment:ID" for an unknown segment;
	// "" otherwise.
	Ref string
}

// Compiler compiles the expressions of one ruleset against the typed
// environment of its schema, and records what they read. It is used by
// one goroutine; once Finish is called, the compiled expressions and the
// Layout are immutable and safe for concurrent use.
type Compiler struct {
	segSet map[string]bool
	segIDs []string // sorted
	zones  *zoneTable
	envs   [numKinds]types.Map
	opts   [numKinds][]expr.Option
	// check holds the options of a first, type-checking compile in which
	// the custom functions have the signatures the user writes (without
	// the hidden now), so that argument errors speak of the user's
	// arguments and none is hidden by the patch.
	check [numKinds][]expr.Option
	trial [numKinds]map[string]any
	now   time.Time
	// runTrial runs a program on the trial environment; a test makes it
	// slow, to show that acceptance does not depend on the clock.
	runTrial func(*vm.Program, map[string]any) (any, error)
	errs     []Error

	// What the compiled programs read through flat names (flat.go).
	flat          map[string]FlatRef
	flagged       map[string]bool
	wholeSegments bool
	wholeProfile  bool
	// exprs are the compiled expressions, given a fast form by Finish.
	exprs []*Expr
	// learning: scores may read propensity (Config.Learning).
	learning bool

	// totalBase is Config.TotalBase (base.go).
	totalBase bool
}

// NewCompiler returns a compiler for the environment cfg describes.
func NewCompiler(cfg Config) *Compiler {
	zones := cfg.Zones
	if zones == nil {
		zones = SystemZones()
	}
	c := &Compiler{segSet: map[string]bool{}, zones: newZoneTable(zones), runTrial: runTrial,
		flat: map[string]FlatRef{}, flagged: map[string]bool{}, learning: cfg.Learning, totalBase: cfg.TotalBase}
	c.segIDs = append([]string(nil), cfg.Segments...)
	sort.Strings(c.segIDs)
	for _, s := range cfg.Segments {
		c.segSet[s] = true
	}
	profile := profileType(cfg.Profile)
	for k := range c.envs {
		c.envs[k] = scope(Kind(k), profile, cfg.Learning)
	}
	funcs := funcOptions(c.zones)
	for k := range c.opts {
		o := []expr.Option{expr.Env(c.envs[k]), expr.DisableBuiltin("now"), expr.MaxNodes(MaxExprNodes)}
		o = append(o, funcs...)
		if Kind(k).bool() {
			o = append(o, expr.AsBool())
		} else {
			o = append(o, expr.AsFloat64())
		}
		c.opts[k] = o
		ch := []expr.Option{expr.Env(c.envs[k]), expr.DisableBuiltin("now"), expr.MaxNodes(MaxExprNodes)}
		ch = append(ch, userFuncOptions()...)
		ch = append(ch, o[len(o)-1]) // AsBool or AsFloat64
		c.check[k] = ch
	}
	c.now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	c.buildTrial(cfg.Profile)
	return c
}

// buildTrial makes the synthetic environment of the load-time trial run:
// a cart of TrialItems items, profile lists of TrialItems entries, every
// segment matched.
func (c *Compiler) buildTrial(fields []Field) {
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
	for _, f := range fields {
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
			EnvCart:     map[string]any{"total": 4200.0, "currency": "USD", "item_count": 2 * TrialItems, "items": items, totalBaseField: 4200.0},
			EnvCtx:      ctx,
			EnvNow:      c.now,
			EnvSegments: c.segIDs,
		}
		if Kind(k) == KindItems {
			env[EnvItem] = items[0]
		}
		for _, v := range vars {
			if v.kind == Kind(k) {
				env[v.name] = 50.0
			}
		}
		addFlatNames(env) // every segment is in the list
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

// fail records an error at rune offset off of the source.
func (c *Compiler) fail(off int, hint, format string, args ...any) {
	c.errs = append(c.errs, Error{Offset: off, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// Compile compiles src as an expression of kind; what names it in
// messages ("segment `vip`: when"). It returns nil and the errors when
// src does not compile.
func (c *Compiler) Compile(src string, kind Kind, what string) (*Expr, []Error) {
	c.errs = nil
	x := c.compile(src, kind, what)
	errs := c.errs
	c.errs = nil
	if x == nil && len(errs) == 0 {
		errs = []Error{{Msg: what + " does not compile"}} // never reached: each failure says why
	}
	return x, errs
}

func (c *Compiler) compile(src string, kind Kind, what string) *Expr {
	if kind < 0 || kind >= numKinds {
		c.fail(0, "", "%s: unknown kind of expression %d", what, kind)
		return nil
	}
	if strings.TrimSpace(src) == "" {
		c.fail(0, "write an expression like `cart.total >= 50`", "%s is empty", what)
		return nil
	}
	if len(src) > MaxExprLen {
		c.fail(0, "split it: move parts into segments and use `\"id\" in segments`",
			"%s is %d characters long, more than the limit of %d", what, len(src), MaxExprLen)
		return nil
	}
	tree, err := parser.Parse(src)
	if err != nil {
		c.exprError(kind, what, src, err)
		return nil
	}
	uses, ok := c.precheck(kind, src, tree.Node)
	if !ok || !c.checkTotalBase(src, tree.Node) || !c.checkWeekdays(src, tree.Node) {
		return nil
	}
	if _, err := expr.Compile(src, c.check[kind]...); err != nil {
		c.exprError(kind, what, src, err)
		return nil
	}
	p := &nowPatcher{c: c, src: src}
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
		c.exprError(kind, what, src, err)
		return nil
	}
	if !c.tryRun(kind, what, src, prog) {
		return nil
	}
	c.record(scan)
	x := &Expr{Source: src, prog: prog, kind: kind, uses: uses, reads: varsRead(kind, tree.Node)}
	c.exprs = append(c.exprs, x)
	return x
}

// varsRead is the set of vars of kind that root reads, a bit per Var; `$env`
// reads them all.
func varsRead(kind Kind, root ast.Node) uint8 {
	f := &varFinder{kind: kind}
	ast.Walk(&root, f)
	return f.reads
}

type varFinder struct {
	kind  Kind
	reads uint8
}

func (f *varFinder) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	for v := range vars {
		if vars[v].kind == f.kind && (id.Value == vars[v].name || id.Value == "$env") {
			f.reads |= 1 << v
		}
	}
}

// runTrial runs a program once with the trial's memory budget.
func runTrial(prog *vm.Program, env map[string]any) (any, error) {
	machine := vm.VM{MemoryBudget: TrialMemoryBudget}
	return machine.Run(prog, env)
}

// tryRun bounds the cost of a program: it runs it once on the synthetic
// large environment, where an expression that exceeds the memory budget
// is rejected (other run-time errors are ignored: the data is made up),
// and an expression whose cost (cost.go) exceeds MaxCost is rejected.
// Neither depends on the machine, its load or its clock. An expression
// far beyond MaxCost is not run at all, so that it cannot slow the load.
func (c *Compiler) tryRun(kind Kind, what, src string, prog *vm.Program) bool {
	const hint = "avoid nesting loops over lists (all, any, filter, map inside one another) and large ranges"
	steps := cost(prog.Node())
	if steps <= 2*MaxCost {
		_, err := c.runTrial(prog, c.trial[kind])
		if err != nil && strings.Contains(err.Error(), "memory budget exceeded") {
			c.fail(0, hint, "%s %s is too costly: on a cart of %d items it exceeds the memory budget of %d", what, shorten(src), TrialItems, TrialMemoryBudget)
			return false
		}
	}
	if steps > MaxCost {
		c.fail(0, hint, "%s %s is too costly: on a cart of %d items it can take %d steps, more than the limit of %d", what, shorten(src), TrialItems, steps, MaxCost)
		return false
	}
	return true
}

// names lists the top-level names an expression of kind may use.
func (c *Compiler) names(kind Kind) []string {
	out := fieldsOf(c.envs[kind])
	for name := range customFuncs {
		out = append(out, name)
	}
	out = append(out, builtin.Names...)
	return out
}

// exprError records an expr error at its place in the source.
func (c *Compiler) exprError(kind Kind, what, src string, err error) {
	var fe *file.Error
	off := 0
	msg := err.Error()
	if errors.As(err, &fe) {
		msg = fe.Message
		off = fe.From
	}
	in := " in " + shorten(src)
	hint := ""
	ref := ""
	switch {
	case strings.HasPrefix(msg, "unknown name "):
		name := strings.TrimPrefix(msg, "unknown name ")
		if name == EnvItem {
			hint = "`item` is only known in an offer's discount.items filter"
		} else {
			hint = DidYouMean(name, c.names(kind), "")
		}
		switch {
		case hint != "":
		case comparedWith(src, fe, name):
			hint = "write a text in quotes: `\"" + name + "\"`"
		case slices.Contains(c.segIDs, name):
			hint = "to test a segment, write `\"" + name + "\" in segments`"
		}
		msg = "unknown name `" + name + "`"
		for _, v := range vars {
			if name != v.name {
				continue
			}
			hint = "`" + name + "` is only known in " + v.where
			if v.learning && v.kind == kind && !c.learning {
				msg = "`" + name + "` needs learning: the rules have no `arbitration.learning`"
				hint = "add `learning: {method: thompson}` under `arbitration:` (docs/learning.md)"
			}
		}
	case strings.HasPrefix(msg, "unknown field "):
		name := strings.TrimPrefix(msg, "unknown field ")
		var from int
		if fe != nil {
			from = fe.From
		}
		owner, cands := c.fieldOwner(kind, src, from)
		if owner != "" {
			msg = "unknown field `" + owner + "." + name + "`"
			hint = DidYouMean(name, cands, owner+".")
			if owner == EnvProfile {
				ref = EnvProfile + "." + name
			}
			if owner == EnvProfile && hint == "" {
				hint = "declare it under `profile:` first"
			}
		} else {
			msg = "unknown field `" + name + "`"
			hint = DidYouMean(name, cands, "")
		}
	case strings.HasPrefix(msg, "expected bool, but got "):
		msg = what + " must be true or false, but it gives " + strings.TrimPrefix(msg, "expected bool, but got ")
		hint = "compare it: `cart.total >= 50`"
		off = 0
	case strings.HasPrefix(msg, "expected float64, but got "):
		msg = what + " must be a number, but it gives " + strings.TrimPrefix(msg, "expected float64, but got ")
		off = 0
	case strings.Contains(msg, "is not callable") && strings.HasPrefix(strings.TrimSpace(src[min(len(src), max(0, runeByte(src, fe))):]), "now"):
		hint = "`now` is the decision time: write `now`, without parentheses"
	case strings.HasPrefix(msg, `unexpected token Operator("=")`):
		hint = "to compare, write `==`: `profile.tier == \"gold\"`"
	case strings.HasPrefix(msg, `unexpected token Operator(",")`) && commaNumberHint(src, fe) != "":
		hint = commaNumberHint(src, fe)
	case msg == "unexpected token EOF" && trailingOpRE.MatchString(src):
		op := trailingOpRE.FindStringSubmatch(src)[1]
		hint = "the expression ends after `" + op + "`: finish it, or remove the `" + op + "`"
	case msg == `unexpected token Identifier("AND")` || msg == `unexpected token Identifier("OR")`:
		op := strings.ToLower(msg[len(`unexpected token Identifier("`) : len(msg)-2])
		sym := map[string]string{"and": "&&", "or": "||"}[op]
		hint = "write `" + op + "` or `" + sym + "`, in lower case"
	case strings.HasPrefix(msg, "invalid operation: contains (mismatched types []"):
		hint = "to test a list, write `\"x\" in list`"
		if m := matchAt(containsRE, src, runeByte(src, fe)); m != nil {
			hint = "to test a list, write `" + m[2] + " in " + m[1] + "`"
		}
	case strings.Contains(msg, "(mismatched types time.Time and string)") || strings.Contains(msg, "(mismatched types string and time.Time)"):
		field, text := "profile.last_order_at", `"2026-01-01"`
		if m := matchAt(timeCmpRE, src, runeByte(src, fe)); m != nil {
			field, text = m[1], m[2]
		}
		hint = "to compare with a date, write `date(" + text + ")`, or count days: `daysSince(" + field + ") <= 30`"
	case strings.HasPrefix(msg, "bad number syntax: ") && durationRE.MatchString(msg):
		// t > now - 30d: t is less than 30 days ago
		field, op := "profile.last_order_at", "<="
		if m := matchAt(sinceRE, src, runeByte(src, fe)); m != nil {
			field, op = m[1], map[string]string{">": "<", ">=": "<=", "<": ">", "<=": ">="}[m[2]]
		}
		n := durationRE.FindStringSubmatch(msg)
		fn := map[string]string{"d": "daysSince", "h": "hoursSince"}[n[2]]
		if fn == "" {
			break
		}
		hint = "to count " + map[string]string{"d": "days", "h": "hours"}[n[2]] + ", write `" + fn + "(" + field + ") " + op + " " + n[1] + "`"
	case mismatchedTextRE.MatchString(msg):
		hint = "write numbers without quotes, `cart.total >= 40`, and texts in quotes, `profile.tier == \"gold\"`"
	case strings.Contains(msg, "exceeds maximum allowed nodes"):
		msg = fmt.Sprintf("%s has more than %d parts", what, MaxExprNodes)
		hint = "split it: move parts into segments and use `\"id\" in segments`"
		off = 0
	}
	c.errs = append(c.errs, Error{Offset: off, Msg: msg + in, Hint: hint, UnexpectedToken: strings.Contains(msg, "unexpected token"), Ref: ref})
}

// containsRE, timeCmpRE, sinceRE, trailingOpRE and durationRE find the parts of
// expressions a marketer first writes (`profile.tags contains "x"`,
// `profile.last_order_at > now - 30d`) for their hints.
var (
	containsRE   = regexp.MustCompile(`([A-Za-z_][\w.]*)\s+contains\s+("[^"]*"|'[^']*')`)
	timeCmpRE    = regexp.MustCompile(`(profile\.\w+)\s*(?:[<>]=?|[=!]=)\s*("[^"]*"|'[^']*')`)
	sinceRE      = regexp.MustCompile(`(profile\.\w+)\s*([<>]=?)\s*now\s*-\s*[0-9]+[a-z]*`)
	trailingOpRE = regexp.MustCompile(`(&&|\|\||\band|\bor|==|!=|>=|<=|[<>+*/-])\s*$`)
	durationRE   = regexp.MustCompile(`^bad number syntax: "([0-9]+)([a-z]+)"$`)
)

// matchAt is the submatches of the match of re in src that holds the
// byte offset at (an error's place), or of the one nearest after it;
// nil when there is none.
func matchAt(re *regexp.Regexp, src string, at int) []string {
	var best []int
	for _, m := range re.FindAllStringSubmatchIndex(src, -1) {
		if m[1] >= at {
			best = m
			break
		}
	}
	if best == nil {
		return nil
	}
	out := make([]string, len(best)/2)
	for i := range out {
		if best[2*i] >= 0 {
			out[i] = src[best[2*i]:best[2*i+1]]
		}
	}
	return out
}

// mismatchedTextRE matches expr's error for a number compared with a text
// (`cart.total >= "40"`: a number written in quotes).
var mismatchedTextRE = regexp.MustCompile(`mismatched types (int|float64) and string|mismatched types string and (int|float64)`)

// commaNumberHint is what to write for the number around the comma of a
// syntax error when digits come on both sides of it, else "". As for
// numbers written in YAML (rules' plainNumber), commas before groups of
// exactly three digits separate thousands (`1,000`, `1,000,000`,
// `1,000.50`: write `1000`), and a lone comma before any other number of
// digits, or after a lone 0, is a decimal comma (`12,5`, `0,750`: write
// `12.5`); other groupings get no hint.
func commaNumberHint(src string, fe *file.Error) string {
	i := runeByte(src, fe)
	digit := func(k int) bool { return k >= 0 && k < len(src) && src[k] >= '0' && src[k] <= '9' }
	if i >= len(src) || src[i] != ',' || !digit(i-1) || !digit(i+1) {
		return ""
	}
	from := i - 1
	for digit(from - 1) {
		from--
	}
	// the groups after each comma, then a decimal part
	var groups []string
	to := i
	for to < len(src) && src[to] == ',' && digit(to+1) {
		k := to + 1
		for digit(k) {
			k++
		}
		groups = append(groups, src[to+1:k])
		to = k
	}
	frac := ""
	if to+1 < len(src) && src[to] == '.' && digit(to+1) {
		k := to + 1
		for digit(k) {
			k++
		}
		frac, to = src[to:k], k
	}
	written, intPart := src[from:to], src[from:i]
	thousands := intPart != "0"
	for _, g := range groups {
		thousands = thousands && len(g) == 3
	}
	switch {
	case thousands:
		return "write `" + intPart + strings.Join(groups, "") + frac + "`, without a thousands separator, not `" + written + "`"
	case len(groups) == 1 && frac == "":
		return "write a decimal point: `" + intPart + "." + groups[0] + "`, not `" + written + "`"
	}
	return ""
}

// comparedWith reports whether the unknown name at the place of fe is
// compared with == or != (`profile.tier == gold`: a text without quotes).
func comparedWith(src string, fe *file.Error, name string) bool {
	i := runeByte(src, fe)
	if fe == nil || !strings.HasPrefix(src[i:], name) {
		return false
	}
	before := strings.TrimSpace(src[:i])
	after := strings.TrimSpace(src[i+len(name):])
	return strings.HasSuffix(before, "==") || strings.HasSuffix(before, "!=") ||
		strings.HasPrefix(after, "==") || strings.HasPrefix(after, "!=")
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
func (c *Compiler) fieldOwner(kind Kind, src string, from int) (string, []string) {
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
func (c *Compiler) precheck(kind Kind, src string, root ast.Node) ([]string, bool) {
	ok := true
	fail := func(loc file.Location, hint, format string, args ...any) {
		ok = false
		c.fail(loc.From, hint, format+" in "+shorten(src), args...)
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
				fail(s.Location(), DidYouMean(s.Value, c.segIDs, ""), "unknown segment %q", s.Value)
				c.errs[len(c.errs)-1].Ref = "segment:" + s.Value
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
