package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile feeds arbitrary text as a rule file (and as a test file)
// through Compile: it must never panic, and every rules.Error must have a
// position.
func FuzzCompile(f *testing.F) {
	seeds := []string{
		"",
		"offers: [{id: a, kind: action}]",
		"segments:\n  - id: s\n    when: '\"s\" in segments'\n",
		"profile: {x: \"[string]\"}\nsegments: [{id: a, when: 'all(profile.x, # == \"a\")'}]",
		"a: &a [*a]",
		"x: &a {<<: *a}",
		"offers:\n  - id: o\n    title: '{{'\n    discount: {percent: 'min(1,'}\n",
		"experiments: [{id: e, variants: [{id: v, weight: 100, offers: {o: {disabled: true}}}]}]",
		"segments:\n  - id: s\n    when: |\n      cart.total >\n",
		"tests: [{name: t, profile: {a: 2026-01-01T00:00:00Z}, expect: {actions: []}}]",
		"offers: [{id: a, kind: action, score: 'propensity * (cart.total - discount)'}]\narbitration: {learning: {by: [a], prior: {alpha: 1, beta: 19}, half_life: 14d}}",
		"currency: USD\nrates: {EUR: 1.08, JPY: 6.7e-3}\noffers: [{id: a, when: 'cart.total_base > 9', discount: {amount: {USD: 5, EUR: 4}}}]",
	}
	_ = filepath.WalkDir("testdata/errors", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".yaml" {
			if b, err := os.ReadFile(p); err == nil {
				seeds = append(seeds, string(b))
			}
		}
		return nil
	})
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, asTest bool) {
		name := "r.yaml"
		if asTest {
			name = "r_test.yaml"
		}
		rs, err := Compile([]File{{Path: name, Data: []byte(text)}})
		if err == nil {
			if rs == nil || len(rs.Version) != 8 {
				t.Fatalf("no ruleset or bad version: %+v", rs)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) {
			t.Fatalf("not rules.Errors: %v", err)
		}
		if len(es) == 0 {
			t.Fatal("empty Errors")
		}
		for _, e := range es {
			if e.Pos.File == "" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("error without a position or message: %#v", e)
			}
		}
	})
}
