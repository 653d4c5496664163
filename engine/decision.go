package engine

import (
	"context"
	"unsafe"

	"github.com/arbiterhq/arbiter/rules"
)

// A Decision made by DecideInto reuses the memory of the one it replaces:
// its lists keep their backing arrays, and the discounts of its actions,
// their percents and their lines come from arrays of the decision's own.
// So a caller that keeps decisions in a pool (the HTTP server) decides
// without allocating; whatever pointed into the decision before (its
// actions' discounts, its lists) then sees the new one.

// reset empties d for a new decision, keeping its memory. Lists are empty,
// never nil.
func (d *Decision) reset() {
	clear(d.Actions) // the discounts and payloads they point to
	clear(d.learnBuf[:])
	*d = Decision{
		Segments:    emptyOr(d.Segments),
		Actions:     emptyOr(d.Actions),
		Experiments: emptyOr(d.Experiments),
		Degraded:    emptyOr(d.Degraded),
		discounts:   d.discounts[:0],
		percents:    d.percents[:0],
		amounts:     d.amounts[:0],
		text:        d.text[:0],
	}
}

// emptyOr returns s emptied, or an empty list when s is nil (no
// allocation: an empty list has no backing array).
func emptyOr[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s[:0]
}

// reserve makes room for the discounts and percents of n actions, before
// any is taken: a decision made afresh (Decide) gets arrays of the size it
// needs, a reused one keeps its own.
func (d *Decision) reserve(n int) {
	if cap(d.discounts)-len(d.discounts) < n {
		d.discounts = make([]DiscountResult, len(d.discounts), len(d.discounts)+n)
	}
	if cap(d.percents)-len(d.percents) < n {
		d.percents = make([]float64, len(d.percents), len(d.percents)+n)
	}
}

// newDiscount returns a discount of d's own for an action. When its array
// grows, the discounts taken before stay where they are (the old array),
// so the pointers already given out stay valid.
func (d *Decision) newDiscount() *DiscountResult {
	if len(d.discounts) == cap(d.discounts) {
		d.discounts = make([]DiscountResult, 0, max(4, 2*cap(d.discounts)))
	}
	d.discounts = d.discounts[:len(d.discounts)+1]
	return &d.discounts[len(d.discounts)-1]
}

// newPercent returns a pointer to v, kept in d (as newDiscount).
func (d *Decision) newPercent(v float64) *float64 {
	if len(d.percents) == cap(d.percents) {
		d.percents = make([]float64, 0, max(4, 2*cap(d.percents)))
	}
	d.percents = append(d.percents, v)
	return &d.percents[len(d.percents)-1]
}

// rendered is a title or message as rendered: a string of the rules (s),
// or text in the scratch's buffer (b), valid until the next render.
type rendered struct {
	s string
	b []byte
}

// keepText returns r as a string: the rules' own, or a copy of its text in
// d's memory.
func (d *Decision) keepText(r rendered) string {
	if r.b == nil {
		return r.s
	}
	if len(r.b) == 0 {
		return ""
	}
	if cap(d.text)-len(d.text) < len(r.b) {
		// A new block: the strings already given out keep the old one.
		d.text = make([]byte, 0, max(256, 2*cap(d.text), len(r.b)))
	}
	start := len(d.text)
	d.text = append(d.text, r.b...)
	return unsafe.String(&d.text[start], len(r.b))
}

// profileFor is Engine.profile, with the defaults of a customer without a
// stored profile kept in d rather than allocated.
func (e *Engine) profileFor(ctx context.Context, rs *rules.Ruleset, id string, d *Decision) (*Profile, bool) {
	if id == "" || e.opts.Profiles == nil {
		d.defProfile = Profile{ID: id, Attrs: rs.Schema.Defaults()}
		return &d.defProfile, false
	}
	return e.profile(ctx, rs, id)
}
