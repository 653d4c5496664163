package report

import (
	"fmt"
	"math"
	"strings"
	"time"

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
}

// Outcome is what the report reads of an outcome event.
type Outcome struct {
	DecisionID, CustomerID string
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
}

// Experiment is an experiment's variants as published by a reload.
type Experiment struct {
	ID       string
	Variants []Variant
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
// separated by commas, in order: "control=50,deep=50". Each weight is a
// positive finite number.
func ParseWeights(s string) ([]Variant, error) {
	var out []Variant
	for _, part := range strings.Split(s, ",") {
		id, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		var f float64
		if ok {
			_, err := fmt.Sscanf(w, "%g", &f)
			ok = err == nil && f > 0 && !math.IsInf(f, 0)
		}
		if !ok || id == "" {
			return nil, fmt.Errorf("%q: write VARIANT=WEIGHT pairs separated by commas, like control=50,deep=50", part)
		}
		out = append(out, Variant{ID: id, Weight: f})
	}
	return out, nil
}

// outcomeRec is an outcome kept until every decision has been read.
type outcomeRec struct {
	decisionID, customerID, typ, currency string
	value                                 engine.Money
	variant                               string // from the outcome's experiments field
}

// decisionRec is a decision that carries the experiment.
type decisionRec struct{ customerID, variant string }

// Collector accumulates the events of a stream for one experiment's
// report. Add the events in stream order, then call Report.
type Collector struct {
	experiment  string
	events      uint64
	unreadable  uint64
	first, last time.Time
	decisions   map[string]decisionRec // decision id -> customer, variant (decisions carrying the experiment)
	exposures   map[string]int
	custVariant map[string]string // customer -> first variant seen in a decision
	conflicts   map[string]bool   // customers seen in more than one variant
	outcomes    []outcomeRec
	published   Weights // from the latest rules_reloaded event carrying the experiment
}

// NewCollector returns a Collector for the report of experiment id.
func NewCollector(id string) *Collector {
	return &Collector{
		experiment: id, decisions: map[string]decisionRec{}, exposures: map[string]int{},
		custVariant: map[string]string{}, conflicts: map[string]bool{},
	}
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
		dec := ev.Decision
		v := variantOf(dec.Experiments, c.experiment)
		if v == "" {
			return
		}
		c.exposures[v]++
		if dec.ID != "" {
			c.decisions[dec.ID] = decisionRec{customerID: dec.CustomerID, variant: v}
		}
		assign(c.custVariant, c.conflicts, dec.CustomerID, v)
	case ev.Outcome != nil:
		o := ev.Outcome
		c.outcomes = append(c.outcomes, outcomeRec{
			decisionID: o.DecisionID, customerID: o.CustomerID, typ: o.Type,
			currency: o.Currency, value: o.Value,
			variant: variantOf(o.Experiments, c.experiment),
		})
	case ev.Ruleset != nil:
		for _, x := range ev.Ruleset.Experiments {
			if x.ID == c.experiment && len(x.Variants) > 0 {
				c.published = Weights{From: "rules_reloaded event of ruleset " + ev.Ruleset.Version, Variants: x.Variants}
			}
		}
	}
}

// assign puts customer in variant v unless they are in one already; a
// customer seen in another variant is a conflict (and stays in the first).
func assign(custVariant map[string]string, conflicts map[string]bool, customer, v string) {
	if customer == "" {
		return
	}
	if prev, ok := custVariant[customer]; !ok {
		custVariant[customer] = v
	} else if prev != v {
		conflicts[customer] = true
	}
}

func variantOf(as []wire.Assignment, exp string) string {
	for _, a := range as {
		if a.ID == exp {
			return a.Variant
		}
	}
	return ""
}
