package exprenv

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// cart.total_base is the cart total in the ruleset's currency (major
// units), for rules that name a currency (SPEC-LOOP "Money in more than one
// currency"). Its value is known only when the cart's currency is the
// ruleset's or has a rate; reading it otherwise is a run-time error of the
// expression (ErrNoRate), and only when it is read: `cart.currency ==
// "USD" || cart.total_base >= 50` is no error for a CHF cart whose
// currency is not USD... but is for one that reaches the second test.
// To get there, every read of cart.total_base is compiled as a call of a
// hidden function on the flat name (totalBaseFunc(cart.total_base)),
// which gives the number or the error; the fast path reads the number the
// same way and leaves an unknown value to the program.

const (
	totalBaseField = "total_base"
	totalBaseKey   = EnvCart + "." + totalBaseField
	// totalBaseFunc is the hidden function: '#' cannot be part of a name
	// anyone writes.
	totalBaseFunc = "#total_base"
)

// ErrNoRate is the run-time error of an expression that reads
// cart.total_base for a cart whose currency has no rate in the rules.
var ErrNoRate = errors.New("no exchange rate")

// noRate is cart.total_base's value when the cart's currency has no rate.
type noRate struct{ currency string }

// totalBaseValue is the value of cart.total_base in a decision.
func totalBaseValue(in *Input) any {
	if in.HasTotalBase {
		return in.TotalBase
	}
	return noRate{in.Currency}
}

func fnTotalBase(params ...any) (any, error) {
	if len(params) != 1 {
		return nil, errors.New("missing argument")
	}
	switch v := params[0].(type) {
	case float64:
		return v, nil
	case noRate:
		cur := v.currency
		if cur == "" {
			return nil, fmt.Errorf("cart.total_base: %w: the request has no cart currency", ErrNoRate)
		}
		return nil, fmt.Errorf("cart.total_base: %w for %s in the rules: add it to `rates`", ErrNoRate, cur)
	}
	return nil, fmt.Errorf("cart.total_base: %w (%T)", ErrNoRate, params[0])
}

// totalBaseOption registers the hidden function.
func totalBaseOption() expr.Option {
	return expr.Function(totalBaseFunc, fnTotalBase, new(func(float64) float64))
}

// wrapTotalBase returns the read of the flat name id, a read of
// cart.total_base, as a call of the hidden function.
func wrapTotalBase(id *ast.IdentifierNode) ast.Node {
	fn := &ast.IdentifierNode{Value: totalBaseFunc}
	fn.SetLocation(id.Location())
	call := &ast.CallNode{Callee: fn, Arguments: []ast.Node{id}}
	call.SetLocation(id.Location())
	return call
}

// checkTotalBase reports a read of cart.total_base in rules that name no
// currency, where it has no meaning.
func (c *Compiler) checkTotalBase(src string, root ast.Node) bool {
	if c.totalBase {
		return true
	}
	v := &totalBaseFinder{}
	ast.Walk(&root, v)
	if v.at == nil {
		return true
	}
	c.fail(startOf(v.at), "add `currency: USD` and its `rates` at the top of a rule file, or use cart.total",
		"cart.total_base is the cart total in the ruleset's currency, but the rules name no `currency` in %s", shorten(src))
	return false
}

type totalBaseFinder struct{ at ast.Node }

func (v *totalBaseFinder) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.MemberNode); ok && v.at == nil {
		if scope, field, ok := flatMember(n); ok && scope == EnvCart && field == totalBaseField {
			v.at = n
		}
	}
}

// totalBase is the fast form of a read of cart.total_base: the number,
// or nothing (the program then gives the error).
func (c *fastCompiler) totalBase(n *ast.CallNode) numFn {
	if callee(n) != totalBaseFunc || len(n.Arguments) != 1 {
		return nil
	}
	id, ok := n.Arguments[0].(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	i, ok := c.vals[id.Value]
	if !ok {
		return nil
	}
	return func(e *fastEnv) (float64, bool) {
		v, ok := e.Vals[i].(float64)
		return v, ok
	}
}
