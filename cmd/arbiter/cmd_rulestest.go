package main

import "context"

// cmdRulesTest is not built yet.
func cmdRulesTest(ctx context.Context, args []string, s stdio) int { return notYet(s, "cmdRulesTest") }
