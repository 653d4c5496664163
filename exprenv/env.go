// Package exprenv is the expression environment of the rules: the names
// an expression may read and their types (env.go), the compiler of one
// expression against them, with its limits, messages and load-time trial
// run (compile.go, cost.go), the flat names and the fast path that make
// evaluation cheap (flat.go, fast.go), the custom functions and the time
// zones they read (funcs.go, zones.go), cart.total_base and its run-time
// check (base.go), and the per-decision environment that evaluates a
// condition or a number (eval.go).
//
// It imports neither rules nor engine: rules compiles each expression of
// the rule files here and maps an error's offset to file:line:col, and the
// engine evaluates the compiled expressions through Env. Nothing here does
// I/O during a decision; the time-zone database is read, when the rules
// need it, at compile time.
package exprenv

import (
	"sort"
	"time"

	"github.com/expr-lang/expr/types"
)

// The expression environment. Every expression is compiled against a
// typed description of these names (so that an unknown name or a wrong
// type is an error at load) and, when the fast path cannot answer,
// evaluated on a map[string]any of this shape (Env fills it):
//
//	profile   map[string]any: every schema field, with the Go type of its
//	          Type (string, int, float64, bool, time.Time, []string,
//	          []float64), plus "id" (string) and "known" (bool)
//	cart      map[string]any: "total" (float64, major units), "currency"
//	          (string), "item_count" (int, sum of quantities), "items"
//	          ([]any of item maps), "total_base" (float64, the total in
//	          the ruleset's currency; base.go)
//	item      map[string]any: "sku", "category" (string), "price" (float64,
//	          major units), "quantity" (int), "tags" ([]string); only in
//	          discount.items filters
//	ctx       map[string]any: the request's context as decoded from JSON
//	          (string, float64, bool, []any), plus "placement" and
//	          "channel" (string)
//	now       time.Time: the decision's time
//	segments  []string: the ids of the segments matched so far
//	priority  float64: the offer's priority; only in score expressions
//	discount  float64: the offer's discount amount for this decision, in
//	          major units of the cart's currency (0 for actions); only in
//	          score expressions
//	propensity float64: the offer's reward rate in the decision's cell, in
//	          [0, 1]; only in score expressions of a ruleset that learns
//	          (Config.Learning)
//
// Results: conditions (KindCond, KindItems) are compiled with expr.AsBool
// and numbers (KindNumber, KindScore) with expr.AsFloat64, so a program
// returns a bool or a float64 (an int result is converted), or a run-time
// error. The functions daysSince, hoursSince, daysUntil,
// anniversaryWithin, hourIn and weekdayIn read "now" from the
// environment: it is always set.
//
// Adding a name to a kind of expression is local to this package: a
// number that only some kinds read (like priority in scores) is a row of
// vars below, set by the caller with Env.SetVar; a member of cart is a row
// of cartFields with its value in Input; anything else is a line in scope
// and its filling in Env (eval.go). The fast path and the differential
// test (fast_test.go) then learn the new name.
const (
	EnvProfile  = "profile"
	EnvCart     = "cart"
	EnvItem     = "item"
	EnvCtx      = "ctx"
	EnvNow      = "now"
	EnvSegments = "segments"
	EnvPriority = "priority"
)

// The names of scores beside priority (see vars).
const (
	EnvDiscount   = "discount"
	EnvPropensity = "propensity"
)

// Type is the type of a profile field, as the schema names it.
type Type int

// The profile field types, with the Go type of their values.
const (
	TypeString     Type = iota + 1 // string
	TypeInt                        // int
	TypeNumber                     // float64
	TypeBool                       // bool
	TypeTime                       // time.Time
	TypeStringList                 // []string
	TypeNumberList                 // []float64
)

// Field is one field of the profile schema.
type Field struct {
	Name string
	Type Type
}

// Kind is what an expression gives and which names it may read.
type Kind int

// The kinds of expression.
const (
	KindCond   Kind = iota // a condition (when): bool
	KindNumber             // a number (percent, amount): float64
	KindItems              // a discount's items filter: bool, with item in scope
	KindScore              // an offer's score: float64, with priority in scope
	numKinds
)

// bool reports whether expressions of kind k give true or false.
func (k Kind) bool() bool { return k == KindCond || k == KindItems }

// Var is a number that only some kinds of expression read, which the
// caller sets before evaluating one (Env.SetVar).
type Var int

// The vars.
const (
	VarPriority   Var = iota // priority: the offer's priority, in scores
	VarDiscount              // discount: the offer's discount amount (major units), in scores
	VarPropensity            // propensity: the offer's reward rate in the cell, in scores of a ruleset that learns
	numVars
)

// vars names each Var, the kind of expression that reads it, and where
// that is in the rule files (for the message when another kind reads it).
// A var with learning set is in scope only when the ruleset learns
// (Config.Learning).
var vars = [numVars]struct {
	name     string
	kind     Kind
	where    string
	learning bool
}{
	VarPriority:   {EnvPriority, KindScore, "an offer's score", false},
	VarDiscount:   {EnvDiscount, KindScore, "an offer's score", false},
	VarPropensity: {EnvPropensity, KindScore, "an offer's score", true},
}

// cartFields are the members of cart: their types and their values in a
// decision. items has no value here: it is a list of maps, built only for
// the VM.
var cartFields = []struct {
	name string
	typ  types.Type
	get  func(in *Input) any
}{
	{"total", types.Float64, func(in *Input) any { return in.Total }},
	{"currency", types.String, func(in *Input) any { return in.Currency }},
	{"item_count", types.Int, func(in *Input) any { return in.ItemCount }},
	{totalBaseField, types.Float64, totalBaseValue}, // base.go
	{"items", types.Array(itemType), nil},
}

var (
	timeType    = types.TypeOf(time.Time{})
	stringsType = types.TypeOf([]string{})
	itemType    = types.Map{
		"sku":      types.String,
		"category": types.String,
		"price":    types.Float64,
		"quantity": types.Int,
		"tags":     stringsType,
	}
	cartType = func() types.Map {
		m := types.Map{}
		for _, f := range cartFields {
			m[f.name] = f.typ
		}
		return m
	}()
	ctxType = types.Map{
		"placement": types.String,
		"channel":   types.String,
		types.Extra: types.Any,
	}
)

// scope is the typed environment of an expression of kind k, whose
// profile has the fields of profile; learning: the ruleset learns, so
// that the vars of learning are in scope.
func scope(k Kind, profile types.Map, learning bool) types.Map {
	m := types.Map{
		EnvProfile:  profile,
		EnvCart:     cartType,
		EnvCtx:      ctxType,
		EnvNow:      timeType,
		EnvSegments: stringsType,
	}
	if k == KindItems {
		m[EnvItem] = itemType
	}
	for _, v := range vars {
		if v.kind == k && (learning || !v.learning) {
			m[v.name] = types.Float64
		}
	}
	return m
}

// profileType is the typed profile of a schema.
func profileType(fields []Field) types.Map {
	m := types.Map{"id": types.String, "known": types.Bool}
	for _, f := range fields {
		m[f.Name] = goType(f.Type)
	}
	return m
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
		return timeType
	case TypeStringList:
		return stringsType
	case TypeNumberList:
		return types.TypeOf([]float64{})
	}
	return types.Any
}

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
