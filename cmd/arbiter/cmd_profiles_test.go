package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

func TestProfilesImportAndGet(t *testing.T) {
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	profilesWriteFile(t, filepath.Join(rulesDir, "profile.yaml"), "profile:\n  ltv: number\n  orders: int\n  last_order_at: time\n  tier: {type: string, default: basic}\n  tags: \"[string]\"\n")
	profilesWriteFile(t, filepath.Join(dir, "p.jsonl"), strings.Join([]string{
		`{"id":"c1","ltv":1500.5,"orders":7,"last_order_at":1793491200,"tags":["a"],"junk":1}`,
		``,
		`{"id":"c2","ltv":"lots"}`,
		`not json`,
		`{"id":"c3"}`,
	}, "\n"))

	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
		return code, out.String(), errb.String()
	}

	// junk is no schema field: refused, unless --allow-extra (stored without it)
	code, out, _ := run1("profiles", "import", "--redis", url, "--rules", rulesDir, filepath.Join(dir, "p.jsonl"))
	if code != exitFail || !strings.Contains(out, "imported 1 profiles, rejected 3") || !strings.Contains(out, "line 1: profile.junk: unknown field") {
		t.Fatalf("import: %d\n%s", code, out)
	}
	code, out, _ = run1("profiles", "import", "--allow-extra", "--redis", url, "--rules", rulesDir, filepath.Join(dir, "p.jsonl"))
	if code != exitFail || !strings.Contains(out, "imported 2 profiles, rejected 2") ||
		!strings.Contains(out, "line 3: profile.ltv: want a number") || !strings.Contains(out, "line 4: not a JSON object") {
		t.Fatalf("import: %d\n%s", code, out)
	}
	if got := mr.HGet("arbiter:profile:{c1}", "last_order_at"); got != "2026-11-01T00:00:00Z" {
		t.Errorf("stored time %q", got)
	}
	if mr.HGet("arbiter:profile:{c1}", "junk") != "" {
		t.Error("a field not in the schema was stored")
	}

	code, out, errs := run1("profiles", "get", "--redis", url, "--rules", rulesDir, "c1")
	if code != exitOK {
		t.Fatalf("get: %d %s", code, errs)
	}
	var v struct {
		Key     string
		Found   bool
		Fields  map[string]string
		Profile map[string]any
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err, out)
	}
	if v.Key != "arbiter:profile:{c1}" || !v.Found || v.Profile["tier"] != "basic" || v.Profile["orders"] != 7.0 || v.Profile["known"] != true {
		t.Errorf("get: %s", out)
	}

	// Without --rules: stored as given.
	profilesWriteFile(t, filepath.Join(dir, "raw.jsonl"), `{"id":"r1","anything":"goes","n":3}`+"\n")
	if code, out, _ := run1("profiles", "import", "--redis", url, filepath.Join(dir, "raw.jsonl")); code != exitOK {
		t.Fatalf("raw import: %d %s", code, out)
	}
	if mr.HGet("arbiter:profile:{r1}", "n") != "3" {
		t.Error("raw value")
	}

	if code, _, _ := run1("profiles", "get", "--redis", url, "nobody"); code != exitFail {
		t.Errorf("unknown id: exit %d", code)
	}
	for _, args := range [][]string{
		{"profiles", "get", "--redis", url},
		{"profiles", "get", "--redis", url, "a", "b"},
		{"profiles", "import", "--redis", url},
		{"profiles", "import", "--bogus", "x"},
		{"profiles", "get", "--redis", "", "c1"},
	} {
		if code, _, errs := run1(args...); code != exitUsage || !strings.Contains(errs, "Usage:") {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}

func profilesWriteFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
