package engine

import "time"

// This file holds what ledgers share beyond the plan walk: the
// Idempotency-Key claim, outcomes applied to grant records, and the state
// of budgets. Package memledger implements them in memory (the reference),
// adapters/ledger in Redis; see docs/budgets.md for what they mean to a
// marketer.

// ClaimState is what the ledger found for an Idempotency-Key.
type ClaimState uint8

// Claim states.
const (
	// ClaimUnknown: the ledger did not answer (unreachable): the decision
	// is made without the guarantee (degraded idempotency_unavailable).
	ClaimUnknown ClaimState = iota
	// ClaimNew: this decision holds the key; its answer is stored once
	// written (StoreAnswer).
	ClaimNew
	// ClaimReplay: an earlier decision with the same key and body was
	// answered: Answer holds its answer, byte for byte. Nothing was reserved.
	ClaimReplay
	// ClaimPending: an earlier decision with the same key and body is still
	// being decided. Nothing was reserved.
	ClaimPending
	// ClaimConflict: the key was used with another body. Nothing was
	// reserved.
	ClaimConflict
)

// Claim is an Idempotency-Key as the ledger claims it. The caller sets
// Key, Body and TTL; the ledger sets State, Answer and Owner.
type Claim struct {
	// Key identifies the claim: the caller scopes it (API key and
	// Idempotency-Key); ledgers treat it as opaque bytes.
	Key string
	// Body is the SHA-256 of the request body.
	Body [32]byte
	// TTL is how long the key is remembered (--idempotency-ttl).
	TTL time.Duration

	State  ClaimState
	Answer []byte // the first decision's answer, with ClaimReplay
	// Owner is the ledger's token of the decision that holds the key (set
	// with ClaimNew): StoreAnswer stores only for the owner.
	Owner string
}

// Outcome types that move grants (the ledgers' transitions).
const (
	OutcomeConverted = "converted" // commits a held grant (or a released one, late)
	OutcomeDismissed = "dismissed" // releases a held grant
	OutcomeCancelled = "cancelled" // returns a committed grant, for good
)

// GrantOutcome is one outcome applied to the grant records of a decision.
// The states of a held grant: held → committed (converted, occurred
// within the hold, even once the lapsed hold was released), held →
// released (dismissed, or expiry Hold after the grant), released →
// committed (converted after a release: a late commit), committed → cancelled
// (cancelled; final). Each at most once, however often posted; any other
// outcome moves nothing. A recorded grant also counts one learning success
// when an outcome of the ruleset's reward type names it, once.
type GrantOutcome struct {
	// Ref is the decision's reference (Plan.Ref) and DecisionTime its time
	// (from its id).
	Ref          string
	DecisionTime time.Time
	Type         string    // the outcome type
	At           time.Time // when it occurred (occurred_at); zero: Now
	// Now is when it is applied, the time at which expired holds are
	// released; zero: the ledger's clock (the Redis server's time).
	Now time.Time
	// Reward is the ruleset's reward outcome type; "": it does not learn.
	Reward string
	// Named: the outcome names one offer, Offers[0]. Otherwise it is about
	// the whole decision and applies to every offer of Offers that has a
	// record of the decision.
	Named  bool
	Offers []OutcomeOffer
}

// OutcomeOffer is an offer an outcome may apply to, with its caps now (for
// counting over-cap commits): Budget in minor units of the budget's
// currency.
type OutcomeOffer struct {
	ID     string
	Total  int64
	Budget int64
	// BudgetMajor is set instead of Budget for a budget counted per cart
	// currency (rules without a currency): the budget in major units, which
	// a ledger judges in the minor units of the grant's own currency
	// (BudgetMinor): 10 is 10 yen, 10.00 dollars, 10.000 dinars.
	BudgetMajor float64
}

// OutcomeResult says what one GrantOutcome moved.
type OutcomeResult struct {
	Records     int // grant records of the decision found among the offers
	Commits     int // held → committed
	LateCommits int // released → committed
	// OverCap counts commits of a unit released before they came (late
	// commits, and commits that occurred within a hold released since it
	// lapsed) that took held + committed past a cap, with the holds lapsed
	// by then released.
	OverCap   int
	Releases  int // held → released by a dismissal
	Expiries  int // held → released because the hold had expired when the outcome occurred
	Cancels   int // committed → cancelled
	Successes int // learning successes counted
}

// Add adds o's counts to r.
func (r *OutcomeResult) Add(o OutcomeResult) {
	r.Records += o.Records
	r.Commits += o.Commits
	r.LateCommits += o.LateCommits
	r.OverCap += o.OverCap
	r.Releases += o.Releases
	r.Expiries += o.Expiries
	r.Cancels += o.Cancels
	r.Successes += o.Successes
}

// BudgetQuery asks for the state of one offer's caps.
type BudgetQuery struct {
	OfferID string
	// Currencies to read the budget in; nil: every currency counted.
	Currencies []string
}

// BudgetState is an offer's caps in one currency at a time: Count grants
// (held + committed) against its total, Spent minor units (held +
// committed) against its budget, of which Held and HeldAmount are held.
// Expired holds are released before it is read.
type BudgetState struct {
	OfferID    string
	Currency   string
	Count      int64
	Held       int64
	Spent      int64
	HeldAmount int64
	// OverCap counts commits of a released unit that took the offer past
	// a cap (OutcomeResult.OverCap).
	OverCap int64
}
