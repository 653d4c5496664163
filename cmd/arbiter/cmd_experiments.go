package main

import "context"

// cmdExperimentsReport is not built yet.
func cmdExperimentsReport(ctx context.Context, args []string, s stdio) int {
	return notYet(s, "cmdExperimentsReport")
}
