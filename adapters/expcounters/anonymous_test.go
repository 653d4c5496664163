package expcounters

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// TestAnonymousConversionsCountNowhere: an anonymous decision is in no
// holdout group (anonymous customers are never held out, and the counters
// count no anonymous decision), so its conversion counts in none either:
// counted in `served`, it raised the served group's conversions (and
// revenue) over decisions it never counted, overstating the programme's
// lift on GET /v1/experiments.
func TestAnonymousConversionsCountNowhere(t *testing.T) {
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	c.HoldoutOf = func(string) bool { return false }
	signer, err := decisionid.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	id := func(cust string) string {
		return signer.New(decisionid.KindDecision, ulid.MustNew(ulid.Timestamp(t0), ulid.DefaultEntropy()), cust, nil, false)
	}
	dec := func(cust string) *wire.DecisionEvent {
		return &wire.DecisionEvent{CustomerID: cust, Experiments: []wire.Assignment{}}
	}
	conv := func(decisionID, cust string, minor int64) *wire.OutcomeEvent {
		return &wire.OutcomeEvent{DecisionID: decisionID, CustomerID: cust, Outcome: wire.OutcomeConverted, TS: t0.Add(time.Hour),
			Verified: true, Value: engine.Money{Minor: minor, Exp: 2}, Currency: "USD", Experiments: []wire.Assignment{}}
	}
	ctx := context.Background()
	known, anon := id("c1"), id("")
	for i, ev := range []Event{
		{Decision: dec("c1")},
		{Decision: dec("")}, // anonymous: not counted
		{Outcome: conv(known, "c1", 1000)},
		{Outcome: conv(anon, "", 5000)}, // its conversion: nowhere either
	} {
		ev.Stream, ev.Sequence, ev.Stored = "ARBITER", uint64(i+1), t0
		if _, err := c.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Groups[HoldoutServed]; g == nil || g.Decisions != 1 || g.Conversions != 1 || g.Revenue["USD"] != 1000 {
		t.Errorf("served %+v, want the identified customer's decision and conversion only", g)
	}
}
