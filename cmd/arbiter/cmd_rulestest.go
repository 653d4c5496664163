package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/ruletest"
	"github.com/arbiterhq/arbiter/wire"
)

const rulesTestHelp = `Usage: arbiter rules test DIR [-v] [--format text|json] [--run REGEXP]

Runs the rule tests (the "tests:" lists of the *_test.yaml files under DIR):
every case is a dry-run decision for its profile, request and time, checked
against its "expect". Prints each failure with its file:line, what was
expected, what came and the explanation (with -v, every passing case too, as
"ok   FILE:LINE: NAME"), then "N passed, M failed". A case without "now" is
decided at its request's "now", else its file's "now:", else
2026-01-01T00:00:00Z (a fixed time, so that a run never depends on the day).

Exit status: 0 when every case passes, 1 when one fails or the rules have
errors (printed as file:line:col lines), 2 on a usage error.

Flags:
`

// cmdRulesTest runs `arbiter rules test`.
func cmdRulesTest(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter rules test", rulesTestHelp, s)
	format := c.fs.String("format", "text", "output format: text or json")
	run := c.fs.String("run", "", "run only the cases whose name matches this regular expression")
	verbose := c.fs.Bool("v", false, "list the passing cases too")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	var err error
	if len(pos) != 1 {
		err = fmt.Errorf("want one rules directory, got %d arguments", len(pos))
	}
	if err == nil && *format != "text" && *format != "json" {
		err = fmt.Errorf("--format %q: use text or json", *format)
	}
	var re *regexp.Regexp
	if err == nil && *run != "" {
		re, err = regexp.Compile(*run)
		if err != nil {
			err = fmt.Errorf("--run: %w", err)
		}
	}
	if err != nil {
		return c.usageErr(err.Error())
	}
	dir := pos[0]

	rs, err := rulefiles.Load(dir)
	if err != nil {
		printRuleErrors(s, "arbiter rules test", dir, err)
		if *format == "json" {
			writeTestJSON(s.Out, dir, nil, 0, 0, ruleErrorsJSON(dir, err))
		}
		return exitFail
	}
	cases := rs.Tests
	if re != nil {
		cases = nil
		for _, tc := range rs.Tests {
			if re.MatchString(tc.Name) {
				cases = append(cases, tc)
			}
		}
	}
	results := ruletest.RunCases(ctx, rs, ruletest.NewEngine(), cases)
	passed, failed := 0, 0
	for _, r := range results {
		if r.Pass {
			passed++
		} else {
			failed++
		}
	}
	if *format == "json" {
		writeTestJSON(s.Out, dir, results, passed, failed, []rulesCheckError{})
	} else {
		for i := range results {
			if !results[i].Pass {
				writeTestFailure(s.Out, dir, &results[i])
			} else if *verbose {
				fmt.Fprintf(s.Out, "ok   %s: %s\n", testPlace(dir, &results[i]), results[i].Case.Name)
			}
		}
		if len(results) == 0 {
			if re != nil {
				fmt.Fprintf(s.Err, "arbiter rules test: no test case matches --run %q\n", *run)
			} else {
				fmt.Fprintf(s.Err, "arbiter rules test: no test cases under %s (write them in *_test.yaml files)\n", dir)
			}
		}
		fmt.Fprintf(s.Out, "%d passed, %d failed\n", passed, failed)
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

// loadRulesForCLI loads a rules directory, printing rule errors as
// DIR/file:line:col lines.
func loadRulesForCLI(s stdio, cmd, dir string) (*rules.Ruleset, bool) {
	rs, err := rulefiles.Load(dir)
	if err == nil {
		return rs, true
	}
	printRuleErrors(s, cmd, dir, err)
	return nil, false
}

// printRuleErrors prints why the rules under dir do not load on stderr: a
// DIR/file:line:col line per rule error, or the error.
func printRuleErrors(s stdio, cmd, dir string, err error) {
	var errs rules.Errors
	var one *rules.Error
	switch {
	case errors.As(err, &errs):
		for _, e := range errs {
			fmt.Fprintln(s.Err, ruleErrorLine(dir, e))
		}
		fmt.Fprintf(s.Err, "%s: %d error(s) in the rules under %s\n", cmd, len(errs), dir)
	case errors.As(err, &one):
		fmt.Fprintln(s.Err, ruleErrorLine(dir, one))
	default:
		fmt.Fprintf(s.Err, "%s: %v\n", cmd, err)
	}
}

// ruleErrorsJSON lists why the rules under dir do not load, as rules check
// --format json does: a rule error with its DIR/file, line and column, any
// other error (a directory that cannot be read) with the directory.
func ruleErrorsJSON(dir string, err error) []rulesCheckError {
	var errs rules.Errors
	var one *rules.Error
	switch {
	case errors.As(err, &errs):
	case errors.As(err, &one):
		errs = rules.Errors{one}
	default:
		return []rulesCheckError{{File: dir, Message: err.Error()}}
	}
	out := make([]rulesCheckError, 0, len(errs))
	for _, e := range errs {
		out = append(out, rulesCheckError{File: rulePath(dir, e.Pos.File), Line: e.Pos.Line, Col: e.Pos.Col, Message: e.Msg, Hint: e.Hint})
	}
	return out
}

// rulePath is a rule file's path from the working directory (file as a
// rule error names it, relative to dir), so that editors can open it.
func rulePath(dir, file string) string {
	if file != "" && !filepath.IsAbs(file) {
		return filepath.Join(dir, file)
	}
	return file
}

// ruleErrorLine formats a rule error with its path from the working
// directory, so that editors can jump to it.
func ruleErrorLine(dir string, e *rules.Error) string {
	c := *e
	if c.Pos.File != "" && !filepath.IsAbs(c.Pos.File) {
		c.Pos.File = filepath.Join(dir, c.Pos.File)
	}
	return c.Error()
}

func testPlace(dir string, r *ruletest.Result) string {
	f := r.Case.Pos.File
	if f != "" && !filepath.IsAbs(f) {
		f = filepath.Join(dir, f)
	}
	return fmt.Sprintf("%s:%d", f, r.Case.Pos.Line)
}

// errorPlace is p as file:line:col, the file joined to dir.
func errorPlace(dir string, p rules.Pos) string {
	f := p.File
	if f != "" && !filepath.IsAbs(f) {
		f = filepath.Join(dir, f)
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
}

func writeTestFailure(w io.Writer, dir string, r *ruletest.Result) {
	fmt.Fprintf(w, "FAIL %s: %s\n", testPlace(dir, r), r.Case.Name)
	if r.Err != nil {
		at := ""
		if p := ruletest.ErrPlace(r.Case, r.Err); p != r.Case.Pos {
			at = errorPlace(dir, p) + ": "
		}
		for _, line := range strings.Split(r.Err.Error(), "\n") {
			fmt.Fprintf(w, "    error: %s%s\n", at, line)
			at = ""
		}
		return
	}
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "    %s: expected %s, got %s\n", m.What, m.Expected, m.Got)
	}
	if lines := ruletest.Explanation(r.Decision); len(lines) > 0 {
		fmt.Fprintln(w, "    why:")
		for _, l := range lines {
			fmt.Fprintf(w, "      %s\n", l)
		}
	}
}

type testResultJSON struct {
	Name        string              `json:"name"`
	File        string              `json:"file"`
	Line        int                 `json:"line"`
	Pass        bool                `json:"pass"`
	Error       string              `json:"error,omitempty"`
	ErrorLine   int                 `json:"error_line,omitempty"` // where the value Error is about is written
	ErrorCol    int                 `json:"error_col,omitempty"`
	Mismatches  []ruletest.Mismatch `json:"mismatches"`
	Explanation []string            `json:"explanation,omitempty"`
	Decision    json.RawMessage     `json:"decision,omitempty"` // failed cases only, as wire.AppendDecision writes it
}

// writeTestJSON writes the output of --format json: every case's result,
// the counts, and the rule errors that kept the cases from running (none
// when they ran).
func writeTestJSON(w io.Writer, dir string, results []ruletest.Result, passed, failed int, ruleErrors []rulesCheckError) {
	out := struct {
		Results []testResultJSON  `json:"results"`
		Passed  int               `json:"passed"`
		Failed  int               `json:"failed"`
		Errors  []rulesCheckError `json:"errors"`
	}{Results: make([]testResultJSON, 0, len(results)), Passed: passed, Failed: failed, Errors: ruleErrors}
	for i := range results {
		r := &results[i]
		j := testResultJSON{Name: r.Case.Name, Line: r.Case.Pos.Line, Pass: r.Pass, Mismatches: r.Mismatches}
		j.File = strings.TrimSuffix(testPlace(dir, r), fmt.Sprintf(":%d", r.Case.Pos.Line))
		if j.Mismatches == nil {
			j.Mismatches = []ruletest.Mismatch{}
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
			p := ruletest.ErrPlace(r.Case, r.Err)
			j.ErrorLine, j.ErrorCol = p.Line, p.Col
		}
		if !r.Pass {
			j.Explanation = ruletest.Explanation(r.Decision)
			if r.Decision != nil {
				j.Decision = wire.AppendDecision(nil, r.Decision)
			}
		}
		out.Results = append(out.Results, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
