package main

import "context"

// cmdServe is not built yet.
func cmdServe(ctx context.Context, args []string, s stdio) int { return notYet(s, "cmdServe") }
