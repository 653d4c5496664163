package ledger

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

// TestResetForgetsEarlierDecisions: after `arbiter learning reset`, an
// outcome of a decision made before the reset counts no success (its
// trial was deleted with the statistics: counted now, the success would
// have no trial, and a converted decision of the old offer would count
// for the new one); a decision made after the reset counts as before.
// The reset is timed by the Redis server's clock.
func TestResetForgetsEarlierDecisions(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	l := NewWithOptions(c, Options{Prefix: prefix, Clock: ClockPlan})
	decide := func(k int, at time.Time) string {
		t.Helper()
		ref := fmt.Sprintf("%026d", k)
		p := &engine.Plan{Now: at, Ref: ref, Currency: "USD", Limit: 1, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "x", Record: true, Cell: "all"}}}
		if res, err := l.Reserve(ctx, p); err != nil || res[0] != engine.Granted {
			t.Fatal(res, err)
		}
		return ref
	}
	convert := func(ref string, decided, at time.Time) int {
		t.Helper()
		res, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: ref, DecisionTime: decided, Type: "converted", Reward: "converted",
			Named: true, Offers: []engine.OutcomeOffer{{ID: "x"}}, At: at, Now: at}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Successes
	}
	now, err := c.Time(ctx).Result() // the server's clock, which times the reset
	if err != nil {
		t.Fatal(err)
	}
	before, after := now.Add(-time.Second), now.Add(time.Second)
	old := decide(1, before)
	if err := l.ResetLearning(ctx, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	fresh := decide(2, after)
	tests := []struct {
		ref           string
		decided       time.Time
		wantSuccesses int
	}{
		{old, before, 0},
		{fresh, after, 1},
		{fresh, after, 0}, // once
	}
	for _, tc := range tests {
		if got := convert(tc.ref, tc.decided, after.Add(time.Minute)); got != tc.wantSuccesses {
			t.Errorf("decision %s converted: %d successes, want %d", tc.ref, got, tc.wantSuccesses)
		}
	}
	counts, err := l.Counts(ctx, []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []learning.Count{{Offer: "x", Cell: "all", Day: learning.Day(after), Trials: 1, Successes: 1}}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %+v, want %+v", counts, want)
	}
}
