package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// extraRules is a ruleset in which a lapsed customer (no order for 180
// days) gets a win-back offer: a misspelt last_order_at makes everyone
// lapsed.
const extraRules = `profile:
  ltv: number
  last_order_at: time
segments:
  - id: lapsed
    when: profile.last_order_at.IsZero() || daysSince(profile.last_order_at) > 180
offers:
  - id: winback
    kind: action
    segments: [lapsed]
`

// Misspelt profile fields are refused with a did-you-mean and where they
// are, by profiles import --rules, decide --profile and rule tests;
// --allow-extra (import and decide) makes them a warning (issue 18).
func TestUnknownProfileFieldsRefused(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	writeFileAll(t, rulesDir, "rules.yaml", extraRules)

	t.Run("import", func(t *testing.T) {
		mr := miniredis.RunT(t)
		url := "redis://" + mr.Addr()
		file := writeFile(t, dir, "p.jsonl", `{"id":"c1","ltv":10,"last_order_at":"2026-11-01T00:00:00Z"}`+"\n"+`{"id":"c2","ltv":10,"last_order":"2026-11-01T00:00:00Z"}`+"\n")
		code, out, errs := runCLI(t, "profiles", "import", "--redis", url, "--rules", rulesDir, file)
		if code != exitFail || !strings.Contains(out, "imported 1 profiles, rejected 1") ||
			!strings.Contains(out, "line 2: profile.last_order: unknown field (did you mean `last_order_at`?") {
			t.Errorf("import: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		if mr.Exists("arbiter:profile:{c2}") {
			t.Error("the profile with a misspelt field was stored")
		}
		code, out, errs = runCLI(t, "profiles", "import", "--allow-extra", "--redis", url, "--rules", rulesDir, file)
		if code != exitOK || !strings.Contains(out, "imported 2 profiles, rejected 0") ||
			!strings.Contains(errs, "warning: line 2: profile.last_order: unknown field (did you mean `last_order_at`?") {
			t.Errorf("import --allow-extra: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})

	t.Run("decide", func(t *testing.T) {
		p := writeFile(t, dir, "vip.json", "{\n  \"id\": \"c1\",\n  \"last_order\": \"2026-11-01T00:00:00Z\"\n}\n")
		args := []string{"decide", "--rules", rulesDir, "--profile", p, "--now", "2026-11-20T00:00:00Z"}
		code, out, errs := runCLI(t, args...)
		if code != exitFail || !strings.Contains(errs, p+":3:3: profile.last_order: unknown field (did you mean `last_order_at`?") || out != "" {
			t.Errorf("decide: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		code, out, errs = runCLI(t, append(args, "--allow-extra")...)
		if code != exitOK || !strings.Contains(errs, "warning: "+p+":3:3: profile.last_order: unknown field") || !strings.Contains(out, `"winback"`) {
			t.Errorf("decide --allow-extra: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})

	t.Run("rule test", func(t *testing.T) {
		writeFileAll(t, rulesDir, "cases_test.yaml", `tests:
  - name: a recent customer is not lapsed
    now: 2026-11-20T00:00:00Z
    profile: {id: c1, last_order: 2026-11-01T00:00:00Z}
    expect:
      actions: [winback]
`)
		code, out, errs := runCLI(t, "rules", "test", rulesDir)
		if code != exitFail || !strings.Contains(out+errs, "cases_test.yaml:4:23: test `a recent customer is not lapsed`: profile.last_order is not a field of the profile schema (did you mean `last_order_at`?") {
			t.Errorf("rules test: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})
}

// writeFileAll writes dir/name, making dir.
func writeFileAll(t *testing.T, dir, name, body string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, body)
}
