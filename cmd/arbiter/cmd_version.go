package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

const versionHelp = `Usage: arbiter version

Prints the module version of this binary (a tag when built with go install
MODULE@VERSION, "(devel)" in a checkout), the VCS commit and time it was
built from (with "+dirty" when the work tree had changes) and the Go
version, from the build information (runtime/debug.ReadBuildInfo). Go
stamps the commit when it builds in a git checkout (go build -buildvcs=true,
the default there unless GOFLAGS says otherwise).

Flags:
`

// cmdVersion runs `arbiter version`.
func cmdVersion(_ context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter version", versionHelp, s)
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return c.usageErr(fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	fmt.Fprint(s.Out, versionText(debug.ReadBuildInfo()))
	return exitOK
}

// versionText formats the build information: "arbiter VERSION (MODULE)",
// then the commit and the Go version.
func versionText(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "arbiter (unknown version: built without module information)\n"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	commit, when, dirty := "unknown (built without VCS stamping: -buildvcs=false, or outside a git checkout)", "", false
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			commit = st.Value
		case "vcs.time":
			when = st.Value
		case "vcs.modified":
			dirty = st.Value == "true"
		}
	}
	if dirty {
		commit += "+dirty"
	}
	if when != "" {
		commit += " (" + when + ")"
	}
	return fmt.Sprintf("arbiter %s (%s)\ncommit %s\n%s\n", version, bi.Main.Path, commit, bi.GoVersion)
}
