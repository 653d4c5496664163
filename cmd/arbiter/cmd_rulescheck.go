package main

import "context"

// cmdRulesCheck is not built yet.
func cmdRulesCheck(ctx context.Context, args []string, s stdio) int {
	return notYet(s, "cmdRulesCheck")
}
