package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ruleTestdata = "../../ruletest/testdata"

// runCLI runs the arbiter command line with args and returns its exit
// code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestRulesTestUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no dir", nil, "want one rules directory"},
		{"two dirs", []string{"a", "b"}, "want one rules directory"},
		{"bad format", []string{"dir", "--format", "xml"}, "use text or json"},
		{"bad regexp", []string{"--run", "(", "dir"}, "--run"},
		{"unknown flag", []string{"dir", "--verbose"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"rules", "test"}, c.args...)...)
			if code != exitUsage || !strings.Contains(errs, c.want) || !strings.Contains(errs, "Usage: arbiter rules test DIR") || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 with %q and the help", code, out, errs, c.want)
			}
		})
	}
	code, out, _ := runCLI(t, "rules", "test", "--help")
	if code != exitOK || !strings.Contains(out, "--format") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

func TestRulesTestMissingDir(t *testing.T) {
	code, _, errs := runCLI(t, "rules", "test", filepath.Join(t.TempDir(), "nope"))
	if code != exitFail || errs == "" {
		t.Errorf("exit %d, stderr %q; want 1 with an error", code, errs)
	}
}

func TestRulesTestRuleErrors(t *testing.T) {
	dir := filepath.Join(ruleTestdata, "broken")
	code, out, errs := runCLI(t, "rules", "test", dir)
	want := filepath.Join(dir, "rules.yaml") + ":5:19: "
	if code != exitFail || !strings.Contains(errs, want) || !strings.Contains(errs, "profile.ltv") || out != "" {
		t.Errorf("exit %d, stderr %q; want 1 with %q and a suggestion of profile.ltv", code, errs, want)
	}
}

func TestRulesTestPass(t *testing.T) {
	code, out, errs := runCLI(t, "rules", "test", filepath.Join(ruleTestdata, "pass"))
	if code != exitOK || out != "2 passed, 0 failed\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and 2 passed", code, out, errs)
	}
}

func TestRulesTestFail(t *testing.T) {
	dir := filepath.Join(ruleTestdata, "mixed")
	code, out, errs := runCLI(t, "rules", "test", dir)
	if code != exitFail {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"FAIL " + filepath.Join(dir, "checkout_test.yaml") + ":11: a lapsed VIP still gets 10% (wrong on purpose)",
		"    actions: expected [vip_10, join_loyalty], got [join_loyalty]",
		"    discount_total: expected 12.00 USD, got 0.00 USD",
		"    why:",
		"offer vip_10: not chosen: segment",
		"1 passed, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL "+filepath.Join(dir, "checkout_test.yaml")+":2:") {
		t.Errorf("the passing case is reported as failing:\n%s", out)
	}

	// --run picks cases by name; flags may follow the directory.
	code, out, _ = runCLI(t, "rules", "test", dir, "--run", "^a VIP")
	if code != exitOK || out != "1 passed, 0 failed\n" {
		t.Errorf("--run: exit %d, %q", code, out)
	}
	code, out, errs = runCLI(t, "rules", "test", "--run", "nothing matches", dir)
	if code != exitOK || out != "0 passed, 0 failed\n" || !strings.Contains(errs, "no test case matches") {
		t.Errorf("--run with no match: exit %d, %q, %q", code, out, errs)
	}

	code, out, _ = runCLI(t, "rules", "test", "--format", "json", dir)
	var rep struct {
		Results []struct {
			Name        string   `json:"name"`
			File        string   `json:"file"`
			Line        int      `json:"line"`
			Pass        bool     `json:"pass"`
			Explanation []string `json:"explanation"`
			Mismatches  []struct{ What, Expected, Got string }
			Decision    map[string]any `json:"decision"`
		} `json:"results"`
		Passed, Failed int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	if code != exitFail || rep.Passed != 1 || rep.Failed != 1 || len(rep.Results) != 2 || rep.Results[1].Pass ||
		rep.Results[1].Line != 11 || len(rep.Results[1].Mismatches) == 0 || rep.Results[1].Decision == nil || len(rep.Results[1].Explanation) == 0 {
		t.Errorf("--format json: exit %d, %+v", code, rep)
	}
}

func TestRulesTestNoCases(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(ruleTestdata, "pass", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "rules", "test", dir)
	if code != exitOK || out != "0 passed, 0 failed\n" || !strings.Contains(errs, "no test cases") {
		t.Errorf("exit %d, %q, %q", code, out, errs)
	}
}

// With --format json, stdout is one JSON document whatever happens: rules
// that do not compile (or a directory that cannot be read) give an
// "errors" list, as rules check --format json does, and no results.
func TestRulesTestJSONRuleErrors(t *testing.T) {
	broken := filepath.Join(ruleTestdata, "broken")
	missing := filepath.Join(t.TempDir(), "nope")
	cases := []struct {
		dir, file string
		line      int
	}{
		{broken, filepath.Join(broken, "rules.yaml"), 5},
		{missing, missing, 0},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, "rules", "test", "--format", "json", c.dir)
		var rep struct {
			Results        []json.RawMessage `json:"results"`
			Passed, Failed int
			Errors         []struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Errorf("%s: stdout is not JSON (%v): %q (stderr %q)", c.dir, err, out, errs)
			continue
		}
		if code != exitFail || rep.Results == nil || len(rep.Results) != 0 || len(rep.Errors) != 1 ||
			rep.Errors[0].File != c.file || rep.Errors[0].Line != c.line || rep.Errors[0].Message == "" {
			t.Errorf("%s: exit %d, %+v", c.dir, code, rep)
		}
	}
}

// Every command that reads a rules directory names a rule error by its
// path from the working directory (DIR/file:line:col), as rules check
// does, so that an editor or a terminal can open it.
func TestRuleErrorsNameTheFileFromHere(t *testing.T) {
	dir := filepath.Join(ruleTestdata, "broken")
	want := filepath.Join(dir, "rules.yaml") + ":5:19: "
	jsonl := filepath.Join(t.TempDir(), "p.jsonl")
	if err := os.WriteFile(jsonl, []byte(`{"id":"c1"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const noRedis = "redis://127.0.0.1:1/0" // never reached: the rules are read first
	for _, args := range [][]string{
		{"rules", "check", dir},
		{"rules", "test", dir},
		{"decide", "--rules", dir, "--profile", filepath.Join("..", "..", "examples", "checkout", "testdata", "vip.json")},
		{"experiments", "list", "--rules", dir},
		{"learning", "reset", "--redis", noRedis, "--rules", dir},
		{"profiles", "import", "--redis", noRedis, "--rules", dir, jsonl},
		{"profiles", "get", "--redis", noRedis, "--rules", dir, "c1"},
	} {
		code, out, errs := runCLI(t, args...)
		if code != exitFail || !strings.Contains(out+errs, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 naming %s", args, code, out, errs, want)
		}
	}
}

// TestRulesTestErrorPlace: a case that cannot run (a profile value of the
// wrong type) names the file, line and column of that value.
func TestRulesTestErrorPlace(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"rules.yaml":      "profile:\n  orders: int\noffers:\n  - id: o1\n    discount: {percent: 10}\n",
		"cases_test.yaml": "tests:\n  - name: orders in quotes\n    profile: {id: c1, orders: \"x\"}\n    expect: {actions: [o1]}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := runCLI(t, "rules", "test", dir)
	want := "    error: " + filepath.Join(dir, "cases_test.yaml") + ":3:31: profile: profile.orders: want a whole number"
	if code != exitFail || !strings.Contains(out, want) {
		t.Errorf("exit %d, output:\n%s\nwant a line starting %q", code, out, want)
	}
}
