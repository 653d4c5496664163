package engine

import (
	"time"

	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/rules"
)

// Learning arbitration (SPEC-LOOP "Learning arbitration"): when the
// ruleset learns, a score may read `propensity`, the offer's reward rate
// in the decision's cell, from the statistics snapshot the engine is given.
// Learning only changes scores: everything else is decided as before.

// Statistics is the learning snapshot a decision reads, per offer and
// cell, with no I/O (package learning's Refresher and Snapshot are ones).
// Counts returns the offer's trials and successes in the cell, weighted
// by the half-life (0 and 0 when none were counted); ok is false when the
// statistics are missing or stale, and the decision then uses the prior
// and reports degraded learning_unavailable. Safe for concurrent use.
type Statistics interface {
	Counts(offer, cell string) (trials, successes float64, ok bool)
}

// TrialObserver is told of every trial: a grant, in a decision that is
// not a dry run, of an offer whose score reads propensity (package
// learning's Recent is one). It must be cheap and safe for concurrent use.
type TrialObserver interface {
	Trial(offer, cell string, t time.Time)
}

// ScoreOverride replaces every offer's score (arbiter simulate's oracle):
// given the effective offer, its discount in major units of the cart's
// currency (0 for an action) and the segments matched, it returns the
// score, or keep false to leave the offer out (reason when).
type ScoreOverride func(o *rules.Offer, discount float64, segments []string) (score float64, keep bool)

// PropensitySource says how a propensity was found, as explain shows it.
type PropensitySource uint8

// The sources of a propensity.
const (
	// PropensityPrior: the prior mean, because the customer's variant
	// turns learning off, the engine learns nothing (Options.Static, or no
	// Options.Statistics), or the statistics were unavailable.
	PropensityPrior PropensitySource = iota
	// PropensityMean: the posterior mean (method mean, or a dry run).
	PropensityMean
	// PropensityThompson: one draw from the posterior, seeded by the
	// decision and offer ids (a real decision, method thompson).
	PropensityThompson
)

// String is the source's name: prior, mean or thompson.
func (p PropensitySource) String() string {
	switch p {
	case PropensityMean:
		return "mean"
	case PropensityThompson:
		return "thompson"
	}
	return "prior"
}

// LearningUse is the propensity one offer's score read in a decision:
// the cell, the posterior it came from (prior plus statistics; the prior
// alone under PropensityPrior) and the value. The decision event records
// one for every offer whose score reads propensity and that reached
// scoring, chosen or not.
type LearningUse struct {
	OfferID     string
	Cell        string
	Alpha, Beta float64
	Propensity  float64
	Source      PropensitySource
}

// learnState is a decision's learning: set up once segments and
// experiments are known, read by every offer's score.
type learnState struct {
	on     bool   // the ruleset learns
	cell   string // the decision's cell
	static bool   // propensity is the prior mean (variant learning: false, Options.Static, no statistics)
	draw   bool   // Thompson draws (method thompson, not a dry run)
	// unavailable: some offer's statistics were missing or stale.
	unavailable bool
}

// beginLearning fixes the decision's cell (the first `by` segment matched,
// else "all") and how its propensities are found: the first experiment
// written whose variant for this customer states `learning` decides
// whether the customer is decided with learning or at the prior mean.
func (e *Engine) beginLearning(s *scratch, rs *rules.Ruleset, req *Request) {
	s.learn = learnState{}
	s.uses = s.uses[:0]
	lr := rs.Arbitration.Learning
	if lr == nil {
		return
	}
	s.learn.on = true
	s.learn.cell = rules.CellAll
	for _, id := range lr.By {
		if s.matchedSegment(id) {
			s.learn.cell = id
			break
		}
	}
	s.learn.static = e.opts.Static || e.opts.Statistics == nil || s.variantLearningOff
	s.learn.draw = lr.Method == rules.LearnThompson && !req.DryRun
}

// propensity is offer o's propensity in this decision; it records the
// use for the event and explain.
func (e *Engine) propensity(s *scratch, rs *rules.Ruleset, req *Request, o *rules.Offer) float64 {
	lr := rs.Arbitration.Learning
	use := LearningUse{OfferID: o.ID, Cell: s.learn.cell, Alpha: lr.PriorAlpha, Beta: lr.PriorBeta, Source: PropensityPrior}
	if !s.learn.static {
		trials, successes, ok := e.opts.Statistics.Counts(o.ID, s.learn.cell)
		if ok {
			p := learning.NewPosterior(lr.PriorAlpha, lr.PriorBeta, trials, successes)
			use.Alpha, use.Beta = p.Alpha, p.Beta
			if s.learn.draw {
				use.Source = PropensityThompson
				use.Propensity = p.Sample(learning.Seed(req.DecisionID, o.ID))
			} else {
				use.Source = PropensityMean
				use.Propensity = p.Mean()
			}
		} else {
			s.learn.unavailable = true
		}
	}
	if use.Source == PropensityPrior {
		use.Propensity = use.Alpha / (use.Alpha + use.Beta)
	}
	s.uses = append(s.uses, use)
	return use.Propensity
}

// setScoreVars sets the vars a score reads: its discount and, when it
// reads it, its propensity.
func (e *Engine) setScoreVars(s *scratch, rs *rules.Ruleset, req *Request, c *cand, o *rules.Offer) {
	d := 0.0
	if c.hasDiscount {
		d = Money{Minor: c.amount, Exp: s.exp}.Major()
	}
	s.env.SetVar(exprenv.VarDiscount, d)
	if s.learn.on && o.ReadsPropensity {
		s.env.SetVar(exprenv.VarPropensity, e.propensity(s, rs, req, o))
		c.use = int32(len(s.uses))
	}
}

// endLearning copies the decision's learning into it: the uses, in offer
// order, and degraded learning_unavailable.
func (e *Engine) endLearning(s *scratch, d *Decision) {
	if !s.learn.on {
		return
	}
	if s.learn.unavailable {
		d.Degraded = append(d.Degraded, DegradedLearning)
	}
	d.Cell = s.learn.cell
	if len(s.uses) > 0 {
		d.Learning = append(d.learnBuf[:0], s.uses...)
	}
}

// variantLearning notes the `learning` of a variant the customer is in;
// the first experiment written wins.
func (s *scratch) variantLearning(x *rules.Experiment, v *rules.Variant) {
	if v.Learning == nil || (s.learnFrom >= 0 && x.Written >= s.learnFrom) {
		return
	}
	s.learnFrom = x.Written
	s.variantLearningOff = !*v.Learning
}

// overrideScore scores c with Options.ScoreOverride.
func (e *Engine) overrideScore(s *scratch, c *cand, o *rules.Offer) bool {
	d := 0.0
	if c.hasDiscount {
		d = Money{Minor: c.amount, Exp: s.exp}.Major()
	}
	score, keep := e.opts.ScoreOverride(o, d, s.env.Segments())
	if !keep {
		c.reason = ReasonWhen
		c.detail = "left out by the score override"
		return false
	}
	c.score = score
	c.scored = true
	return true
}
