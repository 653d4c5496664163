package main

import "context"

// cmdEventsTail is not built yet.
func cmdEventsTail(ctx context.Context, args []string, s stdio) int {
	return notYet(s, "cmdEventsTail")
}
