// Package learning is the statistics side of learning arbitration: the
// counts of trials (grants) and successes (reward outcomes) per offer, cell
// and day, and the snapshot the engine reads propensities from. It does no
// I/O: the ledgers (adapters/ledger in Redis, memledger in memory) store
// the counts, and a refresher in the wiring loads them through Source.
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
