package report

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// Event is one message of the event stream, decoded for the report by
// whoever reads the stream. At most one of Decision, Outcome and Ruleset is
// set; none is for an event the report only counts as read (another
// subject), or for one that could not be decoded (then Err says why).
type Event struct {
	// Stored is when the stream stored the message: the report's time range.
	Stored time.Time
	// Decision is a decision event.
	Decision *Decision
	// Outcome is an outcome event.
	Outcome *Outcome
	// Ruleset is a rules_reloaded event: the experiments' published weights.
	Ruleset *Ruleset
	// Err is why the message could not be decoded: it is counted as
	// unreadable and skipped.
	Err error
}

// Decision is what the report reads of a decision event.
type Decision struct {
	// ID is the decision id, which outcomes name to be joined to it.
	ID         string
	CustomerID string
	// Experiments are the customer's variants: the decision counts as an
	// exposure of the variant it carries of the report's experiment.
	Experiments []wire.Assignment
	// Holdout: the customer was in the holdout.
	Holdout bool
	// TS is the decision's time.
	TS time.Time
	// Profile is the event's `profile` (schema 2): the values of the
	// profile fields the ruleset reads, as JSON decodes them; nil before.
	Profile map[string]any
}

// Outcome is what the report reads of an outcome event.
type Outcome struct {
	// ID is the outcome event's id ("" from services that send none): a
	// conversion is counted once per id.
	ID                     string
	DecisionID, CustomerID string
	// OfferID is the offer the outcome is about; "" for an outcome of the
	// decision as a whole (SPEC-LOOP "conversions of a whole decision").
	OfferID string
	// TS is when the outcome happened (its event's ts).
	TS time.Time
	// OccurredAt is the outcome's occurred_at (zero when it has none): the
	// attribution window is measured to it, else to when the stream
	// stored the outcome (Event.Stored), as the attribution check does.
	OccurredAt time.Time
	// Type is wire.OutcomeImpression, OutcomeAccepted, OutcomeDismissed
	// or OutcomeConverted.
	Type string
	// Value is the outcome's value, exact in minor units of Currency ("" and
	// zero when it has none).
	Value    engine.Money
	Currency string
	// Experiments are the variants the outcome carries itself: used only
	// when its decision is not among the events read.
	Experiments []wire.Assignment
}

// Ruleset is what the report reads of a rules_reloaded event: the version
// and the experiments of the ruleset in force, with their weights.
type Ruleset struct {
	Version     string
	Experiments []Experiment
	// Holdout is the ruleset's holdout percent; HasHoldout is false for
	// events that do not say it (before schema 2).
	Holdout    float64
	HasHoldout bool
}

// Experiment is an experiment's set-up as published by a reload.
type Experiment struct {
	ID       string
	Variants []Variant
	// Layer, From and To: the experiment's layer and its range of layer
	// buckets ("" for none).
	Layer    string
	From, To int
	Traffic  float64
	Status   string
	// When is the eligibility condition as written ("" for everyone).
	When string
}

// Variant is one variant and its weight (any positive scale).
type Variant struct {
	ID     string
	Weight float64
}

// Weights are the variants of an experiment in order (the first is the
// control) and where they come from, as the report names it ("--weights",
// "rules_reloaded event of ruleset 2f9c1a7e").
type Weights struct {
	From     string
	Variants []Variant
}

// ParseWeights reads variant weights written as VARIANT=WEIGHT pairs
// separated by commas, in order: "control=50,deep=50" (spaces around the
// names and numbers are ignored). Each weight is a positive finite number;
// each variant is named once.
func ParseWeights(s string) ([]Variant, error) {
	var out []Variant
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		id, w, ok := strings.Cut(part, "=")
		id = strings.TrimSpace(id)
		var f float64
		if ok {
			var err error
			f, err = strconv.ParseFloat(strings.TrimSpace(w), 64)
			ok = err == nil && f > 0 && !math.IsInf(f, 0)
		}
		if !ok || id == "" {
			return nil, fmt.Errorf("%q: write VARIANT=WEIGHT pairs separated by commas, like control=50,deep=50", part)
		}
		if seen[id] {
			return nil, fmt.Errorf("%q is named twice: give each variant's weight once, the control first", id)
		}
		seen[id] = true
		out = append(out, Variant{ID: id, Weight: f})
	}
	return out, nil
}

// Holdout is the id that reports the holdout as an experiment: its groups
// are GroupHeldOut (the control) and GroupServed.
const Holdout = "holdout"

// The groups of the holdout's report.
const (
	GroupHeldOut = "held_out"
	GroupServed  = "served"
)

// outcomeRec is an outcome kept until every decision has been read.
type outcomeRec struct {
	id, decisionID, customerID, offerID, typ, currency string
	value                                              engine.Money
	at                                                 time.Time // occurred_at, else stored (zero: unknown)
}

// decisionRec is a decision that enrolled its customer in the experiment.
type decisionRec struct {
	customerID, variant string
	at                  time.Time // the time its id carries (zero: none)
}

// customerRec is a customer seen in a decision: the group (variant, or
// held_out/served) of the first decision that enrolled them ("" while
// none did), when, and the covariate read from that decision's profile.
type customerRec struct {
	group    string
	exposed  time.Time
	x        float64
	hasX     bool
	conflict bool // a later decision enrolled them in another group
}

// Collector accumulates the events of a stream for one experiment's
// report (or the holdout's: NewCollector(Holdout)). Add the events in
// stream order, then call Report.
//
// Exposure is what the decisions recorded: a customer is in a variant from
// the first decision event that enrolled them (it carries the experiment),
// and only the outcomes of decisions that enrolled them count for them.
// An outcome whose decision did not enrol its customer counts nowhere, and
// one whose decision was not among the events read is counted as such and
// not assigned.
type Collector struct {
	// Covariate, when set before the first Add, names the profile field
	// (of the decision events' `profile`) read at each customer's exposure
	// for the variance reduction of revenue per customer (CUPED).
	Covariate string
	// Window is the attribution window (serve's --attribution-window; 0:
	// DefaultWindow): an outcome that occurred (its occurred_at, else when
	// the stream stored it) more than Window after the time its decision id
	// carries, or more than a minute before it, counts nowhere
	// (Report.OutsideWindow), as POST /v1/outcomes, the feedback consumer
	// and the live counters refuse it (decision_expired,
	// occurred_before_decision). Outcomes of an id that carries no time are
	// not checked.
	Window time.Duration

	experiment  string
	holdout     bool // the holdout's report
	events      uint64
	unreadable  uint64
	first, last time.Time
	decisions   map[string]decisionRec // decisions that enrolled their customer (not kept for the holdout)
	exposures   map[string]int         // group -> decisions enrolling in it
	customers   map[string]*customerRec
	outcomes    []outcomeRec
	published   Weights // from the latest rules_reloaded event carrying the experiment
	setup       *Experiment
	holdoutPct  float64
	hasHoldout  bool
	covariateOK int // exposures whose profile held the covariate as a number
	known       []string
	seenExps    map[string]bool // experiments decisions enrolled someone in
	recent      recentIDs       // the holdout's: the latest decisions, for those stored twice
}

// recentIDs remembers the latest maxRecent decision ids, by a 64-bit hash
// (maphash, as the profile cache's), in the order they came: the holdout's report reads every
// decision and keeps none (an experiment's keeps those enrolling), so it
// finds a decision stored twice among the latest ones. A resent event is
// stored among the first events after NATS comes back, at most the
// fleet's events in flight (4,096 a replica) after the original, whatever
// the outage's length: 2^20 ids (24 MiB) cover 256 replicas. Two of 2^20
// ids share a hash with a chance of about 3·10⁻⁸.
type recentIDs struct {
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64
	next int // where the next id goes once ring is full
}

// maxRecent is how many ids recentIDs keeps.
const maxRecent = 1 << 20

// again records id and reports whether it was among the latest maxRecent.
func (r *recentIDs) again(id string) bool {
	if r.set == nil {
		r.seed, r.set = maphash.MakeSeed(), map[uint64]struct{}{}
	}
	k := maphash.String(r.seed, id)
	if _, ok := r.set[k]; ok {
		return true
	}
	if len(r.ring) < maxRecent {
		r.ring = append(r.ring, k)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % maxRecent
	}
	r.set[k] = struct{}{}
	return false
}

// NewCollector returns a Collector for the report of experiment id, or
// of the holdout when id is Holdout.
func NewCollector(id string) *Collector {
	return &Collector{
		experiment: id, holdout: id == Holdout, decisions: map[string]decisionRec{}, exposures: map[string]int{},
		customers: map[string]*customerRec{},
	}
}

// Experiment is the id of the report's experiment (Holdout for the
// holdout's).
func (c *Collector) Experiment() string { return c.experiment }

// Known lists the experiments that exist as far as the events read say:
// those of the latest rules_reloaded event and those decisions enrolled
// customers in, sorted, with "holdout".
func (c *Collector) Known() []string {
	set := map[string]bool{Holdout: true}
	for _, id := range c.known {
		set[id] = true
	}
	for id := range c.seenExps {
		set[id] = true
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Exists reports whether the report's experiment is known to the events
// read: the holdout always is; an experiment when a rules_reloaded event
// names it or a decision enrolled someone in it.
func (c *Collector) Exists() bool {
	if c.holdout || c.seenExps[c.experiment] || c.setup != nil {
		return true
	}
	for _, id := range c.known {
		if id == c.experiment {
			return true
		}
	}
	return false
}

// Add reads one event.
func (c *Collector) Add(ev Event) {
	c.events++
	if c.first.IsZero() || ev.Stored.Before(c.first) {
		c.first = ev.Stored
	}
	if ev.Stored.After(c.last) {
		c.last = ev.Stored
	}
	switch {
	case ev.Err != nil:
		c.unreadable++
	case ev.Decision != nil:
		c.addDecision(ev.Decision, ev.Stored)
	case ev.Outcome != nil:
		o := ev.Outcome
		at := o.OccurredAt
		if at.IsZero() {
			at = ev.Stored
		}
		c.outcomes = append(c.outcomes, outcomeRec{
			id: o.ID, decisionID: o.DecisionID, customerID: o.CustomerID, offerID: o.OfferID, typ: o.Type,
			currency: o.Currency, value: o.Value, at: at,
		})
	case ev.Ruleset != nil:
		c.addRuleset(ev.Ruleset)
	}
}

// Prior gives the ruleset in force when the events read begin: the latest
// rules_reloaded event stored before them (before --since), which the
// events read do not include. Its weights, layer and holdout count as
// those of a rules_reloaded event read, until an event read gives others;
// it is no event read. Call it before the first Add.
func (c *Collector) Prior(rs *Ruleset) {
	if rs != nil {
		c.addRuleset(rs)
	}
}

// addRuleset reads a rules_reloaded event: the experiments that exist, and
// the report's experiment's weights and set-up (the holdout's percent).
func (c *Collector) addRuleset(rs *Ruleset) {
	c.known = c.known[:0]
	for i := range rs.Experiments {
		x := &rs.Experiments[i]
		c.known = append(c.known, x.ID)
		if x.ID == c.experiment && len(x.Variants) > 0 {
			c.published = Weights{From: "rules_reloaded event of ruleset " + rs.Version, Variants: x.Variants}
			cp := *x
			c.setup = &cp
		}
	}
	if rs.HasHoldout {
		c.holdoutPct, c.hasHoldout = rs.Holdout, true
	}
}

// addDecision records a decision: the customer as seen, and, when the
// decision enrolled them (it carries the experiment; for the holdout,
// every decision of an identified customer), their exposure.
func (c *Collector) addDecision(dec *Decision, stored time.Time) {
	for _, a := range dec.Experiments {
		if !c.seenExps[a.ID] {
			if c.seenExps == nil {
				c.seenExps = map[string]bool{}
			}
			c.seenExps[a.ID] = true
		}
	}
	if dec.CustomerID == "" {
		return // anonymous: never enrolled
	}
	group := ""
	if c.holdout {
		group = GroupServed
		if dec.Holdout {
			group = GroupHeldOut
		}
	} else {
		group = variantOf(dec.Experiments, c.experiment)
	}
	cr := c.customers[dec.CustomerID]
	if cr == nil {
		cr = &customerRec{}
		c.customers[dec.CustomerID] = cr
	}
	if group == "" {
		return
	}
	// The same decision stored twice (resent after the stream's duplicate
	// window: docs/events.md) is one exposure.
	switch {
	case c.holdout && dec.ID != "":
		if c.recent.again(dec.ID) {
			return
		}
	case dec.ID != "":
		if _, again := c.decisions[dec.ID]; again {
			return
		}
		at, _ := decisionTime(dec.ID) // the id's time, as the attribution check reads it
		c.decisions[dec.ID] = decisionRec{customerID: dec.CustomerID, variant: group, at: at}
	}
	c.exposures[group]++
	switch {
	case cr.group == "":
		cr.group = group
		cr.exposed = dec.TS
		if cr.exposed.IsZero() {
			cr.exposed = stored
		}
		if c.Covariate != "" {
			cr.x, cr.hasX = covariateOf(dec.Profile, c.Covariate)
			if cr.hasX {
				c.covariateOK++
			}
		}
	case cr.group != group:
		cr.conflict = true
	}
}

// covariateOf reads a profile field as a number: numbers as they are,
// booleans as 0 or 1.
func covariateOf(p map[string]any, field string) (float64, bool) {
	switch v := p[field].(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// DefaultWindow is the attribution window when Collector.Window is 0:
// serve's default --attribution-window.
const DefaultWindow = 7 * 24 * time.Hour

// outsideWindow reports whether an outcome that occurred at came more than
// the attribution window after its decision, made at decided, or more than
// a minute before it (false when either time is unknown).
func (c *Collector) outsideWindow(decided, at time.Time) bool {
	return !decided.IsZero() && !at.IsZero() && (at.Sub(decided) > c.window() || at.Before(decided.Add(-time.Minute)))
}

// window is the attribution window: Window, else DefaultWindow.
func (c *Collector) window() time.Duration {
	if c.Window <= 0 {
		return DefaultWindow
	}
	return c.Window
}

// decisionTime reads the time of a decision id ("dcs_" + ULID, signed or
// not).
func decisionTime(id string) (time.Time, bool) {
	if d, ok := decisionid.Parse(id); ok {
		return d.Time, true
	}
	if len(id) == 4+ulid.EncodedSize && id[3] == '_' {
		if u, err := ulid.ParseStrict(id[4:]); err == nil {
			return ulid.Time(u.Time()).UTC(), true
		}
	}
	return time.Time{}, false
}

func variantOf(as []wire.Assignment, exp string) string {
	for _, a := range as {
		if a.ID == exp {
			return a.Variant
		}
	}
	return ""
}
