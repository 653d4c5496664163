package main

import "fmt"

// notYet answers for a subcommand whose issue has not landed yet.
func notYet(s stdio, name string) int {
	fmt.Fprintf(s.Err, "arbiter: %s is not built yet\n", name)
	return exitFail
}
