package learning

import (
	"sync"
	"time"
)

// recentSlots is the number of one-minute slots Recent keeps: an hour.
const recentSlots = 60

// Recent counts this process's trials (grants of offers whose score reads
// propensity) per offer and cell over the last hour, in one-minute slots,
// for the share of each cell's grants that went to each offer. The zero
// value is ready; safe for concurrent use. Its Trial method makes it the
// engine's trial observer.
type Recent struct {
	mu    sync.Mutex
	cells map[string]map[string]*ring // cell → offer → ring
}

type ring struct {
	minute [recentSlots]int64 // the minute (Unix minutes) each slot counts
	n      [recentSlots]int64
}

// Trial counts a grant of offer in cell at t.
func (r *Recent) Trial(offer, cell string, t time.Time) {
	m := t.Unix() / 60
	i := int(((m % recentSlots) + recentSlots) % recentSlots)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cells == nil {
		r.cells = map[string]map[string]*ring{}
	}
	offers := r.cells[cell]
	if offers == nil {
		offers = map[string]*ring{}
		r.cells[cell] = offers
	}
	rg := offers[offer]
	if rg == nil {
		rg = &ring{}
		offers[offer] = rg
	}
	if rg.minute[i] != m {
		rg.minute[i], rg.n[i] = m, 0
	}
	rg.n[i]++
}

// Shares returns, for every offer with a trial in cell in the hour before
// now, its share of the cell's trials in that hour (the shares add up to
// 1); nil when the cell had none.
func (r *Recent) Shares(cell string, now time.Time) map[string]float64 {
	m := now.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[string]int64{}
	var total int64
	for offer, rg := range r.cells[cell] {
		for i := range rg.minute {
			if age := m - rg.minute[i]; age >= 0 && age < recentSlots && rg.n[i] > 0 {
				counts[offer] += rg.n[i]
				total += rg.n[i]
			}
		}
	}
	if total == 0 {
		return nil
	}
	out := make(map[string]float64, len(counts))
	for o, n := range counts {
		out[o] = float64(n) / float64(total)
	}
	return out
}
