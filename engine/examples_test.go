package engine_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/ruletest"
)

// TestExampleRuleTests runs the rule tests of examples/checkout, written by
// marketers from the spec, through the engine with an in-memory ledger.
func TestExampleRuleTests(t *testing.T) {
	sub, err := fs.Sub(examples.Checkout, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulefiles.LoadFS(sub)
	if err != nil {
		t.Fatalf("examples/checkout does not load: %v", err)
	}
	eng := engine.New(engine.Options{Ledger: memledger.New()})
	res := ruletest.Run(context.Background(), rs, eng)
	if len(res) != len(rs.Tests) || len(res) < 10 {
		t.Fatalf("%d results for %d cases", len(res), len(rs.Tests))
	}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s: err %v mismatches %+v\n%v", r.Name(), r.Err, r.Mismatches, ruletest.Explanation(r.Decision))
		}
	}
}
