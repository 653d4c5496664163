package rulefiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/arbiterhq/arbiter/rules"
)

// TestLoadSkipsHiddenAndOtherFiles: only *.yaml and *.yml files are read,
// in path order, hidden files and directories never.
func TestLoadSkipsHiddenAndOtherFiles(t *testing.T) {
	fsys := fstest.MapFS{}
	for name, text := range map[string]string{
		"profile.yaml":          "profile:\n  ltv: number\n",
		"more/profile.yaml":     "profile:\n  tier: {type: string, default: basic}\n",
		"segments/value.yaml":   "segments:\n  - id: vip\n    when: profile.ltv >= 1000\n",
		"segments/combo.yml":    "segments:\n  - id: vip_gold\n    when: '\"vip\" in segments && profile.tier == \"gold\"'\n",
		"offers/a.yaml":         "offers:\n  - id: zeta\n    kind: action\n  - id: alpha\n    discount: {percent: 10}\n",
		"offers/b.yaml":         "offers:\n  - id: mid\n    kind: action\n",
		"arbitration.yaml":      "arbitration:\n  fallback: [mid]\n",
		"tests/basic_test.yaml": "tests:\n  - name: t\n    now: 2026-01-01T00:00:00Z\n    profile: {id: c1, ltv: 1500}\n    expect: {segments: [vip], actions: []}\n",
		".hidden/x.yaml":        "this: is ignored\n",
		"offers/.draft.yaml":    "this: is ignored\n",
		"notes.txt":             "not read",
	} {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	rs, err := LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := "arbitration.yaml more/profile.yaml offers/a.yaml offers/b.yaml profile.yaml segments/combo.yml segments/value.yaml tests/basic_test.yaml"
	if got := strings.Join(rs.Files, " "); got != want {
		t.Errorf("files = %s\nwant    %s", got, want)
	}
	if len(rs.Offers) != 3 || len(rs.Segments) != 2 || len(rs.Tests) != 1 {
		t.Errorf("%d offers, %d segments, %d tests", len(rs.Offers), len(rs.Segments), len(rs.Tests))
	}
}

func TestLoadDirErrors(t *testing.T) {
	if _, err := Load("testdata/does-not-exist"); err == nil {
		t.Error("missing dir loaded")
	}
	if _, err := LoadFS(fstest.MapFS{"x.txt": {Data: []byte("x")}}); !errors.Is(err, rules.ErrNoRuleFiles) {
		t.Errorf("empty: %v", err)
	}
	dir := t.TempDir()
	want := "rules: no *.yaml or *.yml files found under " + dir
	if _, err := Load(dir); !errors.Is(err, rules.ErrNoRuleFiles) || err.Error() != want {
		t.Errorf("empty dir: %v, want %s", err, want)
	}
}

// A Kubernetes ConfigMap volume links every file (and, with projected
// volumes or git-sync, directories) to a hidden timestamped directory
// through ..data: the rules are read once each, through the links.
func TestLoadThroughSymlinks(t *testing.T) {
	dir := t.TempDir()
	rev := filepath.Join(dir, "..2026_12_01_07_40_00.123")
	for name, text := range map[string]string{
		"profile.yaml":          "profile:\n  ltv: number\n",
		"segments/value.yaml":   "segments:\n  - id: vip\n    when: profile.ltv >= 1000\n",
		"offers/vip.yaml":       "offers:\n  - id: vip_10\n    segments: [vip]\n    discount: {percent: 10}\n",
		"offers/.hidden.yaml":   "not: [yaml",
		"offers/notes/x.txt":    "ignored",
		"offers/notes/more.yml": "offers:\n  - id: more\n    discount: {percent: 5}\n",
	} {
		p := filepath.Join(rev, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link(filepath.Base(rev), "..data")
	for _, name := range []string{"profile.yaml", "segments", "offers"} {
		link(filepath.Join("..data", name), name)
	}
	rs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Files) != 4 || len(rs.Segments) != 1 || len(rs.Offers) != 2 {
		t.Fatalf("files %v, %d segments, %d offers", rs.Files, len(rs.Segments), len(rs.Offers))
	}
	if rs.Files[0] != "offers/notes/more.yml" {
		t.Errorf("paths are the links' own: %v", rs.Files)
	}

	// A link cycle, a second link to a directory already read, and a link
	// beside its target (git-sync's current -> rev-...): each file is read
	// once, by the first path to it.
	if err := os.Symlink("..", filepath.Join(rev, "segments", "loop")); err != nil {
		t.Fatal(err)
	}
	link("segments", "again")
	link(".", "self")
	rs, err = Load(dir)
	if err != nil {
		t.Fatalf("links read twice: %v", err)
	}
	if len(rs.Files) != 4 || len(rs.Segments) != 1 || len(rs.Offers) != 2 {
		t.Fatalf("with a cycle and duplicate links: files %v", rs.Files)
	}

	// a link to a rule file that is gone is an error, not rules dropped in silence
	link("gone.yaml", "broken.yaml")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("a dangling link: got %v", err)
	}
}

// The Reloader reads the directory with Load by default: rule errors come
// back with their positions, relative to the directory, and the last good
// ruleset keeps serving.
func TestReloaderLoadsTheDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "offers", "a.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("offers:\n  - id: a\n    kind: action\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(dir, Options{Logger: quiet()})
	snap, err := r.Reload(TriggerStart)
	if err != nil || len(snap.Ruleset.Offers) != 1 || snap.Source != dir {
		t.Fatalf("first load: %v, %+v", err, snap)
	}
	if err := os.WriteFile(p, []byte("offers:\n  - id: a\n    kind: action\n    when: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := r.Reload(TriggerAPI)
	var es rules.Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Pos.File != "offers/a.yaml" || es[0].Pos.Line != 4 {
		t.Fatalf("broken reload: %v", err)
	}
	if got != snap || r.Current() != snap {
		t.Error("the last good ruleset does not keep serving")
	}
	if f := r.LastError(); f == nil || len(f.Errors) != 1 || f.Trigger != TriggerAPI {
		t.Errorf("failure = %+v", f)
	}
}
