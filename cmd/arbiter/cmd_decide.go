package main

import "context"

// cmdDecide is not built yet.
func cmdDecide(ctx context.Context, args []string, s stdio) int { return notYet(s, "cmdDecide") }
