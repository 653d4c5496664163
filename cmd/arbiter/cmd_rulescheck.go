package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
)

const rulesCheckHelp = `Usage: arbiter rules check DIR [--format text|json]

Compile and type-check the rule files (*.yaml, *.yml) under DIR.
Exit 0 with a summary when they are valid (and each warning on a line of
its own: "warning: file:line:col: message (hint)"); exit 1 with every
problem listed as file:line:col: message (hint); exit 2 on a usage error.

Flags:
  --format text|json   output format (default text)
`

// rulesCheckError is one problem in the JSON output.
type rulesCheckError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// rulesCheckReport is the JSON output of `arbiter rules check --format json`.
type rulesCheckReport struct {
	OK          bool              `json:"ok"`
	Version     string            `json:"version"`
	Files       int               `json:"files"`
	Segments    int               `json:"segments"`
	Offers      int               `json:"offers"`
	Experiments int               `json:"experiments"`
	Tests       int               `json:"tests"`
	Errors      []rulesCheckError `json:"errors"`
	// Warnings do not fail the check (a budget without a ruleset currency).
	Warnings []rulesCheckError `json:"warnings"`
}

// cmdRulesCheck compiles a rules directory and reports its problems.
func cmdRulesCheck(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter rules check", "", s)
	c.help = func(w io.Writer) { fmt.Fprint(w, rulesCheckHelp) } // the flags are in the text
	format := c.fs.String("format", "text", "text or json")
	dirs, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		return c.usageErr(fmt.Sprintf("--format must be text or json, not %q", *format))
	}
	if len(dirs) != 1 {
		return c.usageErr("give exactly one rules directory")
	}
	rs, err := rulefiles.Load(dirs[0])
	report := rulesCheckReport{Errors: []rulesCheckError{}, Warnings: []rulesCheckError{}}
	var list rules.Errors
	if err != nil && !errors.As(err, &list) {
		// not a problem in the rules: the directory cannot be read
		if *format == "json" {
			report.Errors = ruleErrorsJSON(dirs[0], err)
			writeRulesCheckJSON(s.Out, report)
		} else {
			fmt.Fprintf(s.Err, "arbiter rules check: %v\n", err)
		}
		return exitFail
	}
	if err != nil {
		report.Errors = ruleErrorsJSON(dirs[0], err)
	}
	if rs != nil {
		report.OK = true
		report.Version = rs.Version
		report.Files = len(rs.Files)
		report.Segments = len(rs.Segments)
		report.Offers = len(rs.Offers)
		report.Experiments = len(rs.Experiments)
		report.Tests = len(rs.Tests)
		for _, w := range rs.Warnings {
			report.Warnings = append(report.Warnings, rulesCheckError{File: rulePath(dirs[0], w.Pos.File), Line: w.Pos.Line, Col: w.Pos.Col, Message: w.Msg, Hint: w.Hint})
		}
	}
	if *format == "json" {
		writeRulesCheckJSON(s.Out, report)
	} else if report.OK {
		fmt.Fprintf(s.Out, "ok: %s, %s, %s, %s, %s, %s; version %s\n",
			count(report.Files, "file"), count(len(rs.Schema.Fields), "profile field"), count(report.Segments, "segment"),
			count(report.Offers, "offer"), count(report.Experiments, "experiment"), count(report.Tests, "test"), report.Version)
		for _, w := range rs.Warnings {
			fmt.Fprintln(s.Out, "warning: "+ruleErrorLine(dirs[0], w))
		}
	} else {
		for _, e := range list {
			fmt.Fprintln(s.Out, ruleErrorLine(dirs[0], e))
		}
		plural := "s"
		if len(list) == 1 {
			plural = ""
		}
		fmt.Fprintf(s.Err, "%d problem%s in %s\n", len(list), plural, dirs[0])
	}
	if !report.OK {
		return exitFail
	}
	return exitOK
}

func writeRulesCheckJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// count writes n and the noun, plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
