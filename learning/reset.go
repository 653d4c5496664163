package learning

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Store is a ledger's stored statistics as `arbiter learning reset` sees
// them: what they hold, and their deletion.
type Store interface {
	Source
	Resetter
}

// OfferTotal is what one offer's statistics held, summed over its cells
// and days.
type OfferTotal struct {
	Offer             string
	Trials, Successes int64
}

// NoStatisticsError says that Reset found nothing to delete for Offers
// (for any offer when Offers is empty), and so deleted nothing.
type NoStatisticsError struct {
	Offers []string
}

func (e *NoStatisticsError) Error() string {
	if len(e.Offers) == 0 {
		return "no learning statistics are stored for any offer: nothing was deleted"
	}
	return fmt.Sprintf("no learning statistics are stored for %s: nothing was deleted", strings.Join(e.Offers, ", "))
}

// Reset deletes the statistics of the named offers (every offer's when
// offers is nil) from st and returns what they held when read, just before
// the deletion, sorted by offer. The deletion is said truthfully: when a
// named offer has no statistics (a mistyped id, another key prefix, or a
// server that counts them elsewhere), or none are stored at all, it
// deletes nothing and returns a *NoStatisticsError, so that a reset that
// reaches nothing is never taken for one that worked.
func Reset(ctx context.Context, st Store, offers []string) ([]OfferTotal, error) {
	counts, err := st.Counts(ctx, offers)
	if err != nil {
		return nil, fmt.Errorf("reading the learning statistics before deleting them (nothing was deleted): %w", err)
	}
	byOffer := map[string]*OfferTotal{}
	for _, c := range counts {
		t := byOffer[c.Offer]
		if t == nil {
			t = &OfferTotal{Offer: c.Offer}
			byOffer[c.Offer] = t
		}
		t.Trials += c.Trials
		t.Successes += c.Successes
	}
	var missing []string
	for _, o := range offers {
		if byOffer[o] == nil && !slices.Contains(missing, o) {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 || len(byOffer) == 0 {
		return nil, &NoStatisticsError{Offers: missing}
	}
	out := make([]OfferTotal, 0, len(byOffer))
	which := make([]string, 0, len(byOffer))
	for id, t := range byOffer {
		out = append(out, *t)
		which = append(which, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offer < out[j].Offer })
	sort.Strings(which)
	// Only the offers read are deleted: with offers nil, one whose first
	// trial comes between the read and the deletion keeps it.
	if err := st.ResetLearning(ctx, which); err != nil {
		return nil, fmt.Errorf("deleting the learning statistics of %s: %w", strings.Join(which, ", "), err)
	}
	return out, nil
}
