// Package engine makes the decision: given a compiled ruleset, a customer's
// profile, the request and the time, it matches segments, checks offers,
// computes exact discounts, assigns experiments and arbitrates between the
// eligible offers. It does no I/O: profiles come through the
// ProfileSource it is given (or from the caller), caps and budgets go
// through the Ledger, and time comes from the request. It knows nothing of
// JSON or events: package wire writes its decisions and their events.
// When the rules learn, scores read propensities from the Statistics
// snapshot it is given (learning.go), again without I/O.
package engine

import (
	"context"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// Item is one cart line. Price is in minor units of the cart's currency.
type Item struct {
	SKU      string
	Category string
	Price    int64
	Quantity int
	Tags     []string
}

// Cart is the request's cart. Currency is an ISO 4217 code; without a
// cart, Currency is "" and Items is empty.
type Cart struct {
	Currency string
	Items    []Item
}

// Request is a decision request, already validated by the caller.
type Request struct {
	// DecisionID identifies the decision ("dcs_" + ULID); the caller
	// makes it so that the engine needs no source of randomness.
	DecisionID string
	CustomerID string // "": anonymous
	Placement  string // "default" when the caller sent none
	Channel    string
	Cart       Cart
	// Context is the request's free-form context, as decoded from JSON.
	Context map[string]any
	Limit   int // 0: the ruleset's max_actions
	Explain bool
	DryRun  bool
	// Now is the decision's time: the request's arrival, or a dry run's
	// "now".
	Now time.Time
	// Ref is the decision's reference for the ledger (the ULID of its
	// signed id): the key of its grant records (Plan.Ref); "" for offline
	// decisions, which keep none.
	Ref string
	// Claim is the request's Idempotency-Key, claimed by the ledger in the
	// decision's one call (Plan.Claim); nil without one.
	Claim *Claim
	// Sign, when set, makes the decision's id once its experiments and
	// holdout are known, before any offer is scored (the server's signed
	// id carries them): Decide sets DecisionID, the request's and the
	// decision's, to it, so that Thompson draws are seeded by the id the
	// decision's event and its outcomes name.
	Sign func(experiments []Assignment, holdout bool) string
	// InlineProfile is a dry run's "profile" as sent (a JSON object, the
	// JSON form of a profile), nil when none was sent. The engine does not
	// read it: the caller decodes it against the schema
	// (profiles.FromJSON) and passes the profile to Decide.
	InlineProfile []byte
}

// Profile is a customer's attributes, decoded by the ruleset's schema,
// held one of two ways, and never changed once given to the engine:
//
//   - Attrs holds every schema field with its Go type (defaults filled
//     in), plus "id" and "known" (profiles.FromJSON, a hand-made profile);
//     a profile that is not stored may share the schema's defaults
//     (rules.Schema.Defaults), whose "id" is "";
//   - or, when Values is not nil, Values[i] is the value of Fields[i], every
//     field of the schema it was decoded by (profiles.FromHash, what the
//     profile cache keeps): one slice a customer instead of a map, which
//     the garbage collector scans at every cycle, and read by position,
//     not by hashing a name (rules.Ruleset.ProfileAt and RecordedAt say
//     where).
//
// ID and Known are what count; read a field with Lookup or Value, not
// Attrs, unless the profile is known to be of the first kind.
type Profile struct {
	ID     string
	Known  bool
	Attrs  map[string]any
	Fields []rules.Field
	Values []any
}

// Lookup returns the value of profile.<name> ("id" and "known" too), and
// whether the profile has that field.
func (p *Profile) Lookup(name string) (any, bool) {
	if p.Values == nil {
		v, ok := p.Attrs[name]
		return v, ok
	}
	switch name {
	case "id":
		return p.ID, true
	case "known":
		return p.Known, true
	}
	for i := range p.Fields {
		if p.Fields[i].Name == name {
			return p.Values[i], true
		}
	}
	return nil, false
}

// LookupAt is Lookup of a field that is the i-th of the schema's fields
// (rules.Ruleset.RecordedAt): read in place when the profile was decoded
// by that schema, else by name. A negative i reads by name.
func (p *Profile) LookupAt(i int, name string) (any, bool) {
	if p.Values != nil && uint(i) < uint(len(p.Values)) && i < len(p.Fields) && p.Fields[i].Name == name {
		return p.Values[i], true
	}
	return p.Lookup(name)
}

// Value is Lookup's value alone: nil when the profile has no such field.
func (p *Profile) Value(name string) any {
	v, _ := p.Lookup(name)
	return v
}

// AttrMap returns the profile's fields as Attrs holds them, "id" and
// "known" included: Attrs itself (not to be changed) or, for a profile of
// Values, a new map.
func (p *Profile) AttrMap() map[string]any {
	if p.Values == nil {
		return p.Attrs
	}
	m := make(map[string]any, len(p.Values)+2)
	for i := range p.Values {
		m[p.Fields[i].Name] = p.Values[i]
	}
	m["id"] = p.ID
	m["known"] = p.Known
	return m
}

// RecordedValue is the value the event records of Recorded[k]: the
// profile's, or the field's default when the profile has none.
func (d *Decision) RecordedValue(k int) any {
	f := &d.Recorded[k]
	at := -1
	if k < len(d.RecordedAt) {
		at = int(d.RecordedAt[k])
	}
	v, ok := d.Profile.LookupAt(at, f.Name)
	if !ok {
		v = f.DefaultValue()
	}
	return v
}

// decodedBy reports whether p's Values are by fields (the same schema).
func (p *Profile) decodedBy(fields []rules.Field) bool {
	return p.Values != nil && len(p.Fields) == len(fields) && (len(fields) == 0 || &p.Fields[0] == &fields[0])
}

// Decision is the answer to a decision request. wire.AppendDecision writes
// it in the JSON form of the spec's POST /v1/decide response; the engine
// knows nothing of JSON. Lists are empty, never nil.
type Decision struct {
	DecisionID  string
	CustomerID  string // "": anonymous
	Ruleset     string // the ruleset's version
	Segments    []string
	Actions     []Action
	Experiments []Assignment
	Holdout     bool
	Degraded    []string // DegradedProfile, DegradedLedger
	TookUS      int64    // set by the caller, who knows when the request arrived
	Explain     *Explain // only when the request asked for it

	// Learning lists, when the ruleset learns, the propensity of every
	// offer whose score reads it and that reached scoring, chosen or not,
	// in offer order (nil when none did); Cell is the decision's cell (""
	// when the ruleset does not learn).
	Learning []LearningUse
	Cell     string
	// learnBuf holds Learning when it is short, so that learning costs
	// the decision no allocation.
	learnBuf [4]LearningUse

	// What the decision event needs beyond the response.
	// Profile is the profile the decision read (shared, not to be
	// changed), and Recorded the fields of it that the event records
	// (rules.Ruleset.RecordedFields), RecordedAt where the profile's schema
	// has each (rules.Ruleset.RecordedAt: RecordedValue's shortcut).
	Profile    *Profile
	Recorded   []rules.Field
	RecordedAt []int32
	Placement  string
	Channel    string
	Currency   string
	CartTotal  Money
	Now        time.Time
	// Request is the request decided (shared, not to be changed): the
	// decision event records it so that the decision can be made again.
	Request *Request

	// The memory a decision keeps for reuse (decision.go): the backing
	// arrays of the actions' discounts, their percents and their lines,
	// the text of their titles and messages, and the profile of a
	// customer without a stored one.
	discounts  []DiscountResult
	percents   []float64
	amounts    []ItemAmount
	text       []byte
	defProfile Profile
}

// Action is one chosen offer.
type Action struct {
	OfferID  string
	Kind     string // rules.KindDiscount or rules.KindAction
	Title    string
	Message  string
	Score    float64
	Discount *DiscountResult // nil for an action without a discount
	Payload  map[string]any
	// Cell is the decision's learning cell, for an offer whose score
	// reads propensity (its outcomes count there); "" otherwise.
	Cell string
}

// DiscountResult is an action's discount, exact in minor units.
type DiscountResult struct {
	Type         string
	Percent      *float64 // a percent discount's percent
	Amount       Money
	Currency     string
	FreeShipping bool
	Items        []ItemAmount
}

// ItemAmount is the part of a discount that falls on one cart line.
type ItemAmount struct {
	SKU    string
	Amount Money
}

// Assignment is a customer's variant in one experiment.
type Assignment struct {
	ID      string // the experiment
	Variant string
	Layer   string // the experiment's layer; "" for none
}

// Degraded parts of a decision.
const (
	DegradedProfile = "profile_unavailable"
	DegradedLedger  = "ledger_unavailable"
	// DegradedLearning: the learning statistics were missing or stale, so
	// propensity was the prior mean.
	DegradedLearning = "learning_unavailable"
	// DegradedIdempotency: the request carried an Idempotency-Key that
	// could not be claimed (Redis unreachable).
	DegradedIdempotency = "idempotency_unavailable"
)

// Explain reasons, in the order eligibility is checked.
const (
	ReasonPlacement      = "placement"
	ReasonSchedule       = "schedule"
	ReasonSegment        = "segment"
	ReasonWhen           = "when"
	ReasonCapPerCustomer = "cap_per_customer"
	ReasonCapTotal       = "cap_total"
	ReasonBudget         = "budget"
	ReasonGroup          = "group"
	ReasonGuardrail      = "guardrail"
	ReasonLimit          = "limit"
	ReasonHoldout        = "holdout"
	ReasonExperiment     = "experiment"
	ReasonError          = "error"
	// ReasonPacing: the offer's paced allowance is used up for now.
	ReasonPacing = "pacing"
	// ReasonCurrency: a money offer for a cart whose currency has neither a
	// per-currency amount nor a rate.
	ReasonCurrency = "currency"
)

// Explain says, for every segment and offer, what happened and why.
type Explain struct {
	Segments []SegmentExplain
	Offers   []OfferExplain
}

// SegmentExplain is one segment's result.
type SegmentExplain struct {
	ID      string
	Matched bool
	Error   string // the expression's error, if it failed
}

// OfferExplain is one offer's result: chosen, or the first reason why not.
type OfferExplain struct {
	ID      string
	Chosen  bool
	Reason  string // one of the Reason constants; "" when chosen
	Detail  string
	Score   *float64 // when the offer was scored
	Error   string
	Variant string // experiment/variant that overrode it
	// Learning is the propensity its score read and the posterior it
	// came from; nil when its score does not read propensity.
	Learning *LearningUse
}

// Plan is what the engine asks the ledger to reserve, in one call per
// decision: the offers that passed every other check, in arbitration order
// (the main pass first, then the fallback offers), with the constraints of
// the greedy walk. Ledgers walk it with Plan.Walk (or the same walk in a
// Redis script) so that an offer that loses its reservation gives its place
// to the next one.
type Plan struct {
	Now        time.Time
	CustomerID string // "": anonymous
	Currency   string
	DryRun     bool // check, reserve nothing
	Limit      int  // at most this many grants
	// Guardrail bounds the sum of the granted discounts, in minor units.
	Guardrail int64
	Items     []PlanItem
	// Ref is the decision's reference (the ULID of its id, from
	// Request.Ref): the key of its grant records; "" keeps none.
	Ref string
	// BudgetCurrency is the currency budgets are kept in: the ruleset's
	// currency, or without one the cart's (Currency). Ledgers count each
	// item's Spend against its Budget under this currency (BudgetOf).
	BudgetCurrency string
	// Claim is the request's Idempotency-Key, claimed in this call; the
	// ledger sets its State (and Answer). nil: none.
	Claim *Claim

	// out is the engine's room for the results of a walk (Walk writes
	// there rather than allocate); nil in a plan built by hand.
	out []Result
}

// PlanItem is one candidate offer of a Plan.
type PlanItem struct {
	OfferID  string
	Group    string // "": none
	Amount   int64  // the discount, in minor units of Plan.Currency
	Fallback bool   // considered only when the main pass granted nothing
	// Caps, converted: Budget in minor units of Plan.BudgetCurrency.
	PerCustomer int
	Window      time.Duration
	Total       int64
	Budget      int64
	// Spend is what a grant counts against Budget: Amount in minor units of
	// Plan.BudgetCurrency, converted at grant time and rounded up (Amount
	// itself when BudgetCurrency is the cart's). Set for every item whose
	// amount can be converted, and always for items with a Budget.
	Spend int64
	// Hold (caps.hold): a grant is held for Hold, then released unless an
	// outcome committed it; total and budget bound held + committed. 0: a
	// grant consumes at once.
	Hold time.Duration
	// Record: the ledger keeps a record of the grant under Plan.Ref, so that
	// an outcome naming the decision finds it and can commit, release or
	// reward it: set for offers with a hold and, when the ruleset learns,
	// for offers whose score reads propensity, in decisions that are not
	// dry runs.
	Record bool
	// Cell is the grant's learning cell: a recorded grant with a cell
	// counts a trial there, in the same call ("": none).
	Cell string
	// Paced (caps.pacing: even): the item is granted only while the count
	// before it (held + committed) is below PaceTotal and the spend before
	// it is at most PaceBudget (minor units of the budget's currency), the
	// caps' shares of the schedule elapsed at Plan.Now.
	Paced      bool
	PaceTotal  int64
	PaceBudget int64
	// Score is the item's score, the key of its place in the main pass
	// (ledgers ignore it; arbiter replay reads it to find how likely
	// another propensity draw would have ordered the plan otherwise).
	Score float64
}

// BudgetOf returns what item i counts against its budget and the
// currency the budget is kept in: Spend in BudgetCurrency, or, for a plan
// that names no BudgetCurrency (one built by hand), Amount in Currency.
func (p *Plan) BudgetOf(i int) (spend int64, currency string) {
	it := &p.Items[i]
	if p.BudgetCurrency == "" {
		return it.Amount, p.Currency
	}
	return it.Spend, p.BudgetCurrency
}

// Capped reports whether the item needs a reservation.
func (it *PlanItem) Capped() bool { return it.PerCustomer > 0 || it.Total > 0 || it.Budget > 0 }

// NeedsLedger reports whether the plan must go to the ledger: it holds a
// capped item, or (not in a dry run) an item to record, or it carries an
// Idempotency-Key claim.
func (p *Plan) NeedsLedger() bool {
	if p.Claim != nil {
		return true
	}
	for i := range p.Items {
		if p.Items[i].Capped() || (p.Items[i].Record && !p.DryRun && p.Ref != "") {
			return true
		}
	}
	return false
}

// Result of one plan item.
type Result uint8

// Plan item results. Every result but Granted maps to an explain reason.
const (
	Granted Result = iota + 1
	SkippedLimit
	SkippedGroup
	SkippedGuardrail
	SkippedCapPerCustomer
	SkippedCapTotal
	SkippedBudget
	SkippedFallback // a fallback offer not considered because the main pass granted
	SkippedPacing   // the offer's paced share of its caps is used up for now
)

// Ledger reserves caps and budgets, atomically and exactly across every
// replica. The plan and its strings are valid only during the call (the
// customer id and the reference may be the memory of a request the server
// reuses once it is answered): a ledger copies what it keeps, in its
// store or in work that outlives the call. The results may be the plan's
// own (Plan.Walk): the engine reads them before it reuses the plan. Reserve walks the plan once and answers one result per item; it
// makes at most one round trip to its store. In the same call it keeps the
// records of the granted items that ask for one (PlanItem.Record), counts
// their learning trials (PlanItem.Cell) and claims the plan's
// Idempotency-Key. It is called only when Plan.NeedsLedger.
type Ledger interface {
	Reserve(ctx context.Context, p *Plan) ([]Result, error)
}

// Observer is told what the metrics count. All methods must be cheap and
// safe for concurrent use.
type Observer interface {
	RuleError(ruleID string)
	Granted(offerID string)
}
