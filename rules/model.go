// Package rules turns marketers' YAML rule files into a compiled,
// type-checked Ruleset (Compile), and holds the rule tests written beside
// them. It is given the files' contents (File) and never touches the file
// system: adapters/rulefiles reads a rules directory from disk. Expressions
// are compiled by exprenv, whose errors rules places in the files (file,
// line, column); nothing here runs per request: the engine evaluates the
// compiled expressions through exprenv.
package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/currency"
	"github.com/arbiterhq/arbiter/exprenv"
)

// Pos is a place in a rule file: the file's path relative to the rules
// directory, and a 1-based line and column.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// Type is the type of a profile field.
type Type int

// The profile field types of the spec.
const (
	TypeString     Type = iota + 1 // string
	TypeInt                        // int (Go int)
	TypeNumber                     // number (Go float64)
	TypeBool                       // bool
	TypeTime                       // time (Go time.Time, UTC)
	TypeStringList                 // [string] (Go []string)
	TypeNumberList                 // [number] (Go []float64)
)

// Field is one attribute of the profile schema. Default holds a value of
// the field's Go type (see Type): the stated default, else the type's zero.
type Field struct {
	Name    string
	Type    Type
	Default any
	// PII marks a field that never leaves Redis: decision events do not
	// record it (`email: {type: string, pii: true}`).
	PII bool
	Pos Pos
}

// Schema is the profile schema: the typed attributes rules may read as
// profile.<name>. Fields are in the order written.
type Schema struct {
	Fields   []Field
	index    map[string]int
	defaults map[string]any
}

// Expr is one compiled expression (exprenv's, which the engine evaluates
// with an exprenv.Env) and where it is written.
type Expr struct {
	*exprenv.Expr
	Pos Pos // where the expression starts in its file
}

// Number is a rule number that is either a constant or an expression
// (percent: 10, or percent: "min(20, 5 + profile.churn_risk * 20)").
// When Expr is nil, Value holds the constant.
type Number struct {
	Value float64
	Expr  *Expr
}

// Template is a title or message with {{percent}}, {{amount}},
// {{currency}} and {{profile.FIELD}} placeholders, split at load.
type Template struct {
	Source string
	Parts  []TemplatePart
}

// TemplatePart is a literal (Var == "") or a placeholder: Var is
// "percent", "amount", "currency" or "profile.FIELD".
type TemplatePart struct {
	Literal string
	Var     string
}

// Segment is a named group of customers.
type Segment struct {
	ID          string
	Description string
	When        *Expr
	// Uses lists the segments this one reads through `segments`.
	Uses []string
	Pos  Pos
}

// Offer kinds.
const (
	KindDiscount = "discount"
	KindAction   = "action"
)

// DiscountType names a discount's type, as shown in responses.
type DiscountType string

// The discount types of the spec.
const (
	DiscountPercent      DiscountType = "percent"
	DiscountAmount       DiscountType = "amount"
	DiscountTiers        DiscountType = "tiers"
	DiscountBuyXGetY     DiscountType = "buy_x_get_y"
	DiscountFreeShipping DiscountType = "free_shipping"
)

// Tier is one spend threshold. MinTotal and Amount are in major units of
// the ruleset's currency, or of the cart's when the ruleset names none (15
// means 15.00 USD, 15 JPY); MinTotalBy and AmountBy hold them per currency
// when written as maps. Exactly one of Amount and Percent applies: Percent
// when IsPercent.
type Tier struct {
	MinTotal   float64
	Amount     float64
	Percent    float64
	IsPercent  bool
	MinTotalBy PerCurrency
	AmountBy   PerCurrency
}

// PerCurrency is a money number written per currency ({USD: 15, EUR: 14,
// JPY: 2000}): major units by ISO 4217 code, the ruleset's currency always
// among them (its value is also the number's single value). The cart's
// currency's entry wins over a conversion. nil when the number is one value.
type PerCurrency map[string]float64

// Discount is an offer's discount. Amounts are in major units of the
// ruleset's currency, or of the cart's when the ruleset names none; the
// engine converts them to the cart's minor units. A constant amount or
// max_amount may be written per currency (AmountBy, MaxAmountBy); an amount
// expression gives the ruleset's currency.
type Discount struct {
	Type DiscountType

	Percent     Number      // percent: 0..100, clamped
	MaxAmount   float64     // percent: 0 means no maximum
	MaxAmountBy PerCurrency // percent: max_amount per currency, or nil

	Amount   Number      // amount: >= 0, clamped to the eligible subtotal
	AmountBy PerCurrency // amount: per currency (a constant), or nil

	Tiers []Tier // tiers: ascending by MinTotal

	Buy, Get       int     // buy_x_get_y
	BuyGetPercent  float64 // buy_x_get_y: percent off the free units (default 100)
	FreeShipping   bool    // free_shipping
	Items          *Expr   // optional item filter (bool, with `item` in scope)
	ItemsSource    string  // the filter as written, for explain
	HasPercentLike bool    // true for percent, tiers with percent, buy_x_get_y: {{percent}} has a value
}

// Schedule limits when an offer is active. Start is inclusive, End
// exclusive; Days and Hours are read in Location.
type Schedule struct {
	Start, End time.Time // zero: unbounded
	Days       [7]bool   // indexed by time.Weekday; all false means every day
	HasDays    bool
	// FromMinute and ToMinute bound the minute of the day, inclusive
	// ("18:00-23:59" is 1080..1439). HasHours false means all day.
	FromMinute, ToMinute int
	HasHours             bool
	Location             *time.Location
}

// Active reports whether the schedule lets its offer be offered at now:
// start inclusive, end exclusive; days and hours (minute of the day, both
// ends inclusive) read in the schedule's timezone. A nil schedule is
// always active.
func (sc *Schedule) Active(now time.Time) bool {
	if sc == nil {
		return true
	}
	if !sc.Start.IsZero() && now.Before(sc.Start) {
		return false
	}
	if !sc.End.IsZero() && !now.Before(sc.End) {
		return false
	}
	if !sc.HasDays && !sc.HasHours {
		return true
	}
	loc := sc.Location
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	if sc.HasDays && !sc.Days[local.Weekday()] {
		return false
	}
	if sc.HasHours {
		m := local.Hour()*60 + local.Minute()
		if m < sc.FromMinute || m > sc.ToMinute {
			return false
		}
	}
	return true
}

// Caps limit grants of an offer. Zero values mean "no such cap".
type Caps struct {
	PerCustomer int           // grants per customer in Window
	Window      time.Duration // 0: for ever
	Total       int64         // grants fleet-wide
	Budget      float64       // discount money fleet-wide, in major units of the ruleset's currency (without one, of each cart's currency)
	// Hold: a grant reserves its count and amount until an outcome commits
	// it or Hold passes (SPEC-LOOP "Budgets held until committed"); 0 means
	// a grant consumes at once.
	Hold time.Duration
	// Pacing is "" or PacingEven: spend no faster than the schedule window
	// allows.
	Pacing string
}

// PacingEven spreads an offer's total and budget evenly over its schedule.
const PacingEven = "even"

// Any reports whether the offer has any cap or budget.
func (c Caps) Any() bool { return c.PerCustomer > 0 || c.Total > 0 || c.Budget > 0 }

// Offer is a next best action, with or without a discount.
type Offer struct {
	ID              string
	Title           Template
	Message         Template
	Kind            string   // KindDiscount or KindAction
	Placements      []string // empty: all
	Segments        []string // any of; empty: everyone
	ExcludeSegments []string // none of
	When            *Expr    // nil: always
	Discount        *Discount
	Priority        float64
	Score           *Expr // nil: the priority
	Group           string
	Schedule        *Schedule
	Caps            Caps
	Payload         map[string]any
	// Disabled is set by an experiment variant's {disabled: true}.
	Disabled bool
	// Fallback is true when the offer is named in arbitration.fallback.
	Fallback bool
	// ReadsPropensity: the offer's score reads `propensity` (the ruleset
	// learns its reward rate, and its grants are recorded as trials).
	ReadsPropensity bool
	// Learns: the ruleset learns the offer's reward rate (its score, or
	// an experiment variant's override of it, reads `propensity`), so
	// that its every grant is a trial and recorded, whichever variant
	// made it (SPEC-LOOP, "Learning arbitration"); set on the offer and on
	// each variant's override alike.
	Learns bool
	// Index is the offer's position in Ruleset.Offers; a variant's
	// override of an offer keeps the index of the offer it overrides.
	Index int
	Pos   Pos
}

// Variant is one arm of an experiment. Offers holds, for every offer the
// variant overrides, a complete compiled offer with the overrides applied,
// keyed by the offer's Index; the engine uses it instead of the base offer
// for customers in the variant, so nothing is copied per request.
type Variant struct {
	ID     string
	Weight float64
	Offers map[int]*Offer
	// Learning, when set to false, decides this variant's customers with
	// propensity at the prior mean (learning measured against static
	// scores); nil: as the ruleset says.
	Learning *bool
	Pos      Pos
}

// Experiment is an A/B test over offers.
type Experiment struct {
	ID       string
	Salt     string  // default: the id
	Traffic  float64 // percent of eligible customers enrolled, 0..100
	When     *Expr   // nil: every identified (non-anonymous) customer
	Variants []Variant
	// Layer names the experiment's layer: experiments of one layer never
	// share a customer (SPEC-LOOP "Experiment layers"); "" for none.
	Layer string
	// From and To are the experiment's range of layer buckets, inclusive
	// (stated with `buckets: 3000-7999` or given in the order written).
	From, To int
	// Status is "" (running) or ExperimentStopped: a stopped experiment
	// keeps its range and enrolls no one.
	Status string
	// Written is the experiment's place in the order written (files in
	// path order, then top to bottom), from 0: when two experiments'
	// variants disagree on `learning`, the first written wins.
	Written int
	Pos     Pos
}

// ExperimentStopped is the status of an experiment that enrolls no one.
const ExperimentStopped = "stopped"

// Arbitration settings.
type Arbitration struct {
	MaxActions         int     // default 3
	MaxDiscountPercent float64 // 0..100; 100 when not set
	Holdout            float64 // percent of identified customers held out
	Fallback           []string
	// Learning is the learning arbitration (SPEC-LOOP "Learning
	// arbitration"); nil when the rules do not learn.
	Learning *Learning
}

// Learning configures learning arbitration: scores may read `propensity`,
// each offer's reward rate in the decision's cell.
type Learning struct {
	Method string   // LearnThompson or LearnMean
	Reward string   // the outcome type that is a success: "converted" (default) or "accepted"
	By     []string // segments that make cells, first matched wins; else "all"
	// PriorAlpha and PriorBeta are the Beta prior of every offer's rate.
	PriorAlpha, PriorBeta float64
	Refresh               time.Duration // how often a replica reloads statistics
	HalfLife              time.Duration // 0: no decay
	Pos                   Pos
}

// Learning methods.
const (
	LearnThompson = "thompson"
	LearnMean     = "mean"
)

// Ruleset is a compiled, type-checked set of rules. It is immutable once
// built and safe for concurrent use.
type Ruleset struct {
	// Version is a short hash of the rules' content: the same on every
	// machine, unchanged by comments, formatting or file order.
	Version string
	// Env is what the compiled expressions read, which the engine gives
	// exprenv.Env.Begin; segments are numbered as in Segments.
	Env         *exprenv.Layout
	Schema      Schema
	Segments    []*Segment // in dependency order: a segment after those it uses
	Offers      []*Offer   // sorted by id
	Experiments []*Experiment
	Arbitration Arbitration
	// Currency is the ruleset's currency (ISO 4217), in which its money
	// numbers and budgets are written; "" when not set (money numbers are
	// then in the cart's currency, as in SPEC.md).
	Currency string
	// Rates holds, per ISO 4217 code, the exact value of one unit of that
	// currency in Currency (`rates: {EUR: 1.08}`); nil without rates.
	Rates map[string]currency.Rate
	// Warnings are problems that do not stop the rules from loading
	// (`arbiter rules check` shows them), in file and line order.
	Warnings Errors
	// Files lists the rule files read, relative to the directory.
	Files []string
	// Tests are the rule tests found in *_test.yaml files.
	Tests []TestCase

	offers      map[string]*Offer
	recorded    []Field  // RecordedFields
	recordedAt  []int32  // RecordedAt
	profileAt   []int32  // ProfileAt
	schemaNames []string // SchemaNames
	index       *Index   // Index
}

// TestCase is one rule test. Profile is the JSON form of a profile (id,
// schema fields); Request is a /v1/decide body; both as decoded from YAML.
type TestCase struct {
	Name string
	Pos  Pos
	// Now is the case's `now:`; else, when its request has no "now", its
	// file's `now:`; zero when none applies (the runner then takes the
	// request's now, else ruletest.DefaultNow).
	Now     time.Time
	Profile map[string]any // nil: anonymous
	Request map[string]any
	Expect  Expect
	// Places are where the values of Profile and Request are written, by
	// JSON path: "profile.orders", "request.cart.items[0].price".
	Places map[string]Pos
}

// Place is where the value at the JSON path ("profile.orders",
// "request.cart.items[0].price") is written in the case: the place of
// the longest part of the path that is written, else the case's own.
func (tc *TestCase) Place(path string) Pos {
	for path != "" {
		if p, ok := tc.Places[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return tc.Pos
}

// Expect is what a rule test checks. A nil slice is not checked; an empty
// one means "none".
type Expect struct {
	Segments      []string // these must match (others may too)
	NotSegments   []string // these must not match
	Actions       []string // exactly these offers, in this order
	DiscountTotal *float64 // the sum of the actions' discount amounts
	Experiments   map[string]string
	Holdout       *bool
}

// DefaultValue is the value a profile without this field has: the field's
// default, or the zero value of its type (an empty list, the zero time).
func (f Field) DefaultValue() any {
	switch f.Type {
	case TypeString:
		if s, ok := f.Default.(string); ok {
			return s
		}
		return ""
	case TypeInt:
		if n, ok := f.Default.(int); ok {
			return n
		}
		return 0
	case TypeNumber:
		if n, ok := f.Default.(float64); ok {
			return n
		}
		return 0.0
	case TypeBool:
		if b, ok := f.Default.(bool); ok {
			return b
		}
		return false
	case TypeTime:
		if t, ok := f.Default.(time.Time); ok {
			return t.UTC()
		}
		return time.Time{}
	case TypeStringList:
		if l, ok := f.Default.([]string); ok && l != nil {
			return l
		}
		return []string{}
	case TypeNumberList:
		if l, ok := f.Default.([]float64); ok && l != nil {
			return l
		}
		return []float64{}
	}
	return f.Default
}

// Defaults is the profile of a customer without a stored profile, in the
// form of Profile attributes: every field at its default, "id" "" and
// "known" false. The map is shared: callers must not change it.
func (s *Schema) Defaults() map[string]any {
	if s.defaults != nil {
		return s.defaults
	}
	return s.makeDefaults()
}

func (s *Schema) makeDefaults() map[string]any {
	m := make(map[string]any, len(s.Fields)+2)
	for _, f := range s.Fields {
		m[f.Name] = f.DefaultValue()
	}
	m["id"] = ""
	m["known"] = false
	return m
}

// Field returns the schema field with the given name.
func (s *Schema) Field(name string) (Field, bool) {
	if s.index == nil {
		for _, f := range s.Fields {
			if f.Name == name {
				return f, true
			}
		}
		return Field{}, false
	}
	i, ok := s.index[name]
	if !ok {
		return Field{}, false
	}
	return s.Fields[i], true
}

// Offer returns the offer with the given id.
func (r *Ruleset) Offer(id string) (*Offer, bool) {
	if r.offers == nil {
		for _, o := range r.Offers {
			if o.ID == id {
				return o, true
			}
		}
		return nil, false
	}
	o, ok := r.offers[id]
	return o, ok
}

// DayList lists the schedule's days as written in rule files (mon ... sun,
// Monday first); nil when every day is allowed.
func (sc *Schedule) DayList() []string {
	if sc == nil || !sc.HasDays {
		return nil
	}
	var out []string
	for i, name := range dayNames {
		if sc.Days[(i+1)%7] {
			out = append(out, name)
		}
	}
	return out
}

// HoursText is the schedule's hours as written ("18:00-23:59"); "" when
// all day.
func (sc *Schedule) HoursText() string {
	if sc == nil || !sc.HasHours {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", sc.FromMinute/60, sc.FromMinute%60, sc.ToMinute/60, sc.ToMinute%60)
}

// Why says why the schedule does not let its offer be offered at now
// ("not started: starts ...", "ended ...", "not on Monday (days: sat, sun
// in Europe/Paris)", "outside its hours (...)"); "" when it does (Active).
func (sc *Schedule) Why(now time.Time) string {
	if sc == nil {
		return ""
	}
	if !sc.Start.IsZero() && now.Before(sc.Start) {
		return "not started: starts " + sc.Start.Format(time.RFC3339)
	}
	if !sc.End.IsZero() && !now.Before(sc.End) {
		return "ended " + sc.End.Format(time.RFC3339)
	}
	loc := sc.Location
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	if sc.HasDays && !sc.Days[local.Weekday()] {
		return fmt.Sprintf("not on %s (days: %s in %s)", local.Weekday(), strings.Join(sc.DayList(), ", "), loc)
	}
	if sc.HasHours {
		m := local.Hour()*60 + local.Minute()
		if m < sc.FromMinute || m > sc.ToMinute {
			return fmt.Sprintf("outside its hours (%s in %s; it is %s there)", sc.HoursText(), loc, local.Format("15:04"))
		}
	}
	return ""
}
