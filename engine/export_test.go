package engine

import (
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

func loadDir(t testing.TB, dir string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Load(dir)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	return rs
}
