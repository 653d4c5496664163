package learning

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Day is the UTC day of t, as days since 1970-01-01: the day a count is
// kept under.
func Day(t time.Time) int {
	s := t.Unix()
	d := s / 86400
	if s < 0 && s%86400 != 0 {
		d--
	}
	return int(d)
}

// Weight is the weight of a count of day seen on today under halfLife:
// 2^-((today − day) / half-life in days), 1 without a half-life (0) and
// for a day that is not in the past.
func Weight(today, day int, halfLife time.Duration) float64 {
	if halfLife <= 0 || day >= today {
		return 1
	}
	days := float64(halfLife) / float64(24*time.Hour)
	return math.Exp2(-float64(today-day) / days)
}

// Stat is one offer's statistics in one cell: its trials and successes,
// weighted by Weight (so, with a half-life, not whole numbers).
type Stat struct {
	Trials, Successes float64
}

// Snapshot is the statistics at one moment: per offer and cell, the
// weighted sums of the counts, from which a decision reads propensities
// with no I/O. It is immutable and safe for concurrent use; its Counts
// method makes it an engine.Statistics.
type Snapshot struct {
	// At is when the counts were read; Today the day their weights are
	// relative to.
	At    time.Time
	Today int
	// HalfLife is the half-life the weights were computed with.
	HalfLife time.Duration
	stats    map[string]map[string]Stat // offer → cell → stat
}

// NewSnapshot sums counts per offer and cell, each weighted by
// Weight(Day(at), its day, halfLife). Negative counts count as 0, and a
// day's successes never count above its trials. The sums are taken in
// the order of offer, cell and day, whatever the order of counts (which
// it leaves as it is): weighted sums are not whole numbers, and the same
// counts must give the same posteriors, and so the same draws.
func NewSnapshot(counts []Count, at time.Time, halfLife time.Duration) *Snapshot {
	s := &Snapshot{At: at, Today: Day(at), HalfLife: halfLife, stats: map[string]map[string]Stat{}}
	counts = slices.Clone(counts)
	slices.SortFunc(counts, func(a, b Count) int {
		return cmp.Or(strings.Compare(a.Offer, b.Offer), strings.Compare(a.Cell, b.Cell), cmp.Compare(a.Day, b.Day),
			cmp.Compare(a.Trials, b.Trials), cmp.Compare(a.Successes, b.Successes))
	})
	for _, c := range counts {
		t, k := c.Trials, c.Successes
		if t < 0 {
			t = 0
		}
		if k < 0 {
			k = 0
		}
		if k > t {
			k = t
		}
		w := Weight(s.Today, c.Day, halfLife)
		cells := s.stats[c.Offer]
		if cells == nil {
			cells = map[string]Stat{}
			s.stats[c.Offer] = cells
		}
		st := cells[c.Cell]
		st.Trials += w * float64(t)
		st.Successes += w * float64(k)
		cells[c.Cell] = st
	}
	return s
}

// Counts returns the weighted trials and successes of offer in cell (0
// and 0 when none were counted); ok is true: a Snapshot is always usable
// (the Refresher decides when one is too old).
func (s *Snapshot) Counts(offer, cell string) (trials, successes float64, ok bool) {
	if s == nil {
		return 0, 0, false
	}
	st := s.stats[offer][cell]
	return st.Trials, st.Successes, true
}

// CellStat is one offer's statistics in one cell, as Cells lists them.
type CellStat struct {
	Offer, Cell string
	Stat
}

// Cells lists every offer and cell counted, by offer then cell.
func (s *Snapshot) Cells() []CellStat {
	if s == nil {
		return nil
	}
	var out []CellStat
	for o, cells := range s.stats {
		for c, st := range cells {
			out = append(out, CellStat{Offer: o, Cell: c, Stat: st})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Offer != out[j].Offer {
			return out[i].Offer < out[j].Offer
		}
		return out[i].Cell < out[j].Cell
	})
	return out
}
