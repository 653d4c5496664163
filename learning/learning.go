// Package learning is the statistics side of learning arbitration: the
// counts of trials (grants) and successes (reward outcomes) per offer, cell
// and day (Count, read through Source); the Beta posterior of an offer's
// reward rate, its mean and 95% credible interval, and the seeded
// Thompson draw (beta.go); the snapshot the engine reads propensities
// from, with the half-life decay of old days (snapshot.go); the refresher
// that reloads the snapshot in the background (refresher.go); the
// count of recent trials per cell (recent.go); and `arbiter learning
// reset`'s deletion, which says what it deleted (reset.go).
//
// It does no I/O: the ledgers (adapters/ledger in Redis, memledger in
// memory) store the counts, and the refresher loads them through
// the Source it is given.
package learning

import "context"

// Count is one offer's trials and successes in one cell on one day (the
// UTC day of the decision, as days since 1970-01-01). Successes never
// exceed Trials for the same offer, cell and day.
type Count struct {
	Offer     string
	Cell      string
	Day       int
	Trials    int64
	Successes int64
}

// Source gives the stored counts of the named offers (all stored offers
// when offers is nil).
type Source interface {
	Counts(ctx context.Context, offers []string) ([]Count, error)
}

// Resetter deletes the stored statistics of the named offers (all when
// offers is nil): `arbiter learning reset [OFFER]`, after an offer changes
// its meaning. The outcomes of decisions made before a reset count no
// success afterwards (their trials are deleted). The ledgers implement it
// beside Source.
type Resetter interface {
	ResetLearning(ctx context.Context, offers []string) error
}
