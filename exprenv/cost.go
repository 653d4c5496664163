package exprenv

import (
	"math"
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// The cost of an expression: a deterministic bound, from its syntax tree,
// on the work one evaluation does on the trial environment, so that
// whether a rule is accepted never depends on the machine or how busy it
// is (the wall-clock time of a trial run did, before).
//
// Each node of the compiled (patched, optimized) tree counts one step each
// time it is evaluated (a step of expr's VM takes some 50 ns). The body of
// a predicate (all, any, filter, map, count, ...) is evaluated once per
// element of its collection: a constant list or range counts its length,
// an item's tags trialTags, and any other list TrialItems (the size of
// every list of the trial environment; a list made from one, by filter or
// map, is no longer). An operation that walks a whole list (`in` a list,
// sort, join, sum, ...) counts its length too; one that walks a whole
// structure (toJSON, fromJSON, string, flatten) counts walkCost, and
// matching a pattern that is not a constant (compiled each time)
// regexCost. Conditionals count their longer branch. It is a bound, not a
// measure: any and all may stop early, and a real cart is smaller.
const (
	// MaxCost is the most steps an expression may take on the trial
	// environment: about half a second of expr's VM, the wall-clock limit
	// of the trial run before this bound replaced it.
	MaxCost = 10_000_000
	// trialTags is the number of tags of a cart line of the trial.
	trialTags = 10
	// walkCost is walking the largest structure of the trial (the cart)
	// whole, as toJSON does, counted in steps (measured).
	walkCost = 60_000
	// regexCost is compiling a regular expression, in steps (measured).
	regexCost = 500
)

// walksList are the builtins that walk the whole list of their first
// argument besides any predicate.
var walksList = map[string]bool{
	"sum": true, "mean": true, "median": true, "max": true, "min": true, "sort": true, "sortBy": true,
	"reverse": true, "uniq": true, "join": true, "concat": true, "keys": true, "values": true,
	"toPairs": true, "fromPairs": true, "groupBy": true, "take": true,
}

// walksAll are the builtins that walk a whole structure.
var walksAll = map[string]bool{"toJSON": true, "fromJSON": true, "string": true, "flatten": true}

// cost is the bound on the steps of one evaluation of n.
func cost(n ast.Node) int64 {
	switch n := n.(type) {
	case nil:
		return 0
	case *ast.UnaryNode:
		return add(1, cost(n.Node))
	case *ast.BinaryNode:
		s := add(1, add(cost(n.Left), cost(n.Right)))
		switch n.Operator {
		case "..":
			s = add(s, size(n))
		case "in", "not in", "==", "!=":
			if isList(n.Right) {
				s = add(s, size(n.Right))
			}
		case "matches":
			if _, constant := n.Right.(*ast.StringNode); !constant {
				s = add(s, regexCost)
			}
		}
		return s
	case *ast.ChainNode:
		return add(1, cost(n.Node))
	case *ast.MemberNode:
		return add(1, add(cost(n.Node), cost(n.Property)))
	case *ast.SliceNode:
		return add(1, add(cost(n.Node), add(cost(n.From), cost(n.To))))
	case *ast.CallNode:
		s := add(1, cost(n.Callee))
		for _, a := range n.Arguments {
			s = add(s, cost(a))
		}
		return s
	case *ast.BuiltinNode:
		s := int64(1)
		for i, a := range n.Arguments {
			if p, ok := a.(*ast.PredicateNode); ok {
				s = add(s, mul(size(n.Arguments[0]), cost(p.Node)))
				continue
			}
			s = add(s, cost(a))
			switch {
			case walksAll[n.Name]:
				s = add(s, walkCost)
			case walksList[n.Name] && (i == 0 || n.Name == "concat") && isList(a):
				s = add(s, size(a))
			}
		}
		return s
	case *ast.PredicateNode:
		return cost(n.Node)
	case *ast.VariableDeclaratorNode:
		return add(1, add(cost(n.Value), cost(n.Expr)))
	case *ast.SequenceNode:
		s := int64(1)
		for _, x := range n.Nodes {
			s = add(s, cost(x))
		}
		return s
	case *ast.ConditionalNode:
		return add(1, add(cost(n.Cond), max(cost(n.Exp1), cost(n.Exp2))))
	case *ast.ArrayNode:
		s := int64(1)
		for _, x := range n.Nodes {
			s = add(s, cost(x))
		}
		return s
	case *ast.MapNode:
		s := int64(1)
		for _, x := range n.Pairs {
			s = add(s, cost(x))
		}
		return s
	case *ast.PairNode:
		return add(1, add(cost(n.Key), cost(n.Value)))
	}
	return 1 // a name, a constant, a pointer (#, .field)
}

// isList reports whether n may be a list (or a map, or a value of a type
// only known at run time).
func isList(n ast.Node) bool {
	t := n.Type()
	if t == nil {
		return true
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Interface:
		return true
	}
	return false
}

// size bounds the length of the list n gives on the trial environment.
func size(n ast.Node) int64 {
	switch n := n.(type) {
	case *ast.ConstantNode:
		v := reflect.ValueOf(n.Value)
		switch v.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map:
			return int64(v.Len())
		}
	case *ast.ArrayNode:
		return int64(len(n.Nodes))
	case *ast.BinaryNode:
		if n.Operator == ".." {
			lo, ok1 := intConst(n.Left)
			hi, ok2 := intConst(n.Right)
			if ok1 && ok2 {
				return int64(max(0, hi-lo+1))
			}
		}
	case *ast.BuiltinNode:
		switch n.Name {
		case "filter", "map", "sortBy", "sort", "reverse", "uniq", "take":
			if len(n.Arguments) > 0 {
				return size(n.Arguments[0])
			}
		case "concat":
			var s int64
			for _, a := range n.Arguments {
				s = add(s, size(a))
			}
			return s
		case "flatten":
			return TrialItems * trialTags
		}
	case *ast.MemberNode:
		if p, ok := n.Property.(*ast.StringNode); ok && p.Value == "tags" {
			switch x := n.Node.(type) {
			case *ast.PointerNode:
				return trialTags
			case *ast.IdentifierNode:
				if x.Value == EnvItem {
					return trialTags
				}
			}
		}
	}
	return TrialItems
}

// add and mul saturate, so that no bound overflows.
func add(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func mul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}
