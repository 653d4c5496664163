package exprenv

import (
	"slices"

	"github.com/expr-lang/expr/ast"
)

// Guards. Many conditions start with a test of one field against
// constants: `profile.tier == "gold" && ...`, `ctx.channel in ["app",
// "web"] && ...`. When that leftmost conjunct is false the condition is
// false, and nothing after it runs (so nothing after it can fail): a
// caller that holds many such conditions (the engine's segments) looks
// the field's value up once, among the constants of all of them, and
// evaluates only those whose constants hold it.

// Guard is the leftmost conjunct of a condition when it is `NAME ==
// "const"`, `"const" == NAME` or `NAME in ["a", "b", ...]`, NAME a flat
// name (profile.x, ctx.x, cart.currency): Flat is its index in
// Layout.Flat, Values the constants. Whenever the name's value is a string
// that is not among Values, the condition is false with no error. A value
// of another type (or none) tells nothing: evaluate the condition.
//
// With List, the conjunct is `"const" in NAME`, NAME a list of strings
// (profile.top_categories): whenever the name's value is a list of strings
// that holds none of Values, the condition is false with no error.
type Guard struct {
	Flat   int
	Values []string
	List   bool
}

// Guard returns the condition's guard; ok is false when its leftmost
// conjunct has no such form (or x is not a condition). It is known once
// Finish has run.
func (x *Expr) Guard() (g Guard, ok bool) {
	if x == nil || x.guard == nil {
		return Guard{}, false
	}
	return *x.guard, true
}

// FlatString returns the value of the flat name of index i (Layout.Flat)
// in this decision when it is a string.
func (e *Env) FlatString(i int) (string, bool) {
	if i < 0 || i >= len(e.fast.Vals) {
		return "", false
	}
	s, ok := e.fast.Vals[i].(string)
	return s, ok
}

// FlatStrings returns the value of the flat name of index i (Layout.Flat)
// in this decision when it is a list of strings.
func (e *Env) FlatStrings(i int) ([]string, bool) {
	if i < 0 || i >= len(e.fast.Vals) {
		return nil, false
	}
	l, ok := e.fast.Vals[i].([]string)
	return l, ok
}

// guardOf finds the guard of a condition's syntax tree (patched and
// optimized).
func (c *fastCompiler) guardOf(n ast.Node) *Guard {
	for {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return nil
		}
		switch b.Operator {
		case "&&", "and":
			n = b.Left
			continue
		case "==":
			if g := c.guardEq(b.Left, b.Right); g != nil {
				return g
			}
			return c.guardEq(b.Right, b.Left)
		case "in":
			if str, ok := b.Left.(*ast.StringNode); ok {
				if id, ok := b.Right.(*ast.IdentifierNode); ok && id.Type() == typeSlice {
					if i := c.flatName(id); i >= 0 {
						return &Guard{Flat: i, Values: []string{str.Value}, List: true}
					}
				}
				return nil
			}
			i := c.flatName(b.Left)
			if i < 0 {
				return nil
			}
			var vals []string
			switch r := b.Right.(type) {
			case *ast.ArrayNode:
				for _, e := range r.Nodes {
					s, ok := e.(*ast.StringNode)
					if !ok {
						return nil
					}
					vals = append(vals, s.Value)
				}
			case *ast.ConstantNode:
				m, ok := r.Value.(map[string]struct{})
				if !ok {
					return nil
				}
				for s := range m {
					vals = append(vals, s)
				}
			default:
				return nil
			}
			slices.Sort(vals)
			return &Guard{Flat: i, Values: slices.Compact(vals)}
		}
		return nil
	}
}

// guardEq: a is a flat name, b a string constant.
func (c *fastCompiler) guardEq(a, b ast.Node) *Guard {
	i := c.flatName(a)
	s, ok := b.(*ast.StringNode)
	if i < 0 || !ok {
		return nil
	}
	return &Guard{Flat: i, Values: []string{s.Value}}
}

// flatName is the index in Layout.Flat of a flat name read as such, or -1.
func (c *fastCompiler) flatName(n ast.Node) int {
	id, ok := n.(*ast.IdentifierNode)
	if !ok || id.Value == cartItems {
		return -1
	}
	if i, ok := c.vals[id.Value]; ok {
		return i
	}
	return -1
}
