// Package attribution decides what an outcome is about, with no I/O: it
// checks the outcome's signed decision id (decisionid: a decision the
// fleet made, for this customer, within the attribution window), reads the
// decision's own experiment variants back from the id's codes through the
// rulesets served (the current one and the one before), and says which
// grant records the outcome may move (engine.GrantOutcome), for a ledger
// to apply. The HTTP outcome route, the feedback consumer of outcomes
// published by other services and the live experiment counters use it
// alike.
package attribution

import (
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// DefaultWindow is the default attribution window (--attribution-window).
const DefaultWindow = 7 * 24 * time.Hour

// Refusal codes (the API's 422 codes).
const (
	CodeUnknownDecision  = "unknown_decision"
	CodeCustomerMismatch = "customer_mismatch"
	CodeDecisionExpired  = "decision_expired"
	CodeUnknownOffer     = "unknown_offer"
	// CodeOccurredBefore: occurred_at is more than a minute before the
	// decision it names (a time-zone slip in the order system, most
	// often); the decision id itself is genuine.
	CodeOccurredBefore = "occurred_before_decision"
)

// Outcome is what attribution reads of an outcome.
type Outcome struct {
	DecisionID string
	CustomerID string
	OfferID    string // "": the whole decision
	Type       string
	// At is when it occurred; zero: Arrival.
	At      time.Time
	Arrival time.Time
}

// Result is what an outcome is about.
type Result struct {
	// Code is "" for an outcome to count, else why it is refused, and Field
	// the outcome's field at fault (decision_id, customer_id, offer_id).
	Code, Field string
	Decision    decisionid.Decision
	// Experiments are the decision's own variants (unknown codes dropped:
	// UnknownCodes counts them).
	Experiments  []engine.Assignment
	UnknownCodes int
	// Grant is what a ledger must apply (nil: the outcome moves no grant
	// record). After applying, an outcome that named an offer with a hold
	// and found no record is refused with CodeUnknownOffer (Refuse).
	Grant *engine.GrantOutcome
	// strict: the named offer has a record of every grant (a hold).
	strict bool
}

// Checker checks outcomes. It is safe for concurrent use.
type Checker struct {
	signer *decisionid.Signer
	window time.Duration

	mu   sync.Mutex
	cur  *served
	prev *served
}

// served is one ruleset's variant codes, and what the checker knows of
// the holds of the rulesets served until then.
type served struct {
	rs    *rules.Ruleset
	codes map[uint32]engine.Assignment
	// held: offers that had a hold in a ruleset served (this one or
	// one before): a decision may have held grants of them, which their
	// outcomes commit or release, although a reload took the hold off
	// or removed the offer since. unheld: offers served without a hold,
	// whose decisions may have no record. learned: offers whose score
	// read propensity in a ruleset served: a decision may have counted a
	// learning trial of them, whose reward outcome must count its success
	// although a reload removed the offer (or learning) since, or the
	// offer's rate would come back biased low when it is added back.
	// Never changed once served.
	held, unheld, learned map[string]bool
	// reward is the reward type of the last ruleset served that learns
	// ("": none did): the reward of the trials counted under it, while
	// the ruleset in force learns nothing.
	reward string
}

// New returns a Checker of ids signed by signer within window (0:
// DefaultWindow).
func New(signer *decisionid.Signer, window time.Duration) *Checker {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Checker{signer: signer, window: window}
}

// Window is the attribution window.
func (c *Checker) Window() time.Duration { return c.window }

// Signer is the signer ids are checked with.
func (c *Checker) Signer() *decisionid.Signer { return c.signer }

// Serve tells the checker that rs is the ruleset in force: the variants of
// ids made under it and under the one it replaced are read back.
func (c *Checker) Serve(rs *rules.Ruleset) {
	if rs == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.rs == rs {
		return
	}
	s := &served{rs: rs, codes: map[uint32]engine.Assignment{}, held: map[string]bool{}, unheld: map[string]bool{},
		learned: map[string]bool{}, reward: Reward(rs)}
	if c.cur != nil {
		for id := range c.cur.held {
			s.held[id] = true
		}
		for id := range c.cur.unheld {
			s.unheld[id] = true
		}
		for id := range c.cur.learned {
			s.learned[id] = true
		}
		if s.reward == "" {
			s.reward = c.cur.reward
		}
	}
	for _, id := range rs.LearningOffers() {
		s.learned[id] = true
	}
	for _, o := range rs.Offers {
		if o.Caps.Hold > 0 {
			s.held[o.ID] = true
		} else {
			s.unheld[o.ID] = true
		}
	}
	for _, x := range rs.Experiments {
		for _, v := range x.Variants {
			s.codes[decisionid.VariantCode(x.ID, v.ID)] = engine.Assignment{ID: x.ID, Variant: v.ID, Layer: x.Layer}
		}
	}
	if c.cur != nil && c.cur.rs.Version != rs.Version {
		c.prev = c.cur
	}
	c.cur = s
}

// Served reports whether offerID is an offer of a ruleset this checker
// was told was in force (Serve): the one in force, or one before it. An
// outcome naming any other offer cannot be about a grant this process
// decided under, nor, unless a replica serves a ruleset this one never
// saw (a rolling deploy, a restart since a reload), another's.
func (c *Checker) Served(offerID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return false
	}
	return c.cur.held[offerID] || c.cur.unheld[offerID]
}

// variant maps a code back through the rulesets served.
func (c *Checker) variant(code uint32) (engine.Assignment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range []*served{c.cur, c.prev} {
		if s == nil {
			continue
		}
		if a, ok := s.codes[code]; ok {
			return a, true
		}
	}
	return engine.Assignment{}, false
}

// Variants maps the variant codes of a decision id (decisionid.Decision's
// Codes) back to experiment variants through the rulesets served (the
// current one and the one before), in the order of codes; unknown counts
// the codes neither knows (dropped). Check reads the variants of an
// outcome's decision with it; the live experiment counters read those of
// outcomes published by other services with it too.
func (c *Checker) Variants(codes []uint32) (as []engine.Assignment, unknown int) {
	as = make([]engine.Assignment, 0, len(codes))
	for _, code := range codes {
		if a, ok := c.variant(code); ok {
			as = append(as, a)
		} else {
			unknown++
		}
	}
	return as, unknown
}

// Codes returns the variant codes of a decision's assignments, for its id.
func Codes(as []engine.Assignment) []uint32 {
	if len(as) == 0 {
		return nil
	}
	out := make([]uint32, len(as))
	for i, a := range as {
		out[i] = decisionid.VariantCode(a.ID, a.Variant)
	}
	return out
}

// Check checks o under rs (the ruleset in force, which says which offers
// keep grant records, the reward of learning and the caps now).
func (c *Checker) Check(o *Outcome, rs *rules.Ruleset) Result {
	at := o.At
	if at.IsZero() {
		at = o.Arrival
	}
	d, err := c.signer.Verify(o.DecisionID, o.CustomerID, at, c.window)
	if errors.Is(err, decisionid.ErrUnknown) && !o.At.IsZero() && o.At.Before(o.Arrival) {
		// Unknown at the time it occurred may be a genuine decision made
		// after that time: then occurred_at is at fault, not the id.
		if d2, err2 := c.signer.Verify(o.DecisionID, o.CustomerID, o.Arrival, 0); err2 == nil && d2.Time.After(o.At.Add(time.Minute)) {
			return Result{Code: CodeOccurredBefore, Field: "occurred_at", Decision: d2}
		}
	}
	switch {
	case errors.Is(err, decisionid.ErrCustomer):
		return Result{Code: CodeCustomerMismatch, Field: "customer_id"}
	case errors.Is(err, decisionid.ErrExpired):
		return Result{Code: CodeDecisionExpired, Field: "decision_id"}
	case err != nil:
		return Result{Code: CodeUnknownDecision, Field: "decision_id"}
	}
	r := Result{Decision: d}
	r.Experiments, r.UnknownCodes = c.Variants(d.Codes)
	if rs == nil {
		return r
	}
	sv := c.current()
	// At is at, when it occurred (without occurred_at, when it arrived):
	// its hold is measured to then, however late a consumer applies it
	// (another service's outcome redelivered until Redis is back); it was
	// left zero, and measured to when it was applied.
	g := &engine.GrantOutcome{Ref: d.ULID.String(), DecisionTime: d.Time, Type: o.Type, At: at, Reward: Reward(rs)}
	if g.Reward == "" && sv != nil {
		// Learning taken off: the trials counted while it was on still
		// count their successes (docs/learning.md).
		g.Reward = sv.reward
	}
	var held, unheld, learned map[string]bool
	if sv != nil {
		held, unheld, learned = sv.held, sv.unheld, sv.learned
	}
	// A grant held under an earlier ruleset keeps its hold after a reload
	// that took the hold off or removed the offer: its outcomes still
	// commit or release it (docs/budgets.md). A grant that counted a
	// learning trial under an earlier ruleset counts its success however
	// the ruleset changed since (docs/learning.md).
	before := func(id string) bool {
		return held[id] && (o.Type == engine.OutcomeConverted || o.Type == engine.OutcomeDismissed || o.Type == engine.OutcomeCancelled) ||
			learned[id] && g.Reward != "" && o.Type == g.Reward
	}
	if o.OfferID != "" {
		off, ok := rs.Offer(o.OfferID)
		switch {
		case ok && KeepsRecords(rs, off):
			g.Offers = []engine.OutcomeOffer{OutcomeOffer(rs, off)}
			// Records are kept for the window (plus the hold) from the
			// decision: an outcome that occurred within the window but
			// arrives after it may find none although the offer was
			// granted; and a decision made before a reload put the hold
			// on has none.
			r.strict = off.Caps.Hold > 0 && o.Arrival.Sub(d.Time) < c.window && !unheld[off.ID]
		case ok && before(off.ID):
			g.Offers = []engine.OutcomeOffer{OutcomeOffer(rs, off)}
		case !ok && before(o.OfferID):
			g.Offers = []engine.OutcomeOffer{{ID: o.OfferID}}
		default:
			return r
		}
		g.Named = true
	} else {
		for _, off := range rs.Offers {
			if KeepsRecords(rs, off) || before(off.ID) {
				g.Offers = append(g.Offers, OutcomeOffer(rs, off))
			}
		}
		var gone []string // offers removed since they were held or learnt
		for _, m := range []map[string]bool{held, learned} {
			for id := range m {
				if _, ok := rs.Offer(id); !ok && before(id) && !slices.Contains(gone, id) {
					gone = append(gone, id)
				}
			}
		}
		sort.Strings(gone)
		for _, id := range gone {
			g.Offers = append(g.Offers, engine.OutcomeOffer{ID: id})
		}
		if len(g.Offers) == 0 {
			return r
		}
	}
	r.Grant = g
	return r
}

// current returns what the checker knows of the rulesets served (nil:
// none yet); never changed once served: read without the lock.
func (c *Checker) current() *served {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Refuse marks r refused when its outcome named an offer with a hold and
// the ledger found no record of the decision for it: the decision did not
// grant that offer, or its record was lost (Redis lost or evicted it, or
// the window was lengthened since), which no ledger can tell apart (res:
// what applying r.Grant moved).
func (r *Result) Refuse(res engine.OutcomeResult) {
	if r.Grant != nil && r.strict && res.Records == 0 && r.Code == "" {
		r.Code, r.Field = CodeUnknownOffer, "offer_id"
	}
}

// Reward is the outcome type that is a success for learning, "" when the
// ruleset does not learn.
func Reward(rs *rules.Ruleset) string { return rs.LearningReward() }

// KeepsRecords reports whether the ledger may keep a record of o's grants:
// offers with a hold (a record of every grant), and, when the ruleset
// learns, every offer (a record is written for those whose score reads
// propensity; an outcome naming another finds none, and is not refused for
// that).
func KeepsRecords(rs *rules.Ruleset, o *rules.Offer) bool {
	return o.Caps.Hold > 0 || rs.Arbitration.Learning != nil
}

// OutcomeOffer is o's caps for counting over-cap commits: its budget in
// minor units of the ruleset's currency, or, when the ruleset names none
// (a budget per cart currency), in major units (BudgetMajor), which the
// ledger judges in each grant's own currency. (It was compared in cents
// whatever the currency: a yen budget overspent by late commits showed no
// over-cap commit, a dinar budget within its limit showed some.)
func OutcomeOffer(rs *rules.Ruleset, o *rules.Offer) engine.OutcomeOffer {
	of := engine.OutcomeOffer{ID: o.ID, Total: o.Caps.Total}
	if o.Caps.Budget > 0 {
		exp, ok := engine.CurrencyExp(rs.Currency)
		if !ok {
			of.BudgetMajor = o.Caps.Budget
			return of
		}
		of.Budget = engine.BudgetMinor(o.Caps.Budget, exp)
	}
	return of
}
