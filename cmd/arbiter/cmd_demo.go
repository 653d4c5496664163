package main

import "context"

// cmdDemo is not built yet.
func cmdDemo(ctx context.Context, args []string, s stdio) int { return notYet(s, "cmdDemo") }
