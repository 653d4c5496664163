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
//
// The window is measured to the outcome's arrival (when the stream stored
// it), never to the ts its body states. The variants an event carries are
// taken only from an event Arbiter published and sealed with the fleet's
// key (wire.OutcomeEvent.Seal, which covers them): the API read them from
// the id with the rulesets it had served, which this process may not have.
// Any other event counts in the variants its id names, whatever its
// "verified" says: another service may write true.
func Attributed(checker *attribution.Checker, current func() *rules.Ruleset) func(*wire.OutcomeEvent) ([]wire.Assignment, bool) {
	return func(o *wire.OutcomeEvent) ([]wire.Assignment, bool) {
		if current != nil {
			checker.Serve(current())
		}
		arrival := o.Arrival
		if arrival.IsZero() {
			arrival = o.TS
		}
		r := checker.Check(&attribution.Outcome{DecisionID: o.DecisionID, CustomerID: o.CustomerID, OfferID: o.OfferID,
			Type: o.Outcome, At: o.OccurredAt, Arrival: arrival}, nil)
		if r.Code != "" {
			return nil, false
		}
		if o.Verified && o.Seal != "" && checker.Signer().CheckSeal(o.SealMessage(), o.Seal) {
			return o.Experiments, true
		}
		out := make([]wire.Assignment, len(r.Experiments))
		for i, a := range r.Experiments {
			out[i] = wire.Assignment(a)
		}
		return out, true
	}
}
