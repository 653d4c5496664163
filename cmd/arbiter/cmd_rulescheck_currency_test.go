package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A budget in rules without a currency is granted again in every currency:
// `rules check` says so once, as a warning, in text and in JSON, and exits
// 0.
func TestCmdRulesCheckBudgetWarning(t *testing.T) {
	dir := "testdata/rulescheck/budget"
	var out, errb bytes.Buffer
	code := cmdRulesCheck(context.Background(), []string{dir}, stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "ok: 1 file") ||
		!strings.HasPrefix(lines[1], "warning: "+filepath.Join(dir, "rules.yaml")+":5:20: the rules name no `currency`") ||
		!strings.Contains(lines[1], "granted again in every currency (budgets of `launch`)") || errb.Len() != 0 {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, out.String(), errb.String())
	}

	out.Reset()
	code = cmdRulesCheck(context.Background(), []string{"--format", "json", dir}, stdio{Out: &out, Err: &errb})
	var r rulesCheckReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if code != exitOK || !r.OK || len(r.Errors) != 0 || len(r.Warnings) != 1 || r.Warnings[0].Line != 5 || r.Warnings[0].Col != 20 ||
		r.Warnings[0].File != filepath.Join(dir, "rules.yaml") || !strings.Contains(r.Warnings[0].Hint, "currency: USD") {
		t.Errorf("exit %d: %+v", code, r)
	}

	out.Reset()
	cmdRulesCheck(context.Background(), []string{"--format", "json", "testdata/rulescheck/good"}, stdio{Out: &out, Err: &errb})
	if !strings.Contains(out.String(), `"warnings": []`) {
		t.Errorf("no empty warnings list: %s", out.String())
	}
}
