package rules

import (
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/exprenv"
)

// The rules' side of the expressions: exprenv compiles each expression of
// the rule files against the environment of the schema; here an error's
// offset inside the expression becomes its place in the file, and the
// compiled expression is kept with its position.

// The kinds of expression the rule files hold.
const (
	kindCond   = exprenv.KindCond   // when
	kindNumber = exprenv.KindNumber // percent, amount
	kindItems  = exprenv.KindItems  // discount.items
	kindScore  = exprenv.KindScore  // score
)

// compiled is an expression with what the loader needs to know about it.
type compiled struct {
	e *Expr
	// refs are the segment ids named by string literals in an expression
	// that reads `segments`: the segments it depends on.
	refs []string
}

type cacheKey struct {
	kind exprenv.Kind
	src  string
	pos  Pos
}

// exprCompiler compiles every expression of one load.
type exprCompiler struct {
	l      *loader
	schema *Schema
	segSet map[string]bool
	segIDs []string // sorted
	ec     *exprenv.Compiler
	cache  map[cacheKey]*compiled
}

func newExprCompiler(l *loader, schema *Schema, segIDs []string) *exprCompiler {
	c := &exprCompiler{l: l, schema: schema, segSet: map[string]bool{}, cache: map[cacheKey]*compiled{}}
	c.segIDs = append([]string(nil), segIDs...)
	sort.Strings(c.segIDs)
	for _, s := range segIDs {
		c.segSet[s] = true
	}
	fields := make([]exprenv.Field, len(schema.Fields))
	for i, f := range schema.Fields {
		fields[i] = exprenv.Field{Name: f.Name, Type: exprType(f.Type)}
	}
	c.ec = exprenv.NewCompiler(exprenv.Config{Profile: fields, Segments: segIDs, Learning: l.learns, TotalBase: l.money.currency != ""})
	return c
}

// exprType is the exprenv type of a profile field type.
func exprType(t Type) exprenv.Type {
	switch t {
	case TypeString:
		return exprenv.TypeString
	case TypeInt:
		return exprenv.TypeInt
	case TypeNumber:
		return exprenv.TypeNumber
	case TypeBool:
		return exprenv.TypeBool
	case TypeTime:
		return exprenv.TypeTime
	case TypeStringList:
		return exprenv.TypeStringList
	case TypeNumberList:
		return exprenv.TypeNumberList
	}
	return 0
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
func (c *exprCompiler) compile(n *yaml.Node, kind exprenv.Kind, what string) *compiled {
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
	var r *compiled
	x, errs := c.ec.Compile(src, kind, what)
	for _, e := range errs {
		if e.Ref != "" && c.l.dropped[e.Ref] {
			c.l.suppressed++
			continue
		}
		hint := e.Hint
		// a plain YAML value ends at " #": the rest was read as a comment
		if f := c.l.nodeFile[n]; e.UnexpectedToken && f != nil && n.Style == 0 && n.Line >= 1 && n.Line <= len(f.lines) &&
			strings.Contains(string(f.lines[n.Line-1]), " #") {
			hint = "in YAML \" #\" starts a comment: put the expression in quotes"
		}
		c.l.errAt(c.at(n, e.Offset), hint, "%s", e.Msg)
	}
	if x != nil {
		r = &compiled{e: &Expr{Expr: x, Pos: c.l.pos(n)}, refs: x.Uses()}
	}
	c.cache[key] = r
	return r
}

// finish gives the segments, in their final order, and the expressions
// what the engine needs to evaluate them (exprenv.Compiler.Finish).
func (c *exprCompiler) finish(segs []*Segment) *exprenv.Layout {
	ids := make([]string, len(segs))
	for i, s := range segs {
		ids[i] = s.ID
	}
	return c.ec.Finish(ids)
}

// didYouMean formats a hint for name among candidates (exprenv.DidYouMean).
func didYouMean(name string, candidates []string, prefix string) string {
	return exprenv.DidYouMean(name, candidates, prefix)
}
