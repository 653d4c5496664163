package exprenv

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// The custom functions of the rule language. Each takes the decision time
// as a hidden first argument, added at compile time by nowPatcher, so the
// functions are pure and no closure is made per decision. hourIn and
// weekdayIn read their zone from the compiler's zone table (zones.go).

// funcSpec describes a custom function as the marketer writes it.
type funcSpec struct {
	name  string
	args  int    // arguments the user writes (without the hidden now)
	usage string // how to call it, for error messages
}

var customFuncs = map[string]funcSpec{
	"daysSince":         {"daysSince", 1, "daysSince(time)"},
	"hoursSince":        {"hoursSince", 1, "hoursSince(time)"},
	"daysUntil":         {"daysUntil", 1, "daysUntil(time)"},
	"anniversaryWithin": {"anniversaryWithin", 2, "anniversaryWithin(time, days)"},
	"hourIn":            {"hourIn", 1, `hourIn("Europe/Paris")`},
	"weekdayIn":         {"weekdayIn", 1, `weekdayIn("Europe/Paris")`},
}

var errNotTime = errors.New("argument is not a time")

func argTimes(params []any) (now, t time.Time, err error) {
	if len(params) < 2 {
		return now, t, errors.New("missing argument")
	}
	now, ok1 := params[0].(time.Time)
	t, ok2 := params[1].(time.Time)
	if !ok1 || !ok2 {
		return now, t, fmt.Errorf("%w: %T", errNotTime, params[1])
	}
	return now, t, nil
}

func fnDaysSince(params ...any) (any, error) {
	now, t, err := argTimes(params)
	if err != nil {
		return nil, err
	}
	return now.Sub(t).Hours() / 24, nil
}

func fnHoursSince(params ...any) (any, error) {
	now, t, err := argTimes(params)
	if err != nil {
		return nil, err
	}
	return now.Sub(t).Hours(), nil
}

func fnDaysUntil(params ...any) (any, error) {
	now, t, err := argTimes(params)
	if err != nil {
		return nil, err
	}
	return t.Sub(now).Hours() / 24, nil
}

// anniversaryDate is month/day in year y at UTC midnight; Feb 29 becomes
// Feb 28 in a year that is not a leap year.
func anniversaryDate(y int, m time.Month, d int) time.Time {
	if m == time.February && d == 29 && !isLeap(y) {
		d = 28
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// anniversaryWithin reports whether the next anniversary of t's month and
// day (UTC) is at most days whole days after now's UTC date (today is 0).
// A zero time (an unknown date) never matches.
func anniversaryWithin(now, t time.Time, days float64) bool {
	if t.IsZero() || days < 0 {
		return false
	}
	n, tt := now.UTC(), t.UTC()
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	next := anniversaryDate(n.Year(), tt.Month(), tt.Day())
	if next.Before(today) {
		next = anniversaryDate(n.Year()+1, tt.Month(), tt.Day())
	}
	diff := int(next.Sub(today).Hours()/24 + 0.5)
	return float64(diff) <= days
}

func fnAnniversaryWithin(params ...any) (any, error) {
	now, t, err := argTimes(params)
	if err != nil {
		return nil, err
	}
	if len(params) < 3 {
		return nil, errors.New("missing argument days")
	}
	var days float64
	switch d := params[2].(type) {
	case int:
		days = float64(d)
	case float64:
		days = d
	case int64:
		days = float64(d)
	default:
		return nil, fmt.Errorf("days must be a number, got %T", params[2])
	}
	return anniversaryWithin(now, t, days), nil
}

var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (z *zoneTable) fnHourIn(params ...any) (any, error) {
	if len(params) < 2 {
		return nil, errors.New("missing argument")
	}
	now, ok := params[0].(time.Time)
	if !ok {
		return nil, errNotTime
	}
	loc, err := z.location(params[1])
	if err != nil {
		return nil, err
	}
	return now.In(loc).Hour(), nil
}

func (z *zoneTable) fnWeekdayIn(params ...any) (any, error) {
	if len(params) < 2 {
		return nil, errors.New("missing argument")
	}
	now, ok := params[0].(time.Time)
	if !ok {
		return nil, errNotTime
	}
	loc, err := z.location(params[1])
	if err != nil {
		return nil, err
	}
	return weekdayNames[now.In(loc).Weekday()], nil
}

// funcOptions registers the custom functions, with their types as the
// checker sees them after nowPatcher has added the time.
func funcOptions(z *zoneTable) []expr.Option {
	return []expr.Option{
		expr.Function("daysSince", fnDaysSince, new(func(time.Time, time.Time) float64)),
		expr.Function("hoursSince", fnHoursSince, new(func(time.Time, time.Time) float64)),
		expr.Function("daysUntil", fnDaysUntil, new(func(time.Time, time.Time) float64)),
		expr.Function("anniversaryWithin", fnAnniversaryWithin,
			new(func(time.Time, time.Time, int) bool), new(func(time.Time, time.Time, float64) bool)),
		expr.Function("hourIn", z.fnHourIn,
			new(func(time.Time, string) int), new(func(time.Time, *time.Location) int)),
		expr.Function("weekdayIn", z.fnWeekdayIn,
			new(func(time.Time, string) string), new(func(time.Time, *time.Location) string)),
	}
}

func noCall(...any) (any, error) { return nil, errors.New("type-checking stub") }

// userFuncOptions declares the custom functions with the signatures the
// user writes, for the type-checking compile only (never run).
func userFuncOptions() []expr.Option {
	return []expr.Option{
		expr.Function("daysSince", noCall, new(func(time.Time) float64)),
		expr.Function("hoursSince", noCall, new(func(time.Time) float64)),
		expr.Function("daysUntil", noCall, new(func(time.Time) float64)),
		expr.Function("anniversaryWithin", noCall, new(func(time.Time, int) bool), new(func(time.Time, float64) bool)),
		expr.Function("hourIn", noCall, new(func(string) int)),
		expr.Function("weekdayIn", noCall, new(func(string) string)),
	}
}

// nowPatcher rewrites a call of a custom function f(x) into f(now, x),
// and resolves a constant time zone name at compile time.
type nowPatcher struct {
	c      *Compiler
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
			loc, err := p.c.zones.load(s.Value)
			if err != nil || s.Value == "" || s.Value == "Local" {
				p.failed = true
				p.c.fail(s.Location().From, "write an IANA time zone name like \"Europe/Paris\" or \"UTC\"",
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
