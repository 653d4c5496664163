package engine

import (
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/rules"
)

// The helpers of the internal tests, for the external ones (golden_test.go,
// an external test because it writes decisions with package wire, which
// imports the engine).
var (
	ProfileOf = profileOf
	CartOf    = cart
	TestNow   = testNow
	LoadDir   = loadDir
)

// loadDir compiles the *.yaml and *.yml files under dir, skipping hidden
// ones (the test data holds no symbolic links: reading a rules directory
// as served is adapters/rulefiles' job).
func loadDir(t testing.TB, dir string) *rules.Ruleset {
	t.Helper()
	fsys := os.DirFS(dir)
	var files []rules.File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); d.IsDir() || (ext != ".yaml" && ext != ".yml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		files = append(files, rules.File{Path: p, Data: data})
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	rs, err := rules.Compile(files)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	return rs
}
