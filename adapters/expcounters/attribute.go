package expcounters

import (
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// Attributed returns an Attribute hook that checks outcomes with checker,
// the one POST /v1/outcomes and the feedback consumer use, so that the
// counters read the same variants from a decision id as they do. current,
// when set, returns the ruleset in force (nil: none yet); the checker is
// told of it before each check, so that ids made under it are read back.
func Attributed(checker *attribution.Checker, current func() *rules.Ruleset) func(*wire.OutcomeEvent) ([]wire.Assignment, bool) {
	return func(o *wire.OutcomeEvent) ([]wire.Assignment, bool) {
		if current != nil {
			checker.Serve(current())
		}
		r := checker.Check(&attribution.Outcome{DecisionID: o.DecisionID, CustomerID: o.CustomerID, OfferID: o.OfferID,
			Type: o.Outcome, At: o.OccurredAt, Arrival: o.TS}, nil)
		if r.Code != "" {
			return nil, false
		}
		out := make([]wire.Assignment, len(r.Experiments))
		for i, a := range r.Experiments {
			out[i] = wire.Assignment(a)
		}
		return out, true
	}
}
