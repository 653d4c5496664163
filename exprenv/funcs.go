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

// fnTimezone is expr's timezone(name), reading the zone table.
func (z *zoneTable) fnTimezone(params ...any) (any, error) {
	if len(params) != 1 {
		return nil, errors.New("timezone takes one argument")
	}
	name, ok := params[0].(string)
	if !ok {
		return nil, fmt.Errorf("time zone must be a string, got %T", params[0])
	}
	return z.lookup(name)
}

// dateLayouts are the layouts expr's date(s) tries, in order.
var dateLayouts = []string{
	"2006-01-02",
	"15:04:05",
	"2006-01-02 15:04:05",
	time.RFC3339,
	time.RFC822,
	time.RFC850,
	time.RFC1123,
}

// fnDate is expr's date([location,] s [, layout [, zone]]), reading the
// zone table: date(s) tries dateLayouts, date(s, layout) parses with the
// layout, date(s, layout, zone) in the named zone; a location first is
// the zone of the first two forms.
func (z *zoneTable) fnDate(params ...any) (any, error) {
	tz, ok := params[0].(*time.Location)
	if ok {
		params = params[1:]
	}
	if len(params) == 0 || len(params) > 3 {
		return nil, fmt.Errorf("invalid number of arguments for date (expected 1 to 3, got %d)", len(params))
	}
	for i, p := range params {
		if _, ok := p.(string); !ok {
			return nil, fmt.Errorf("date: argument %d must be a string, got %T", i+1, p)
		}
	}
	s := params[0].(string)
	switch len(params) {
	case 2:
		if tz != nil {
			return time.ParseInLocation(params[1].(string), s, tz)
		}
		return time.Parse(params[1].(string), s)
	case 3:
		loc, err := z.lookup(params[2].(string))
		if err != nil {
			return nil, err
		}
		return time.ParseInLocation(params[1].(string), s, loc)
	}
	for _, layout := range dateLayouts {
		var t time.Time
		var err error
		if tz == nil {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, tz)
		}
		if err == nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("invalid date %s", s)
}

// funcOptions registers the custom functions, with their types as the
// checker sees them after nowPatcher has added the time, and expr's
// timezone and date, which read the zone table instead of the database.
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
		expr.Function("timezone", z.fnTimezone, new(func(string) *time.Location)),
		expr.Function("date", z.fnDate, new(func(any) time.Time), new(func(any, any) time.Time),
			new(func(any, any, any) time.Time), new(func(any, any, any, any) time.Time)),
		totalBaseOption(), // base.go
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
// resolves a constant time zone name at compile time, and loads every
// zone when an expression takes its zone from data (zones.go).
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
	switch id.Value {
	case "timezone":
		for _, a := range call.Arguments {
			p.zoneArg(id.Value, a)
		}
		return
	case "date": // the zone is the third argument, or the fourth after a location
		for _, a := range call.Arguments[min(2, len(call.Arguments)):] {
			p.zoneArg(id.Value, a)
		}
		return
	}
	spec, ok := customFuncs[id.Value]
	if !ok || len(call.Arguments) != spec.args {
		return
	}
	if len(call.Arguments) > 0 && (spec.name == "hourIn" || spec.name == "weekdayIn") {
		if s, ok := call.Arguments[0].(*ast.StringNode); ok {
			loc, err := p.c.zones.constant(s.Value)
			if err != nil {
				p.failed = true
				p.c.fail(s.Location().From, "write an IANA time zone name like \"Europe/Paris\" or \"UTC\"",
					"unknown time zone %q in %s", s.Value, shorten(p.src))
				return
			}
			c := &ast.ConstantNode{Value: loc}
			c.SetLocation(s.Location())
			call.Arguments[0] = c
		} else if !p.zoneArg(spec.name, call.Arguments[0]) {
			return
		}
	}
	nowID := &ast.IdentifierNode{Value: EnvNow}
	nowID.SetLocation(call.Location())
	args := make([]ast.Node, 0, len(call.Arguments)+1)
	args = append(args, nowID)
	args = append(args, call.Arguments...)
	ast.Patch(node, &ast.CallNode{Callee: call.Callee, Arguments: args})
}

// zoneArg prepares the zone argument a of fn for run time: a constant
// name is loaded into the table if it is a zone (an error, if any, comes
// at run time, as from expr's own functions), and any other argument
// loads every zone. It reports false, with the error recorded, when the
// database cannot be read.
func (p *nowPatcher) zoneArg(fn string, a ast.Node) bool {
	if s, ok := a.(*ast.StringNode); ok {
		_, _ = p.c.zones.constant(s.Value)
		return true
	}
	if err := p.c.zones.loadAll(); err != nil {
		p.failed = true
		p.c.fail(startOf(a), "name the zone in the rule, like \"Europe/Paris\", or install the IANA time-zone database (tzdata)",
			"%s takes its time zone from data, which needs every zone loaded at load time, and the time-zone database could not be read (%v) in %s",
			fn, err, shorten(p.src))
		return false
	}
	return true
}

// startOf is the rune offset where the source of n starts: the least
// offset of its nodes (a member's own place is its property's).
func startOf(n ast.Node) int {
	v := &firstVisitor{from: n.Location().From}
	ast.Walk(&n, v)
	return v.from
}

type firstVisitor struct{ from int }

func (v *firstVisitor) Visit(n *ast.Node) {
	if f := (*n).Location().From; f < v.from {
		v.from = f
	}
}
