package rules

import (
	"math"
	"time"
)

// Index is what a decision looks offers up by, built once when the rules
// are compiled, so that a decision does not check the offers that cannot
// apply to it: per placement, the offers that may be offered there (those
// that name it, and those that name no placement), split into the offers
// open to everyone and, per segment, the offers that require it (any of
// their `segments`); per offer, the positions of its segments and the
// instants its schedule starts and ends. Offers are numbered as in
// Ruleset.Offers, segments as in Ruleset.Segments. It describes the base
// offers: a variant's override of an offer may change its placements,
// segments and schedule, so the engine checks overridden offers in full.
// It is immutable and safe for concurrent use.
type Index struct {
	placements map[string]*PlacementOffers
	// unnamed is the placement that no offer names: only the offers that
	// name no placement apply there.
	unnamed *PlacementOffers
	segs    [][]int32 // per offer: the positions of its segments (any of)
	excl    [][]int32 // per offer: the positions of its excluded segments
	from    []int64   // per offer: its schedule's start (Unix ns), or math.MinInt64
	to      []int64   // per offer: its schedule's end (Unix ns, exclusive), or math.MaxInt64

	guards    []SegmentGuard
	unguarded []int32
}

// SegmentGuard gathers the segments whose condition starts with a test of
// one flat name against string constants (exprenv.Guard): when the name's
// value in a decision is a string, only the segments of ByValue[value] can
// match, and the others of All are false without being evaluated (no error
// can come of them); any other value tells nothing, and every segment of
// All is evaluated.
//
// With List, the guards are `"const" in NAME`, NAME a list of strings:
// when its value is a list of strings, only the segments of ByValue[e] for
// its elements e can match.
type SegmentGuard struct {
	Flat    int                // the name's index in the layout's flat names (exprenv.Layout.Flat)
	List    bool               // the name is a list of strings
	All     []int32            // the segments guarded by the name, ascending
	ByValue map[string][]int32 // per constant, the segments it lets through, ascending
}

// PlacementOffers lists, in ascending offer order, the offers that may be
// offered at one placement.
type PlacementOffers struct {
	// Open are the offers that require no segment.
	Open []int32
	// BySegment holds, per segment position, the offers that require that
	// segment (one of their `segments`).
	BySegment [][]int32
}

// Index returns the ruleset's offer index; nil for a Ruleset that Compile
// did not build (the engine then checks every offer).
func (r *Ruleset) Index() *Index {
	if r.index == nil || len(r.index.segs) != len(r.Offers) {
		return nil
	}
	return r.index
}

// SegmentGuards returns the guards of the segments (see SegmentGuard).
func (ix *Index) SegmentGuards() []SegmentGuard { return ix.guards }

// UnguardedSegments returns the segments that have a condition and no
// guard: those are always evaluated. A segment in neither list has no
// condition.
func (ix *Index) UnguardedSegments() []int32 { return ix.unguarded }

// indexSegments gathers the segments' guards.
func (ix *Index) indexSegments(segments []*Segment) {
	type key struct {
		flat int
		list bool
	}
	byFlat := map[key]int{}
	for n, s := range segments {
		if s.When == nil || s.When.Expr == nil {
			continue
		}
		i := int32(n)
		g, ok := s.When.Guard()
		if !ok {
			ix.unguarded = append(ix.unguarded, i)
			continue
		}
		k, seen := byFlat[key{g.Flat, g.List}]
		if !seen {
			k = len(ix.guards)
			byFlat[key{g.Flat, g.List}] = k
			ix.guards = append(ix.guards, SegmentGuard{Flat: g.Flat, List: g.List, ByValue: map[string][]int32{}})
		}
		sg := &ix.guards[k]
		sg.All = append(sg.All, i)
		for _, v := range g.Values {
			sg.ByValue[v] = append(sg.ByValue[v], i)
		}
	}
}

// buildIndex indexes the segments and offers of a compiled ruleset.
func buildIndex(segments []*Segment, offers []*Offer) *Index {
	pos := make(map[string]int32, len(segments))
	for i, s := range segments {
		pos[s.ID] = int32(i)
	}
	positions := func(ids []string) []int32 {
		if len(ids) == 0 {
			return nil
		}
		out := make([]int32, 0, len(ids))
		for _, id := range ids {
			if p, ok := pos[id]; ok {
				out = append(out, p)
			}
		}
		return out
	}
	ix := &Index{
		placements: map[string]*PlacementOffers{},
		unnamed:    &PlacementOffers{BySegment: make([][]int32, len(segments))},
		segs:       make([][]int32, len(offers)),
		excl:       make([][]int32, len(offers)),
		from:       make([]int64, len(offers)),
		to:         make([]int64, len(offers)),
	}
	ix.indexSegments(segments)
	for _, o := range offers {
		for _, p := range o.Placements {
			if ix.placements[p] == nil {
				ix.placements[p] = &PlacementOffers{BySegment: make([][]int32, len(segments))}
			}
		}
	}
	add := func(po *PlacementOffers, i int32, segs []int32) {
		if len(segs) == 0 {
			po.Open = append(po.Open, i)
			return
		}
		for _, s := range segs {
			if l := po.BySegment[s]; len(l) == 0 || l[len(l)-1] != i {
				po.BySegment[s] = append(l, i)
			}
		}
	}
	for n, o := range offers {
		i := int32(n)
		ix.segs[n] = positions(o.Segments)
		ix.excl[n] = positions(o.ExcludeSegments)
		ix.from[n], ix.to[n] = math.MinInt64, math.MaxInt64
		if sc := o.Schedule; sc != nil {
			if !sc.Start.IsZero() {
				ix.from[n] = unixNano(sc.Start)
			}
			if !sc.End.IsZero() {
				ix.to[n] = unixNano(sc.End)
			}
		}
		if len(o.Placements) == 0 {
			add(ix.unnamed, i, ix.segs[n])
			for _, po := range ix.placements {
				add(po, i, ix.segs[n])
			}
			continue
		}
		for _, p := range o.Placements {
			add(ix.placements[p], i, ix.segs[n])
		}
	}
	return ix
}

// unixNano is t in Unix nanoseconds; times out of int64's range (before
// 1678, after 2262) give math.MinInt64 or math.MaxInt64, which no time in
// range reaches.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minNano):
		return math.MinInt64
	case t.After(maxNano):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minNano = time.Unix(0, math.MinInt64+1)
	maxNano = time.Unix(0, math.MaxInt64-1)
)

// Placement returns the offers that may be offered at a placement.
func (ix *Index) Placement(p string) *PlacementOffers {
	if po, ok := ix.placements[p]; ok {
		return po
	}
	return ix.unnamed
}

// Segments returns the positions of offer i's segments (any of) and of
// its excluded segments.
func (ix *Index) Segments(i int) (anyOf, excluded []int32) { return ix.segs[i], ix.excl[i] }

// WindowTime is now as InWindow reads it (Unix nanoseconds); ok is false
// when now is out of its range (before 1678, after 2262), where InWindow
// cannot tell.
func WindowTime(now time.Time) (t int64, ok bool) {
	t = unixNano(now)
	return t, t != math.MinInt64 && t != math.MaxInt64
}

// InWindow reports whether now (from WindowTime) is within offer i's
// schedule's start (inclusive) and end (exclusive); its days and hours are
// not read: an offer outside its window is not active (Schedule.Active),
// one inside it may be.
func (ix *Index) InWindow(i int, now int64) bool { return now >= ix.from[i] && now < ix.to[i] }
