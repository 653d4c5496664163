package main

import "context"

// cmdProfilesImport is not built yet.
func cmdProfilesImport(ctx context.Context, args []string, s stdio) int {
	return notYet(s, "cmdProfilesImport")
}

// cmdProfilesGet is not built yet.
func cmdProfilesGet(ctx context.Context, args []string, s stdio) int {
	return notYet(s, "cmdProfilesGet")
}
