package events

import (
	"strings"

	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// ReportEvent decodes a message of the stream under prefix for the
// experiment report: a decision, an outcome (as ParseOutcome reads it), or
// a rules_reloaded event (the experiments' weights). A message on another
// subject is an event the report only counts; one that does not decode
// comes back with Err set.
func ReportEvent(prefix string, m Message) report.Event {
	ev := report.Event{Stored: m.Stored}
	rest, _ := strings.CutPrefix(m.Subject, prefix+".")
	switch {
	case strings.HasPrefix(rest, "decision."):
		d, err := wire.ParseDecisionEvent(m.Data)
		if err != nil {
			ev.Err = err
			return ev
		}
		ev.Decision = &report.Decision{ID: d.ID, CustomerID: d.CustomerID, Experiments: d.Experiments, Holdout: d.Holdout, TS: d.TS, Profile: d.Profile}
	case strings.HasPrefix(rest, "outcome."):
		o, err := wire.ParseOutcome(prefix, m.Subject, m.Data, m.Stored)
		if err != nil {
			ev.Err = err
			return ev
		}
		ev.Outcome = &report.Outcome{ID: o.ID, DecisionID: o.DecisionID, CustomerID: o.CustomerID, OfferID: o.OfferID, TS: o.TS, Type: o.Outcome,
			Value: o.Value, Currency: o.Currency, Experiments: o.Experiments, OccurredAt: o.OccurredAt}
	case rest == "rules.reloaded":
		rr, err := wire.ParseRulesReloaded(m.Data)
		if err != nil {
			ev.Err = err
			return ev
		}
		rs := ReportRuleset(rr)
		ev.Ruleset = rs
	}
	return ev
}

// ReportRuleset converts a rules_reloaded event to what the report reads of
// it: the experiments with their variants, layers and ranges, and the
// holdout.
func ReportRuleset(rr *wire.RulesReloaded) *report.Ruleset {
	rs := &report.Ruleset{Version: rr.Version, Experiments: make([]report.Experiment, 0, len(rr.Experiments))}
	if rr.Holdout != nil {
		rs.Holdout, rs.HasHoldout = *rr.Holdout, true
	}
	for _, x := range rr.Experiments {
		e := report.Experiment{ID: x.ID, Traffic: x.Traffic, Layer: x.Layer, Status: x.Status, When: x.When,
			Variants: make([]report.Variant, 0, len(x.Variants))}
		if len(x.Buckets) == 2 {
			e.From, e.To = x.Buckets[0], x.Buckets[1]
		}
		for _, v := range x.Variants {
			e.Variants = append(e.Variants, report.Variant{ID: v.ID, Weight: v.Weight})
		}
		rs.Experiments = append(rs.Experiments, e)
	}
	return rs
}
