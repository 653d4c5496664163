package exprenv

import "strings"

// stringBoxes keeps the boxed form (an any) of the few strings that come
// back decision after decision in the same fields of the environment (the
// request's placement and channel, the cart's currency), so that filling
// the environment does not box them anew: one allocation per value an Env
// sees, not per decision. What it keeps is a copy of its own (the
// request's strings may be memory the server reuses); it holds the last
// len(keys) values, the oldest giving way.
type stringBoxes struct {
	keys [8]string
	vals [8]any
	next int
}

// box returns s as an any.
func (b *stringBoxes) box(s string) any {
	for i := range b.keys {
		if b.vals[i] != nil && b.keys[i] == s {
			return b.vals[i]
		}
	}
	c := strings.Clone(s)
	i := b.next
	b.next = (b.next + 1) % len(b.keys)
	b.keys[i], b.vals[i] = c, c
	return b.vals[i]
}
