package engine

import (
	"context"
	"errors"

	"github.com/arbiterhq/arbiter/rules"
)

// Options configure an Engine.
type Options struct {
	// Ledger reserves caps and budgets; nil means no offer with a cap or a
	// budget is ever granted (reason of its first cap, degraded
	// ledger_unavailable).
	Ledger Ledger
	// Observer is told of rule errors and grants; nil: nobody.
	Observer Observer
}

// Engine decides. It is safe for concurrent use; one Engine serves every
// ruleset it is given.
type Engine struct {
	opts Options
}

// New returns an Engine.
func New(o Options) *Engine { return &Engine{opts: o} }

// ErrNotBuilt is returned by the stubs until the engine lands.
var ErrNotBuilt = errors.New("engine: not built yet")

// Decide makes the decision for req with profile p under ruleset rs. The
// error is non-nil only when no decision can be made at all (a canceled
// context before anything was decided); every rule or ledger failure is
// contained in the decision (explain, degraded).
func (e *Engine) Decide(ctx context.Context, rs *rules.Ruleset, p *Profile, req *Request) (*Decision, error) {
	return nil, ErrNotBuilt
}

// Event returns the decision's event, sharing no memory with the request.
func (d *Decision) Event() *DecisionEvent { return nil }
