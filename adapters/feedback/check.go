package feedback

import (
	"context"
	"fmt"
	"time"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// Checker checks an outcome event before it is counted. Check returns ""
// to count it, or the code it is refused with; an error when it cannot
// tell yet (the outcome is then redelivered). It may correct the event
// (its experiment variants).
type Checker interface {
	Check(ctx context.Context, ev *wire.OutcomeEvent, eventID string) (code string, err error)
}

// Applier applies outcomes to grant records (*ledger.Redis and
// *memledger.Ledger are).
type Applier interface {
	Apply(ctx context.Context, outs []engine.GrantOutcome) ([]engine.OutcomeResult, error)
}

// GrantChecker checks outcomes the way POST /v1/outcomes does: the
// signature of the decision id (a decision the fleet made, for this
// customer, within the attribution window, measured to when the stream
// stored the outcome or from its occurred_at), the decision's own
// experiment variants (which replace whatever the event says), and,
// unless Arbiter already did (AppliedByArbiter: an event it published
// with "verified": true and a seal made with the fleet's key), the
// outcome's transitions of grant records (idempotent: each at most once
// however often an outcome comes), refusing an outcome that names an offer
// with a hold of which the decision has no grant record (it did not grant
// it, or the record was lost). Another service's outcome
// that says "verified": true is applied like any other: anyone may write
// that.
type GrantChecker struct {
	Attribution *attribution.Checker
	// Rules returns the ruleset in force (nil: none yet).
	Rules  func() *rules.Ruleset
	Grants Applier
	// Refused and Applied, when set, are told what was refused and what
	// applying moved (the metrics).
	Refused func(code, outcomeType string)
	Applied func(engine.OutcomeResult)
}

// Check implements Checker.
func (g *GrantChecker) Check(ctx context.Context, ev *wire.OutcomeEvent, _ string) (string, error) {
	var rs *rules.Ruleset
	if g.Rules != nil {
		rs = g.Rules()
	}
	g.Attribution.Serve(rs)
	r := g.Attribution.Check(&attribution.Outcome{DecisionID: ev.DecisionID, CustomerID: ev.CustomerID, OfferID: ev.OfferID,
		Type: ev.Outcome, At: ev.OccurredAt, Arrival: arrival(ev)}, rs)
	if r.Code == "" && ev.OfferID != "" && rs != nil && !g.Attribution.Served(ev.OfferID) {
		// An offer of no ruleset served: a mistyped offer_id (a SKU, a
		// coupon code) would otherwise count, and make a statistics hash
		// of its own for every such id (SPEC-LOOP: mistyped outcomes never
		// move statistics). The event stays on the stream as published.
		r.Code = attribution.CodeUnknownOffer
	}
	if r.Code == "" && r.Grant != nil && !g.AppliedByArbiter(ev) && g.Grants != nil {
		res, err := g.Grants.Apply(ctx, []engine.GrantOutcome{*r.Grant})
		if err != nil {
			return "", fmt.Errorf("feedback: applying an outcome to grant records: %w", err)
		}
		if len(res) == 1 {
			r.Refuse(res[0])
			if g.Applied != nil {
				g.Applied(res[0])
			}
		}
	}
	if r.Code != "" {
		if g.Refused != nil {
			g.Refused(r.Code, ev.Outcome)
		}
		return r.Code, nil
	}
	ev.Experiments = make([]wire.Assignment, 0, len(r.Experiments))
	for _, a := range r.Experiments {
		ev.Experiments = append(ev.Experiments, wire.Assignment(a))
	}
	return "", nil
}

// arrival is when ev arrived: when the stream stored it, never the ts its
// body states (wire.OutcomeEvent.Arrival); its ts for an event made
// without one.
func arrival(ev *wire.OutcomeEvent) time.Time {
	if !ev.Arrival.IsZero() {
		return ev.Arrival
	}
	return ev.TS
}

// AppliedByArbiter reports whether ev is an outcome that an Arbiter of
// this fleet checked and applied to the grant records before publishing
// it: "verified": true with a seal (wire.OutcomeEvent.Seal) that checks
// under one of the fleet's decision keys. Applying it again would not be
// harmless in every order: a "cancelled" the API found nothing to cancel
// (its order not converted yet), applied again after the conversion,
// would give back a grant that stays converted.
func (g *GrantChecker) AppliedByArbiter(ev *wire.OutcomeEvent) bool {
	return ev.Verified && ev.Seal != "" && g.Attribution.Signer().CheckSeal(ev.SealMessage(), ev.Seal)
}
