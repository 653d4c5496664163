package main

import (
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// A command group with no subcommand lists its subcommands (issue 18:
// `arbiter rules` said "unknown command").
func TestGroupListsSubcommands(t *testing.T) {
	for _, tc := range []struct {
		group string
		subs  []string
	}{
		{"rules", []string{"rules check", "rules test", "rules schema"}},
		{"profiles", []string{"profiles import", "profiles get"}},
		{"events", []string{"events tail"}},
		{"experiments", []string{"experiments report", "experiments list"}},
		{"learning", []string{"learning reset"}},
	} {
		t.Run(tc.group, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.group)
			if code != exitUsage || out != "" || strings.Contains(errs, "unknown command") {
				t.Fatalf("arbiter %s: exit %d, stdout %q, stderr:\n%s", tc.group, code, out, errs)
			}
			for _, s := range tc.subs {
				if !strings.Contains(errs, s) {
					t.Errorf("arbiter %s: no %q in\n%s", tc.group, s, errs)
				}
			}
			if strings.Contains(errs, "serve") {
				t.Errorf("arbiter %s lists other commands:\n%s", tc.group, errs)
			}
			code, out, _ = runCLI(t, tc.group, "--help")
			if code != exitOK || !strings.Contains(out, tc.subs[0]) {
				t.Errorf("arbiter %s --help: exit %d, stdout:\n%s", tc.group, code, out)
			}
			code, _, errs = runCLI(t, tc.group, "nope")
			if code != exitUsage || !strings.Contains(errs, `unknown subcommand "nope"`) || !strings.Contains(errs, tc.subs[0]) {
				t.Errorf("arbiter %s nope: exit %d, stderr:\n%s", tc.group, code, errs)
			}
		})
	}
}

// arbiter help CMD prints CMD's help (issue 18: it printed the top-level
// help).
func TestHelpCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "serve"}, "Usage: arbiter serve"},
		{[]string{"help", "rules", "test"}, "Usage: arbiter rules test"},
		{[]string{"help", "decide"}, "Usage: arbiter decide"},
		{[]string{"help", "rules"}, "rules check"},
		{[]string{"help"}, "Commands:"},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != exitOK || !strings.Contains(out, tc.want) {
			t.Errorf("arbiter %s: exit %d, want %q on stdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, out, errs)
		}
	}
	code, _, errs := runCLI(t, "help", "nope")
	if code != exitUsage || !strings.Contains(errs, `unknown command "nope"`) {
		t.Errorf("arbiter help nope: exit %d, stderr:\n%s", code, errs)
	}
}

// arbiter version prints the module version and the VCS commit of the
// build.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runCLI(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "arbiter ") || !strings.Contains(out, "github.com/arbiterhq/arbiter") ||
			!strings.Contains(out, "commit ") || !strings.Contains(out, "go1.") {
			t.Errorf("arbiter %v: exit %d, stdout:\n%s\nstderr:\n%s", args, code, out, errs)
		}
	}
}

// rules test -v lists the passing cases too; a case without now runs at
// the file's now:, else at ruletest.DefaultNow (docs/rules.md).
func TestRulesTestVerboseAndDefaultNow(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rules.yaml", `offers:
  - id: new_year
    kind: action
    schedule: {start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}
  - id: always
    kind: action
`)
	writeFile(t, dir, "a_test.yaml", `tests:
  - name: without now, the default time is new year's day 2026
    expect: {actions: [always, new_year]}
`)
	writeFile(t, dir, "b_test.yaml", `now: 2026-06-01T00:00:00Z
tests:
  - name: the file's now
    expect: {actions: [always]}
  - name: the case's own now
    now: 2026-01-01T12:00:00Z
    expect: {actions: [always, new_year]}
`)
	code, out, errs := runCLI(t, "rules", "test", "-v", dir)
	if code != exitOK || !strings.Contains(out, "3 passed, 0 failed") {
		t.Fatalf("rules test -v: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"ok   " + filepath.Join(dir, "a_test.yaml") + ":2: without now, the default time is new year's day 2026",
		"ok   " + filepath.Join(dir, "b_test.yaml") + ":3: the file's now",
		"ok   " + filepath.Join(dir, "b_test.yaml") + ":5: the case's own now",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rules test -v: no %q in\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "rules", "test", dir)
	if code != exitOK || strings.Contains(out, "ok   ") {
		t.Errorf("rules test without -v lists passing cases: exit %d\n%s", code, out)
	}
}

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.24.0", Main: debug.Module{Path: "github.com/arbiterhq/arbiter", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-03T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "arbiter v1.2.3 (github.com/arbiterhq/arbiter)\ncommit abc123+dirty (2026-12-03T10:00:00Z)\ngo1.24.0\n"
	if got := versionText(bi, true); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
