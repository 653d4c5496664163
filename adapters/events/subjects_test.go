package events

import (
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// TestRecyclerSubjectsKeepNoMessageMemory: the recycler remembers the
// subject of each placement by the message's key, whose memory is the
// pooled message's (reused once it is released): the remembered key must
// stay the placement it was, so that a later message of another placement
// that reuses that memory does not get the first one's subject.
func TestRecyclerSubjectsKeepNoMessageMemory(t *testing.T) {
	tests := []struct{ first, second string }{
		{"checkout", "homepage"}, // same length: the same bytes of the reused message
		{"cart", "menu"},
	}
	for _, tc := range tests {
		t.Run(tc.first, func(t *testing.T) {
			var pool wire.MessagePool
			var rc recycler
			dec := func(placement string) *engine.Decision {
				return &engine.Decision{DecisionID: "dcs_1", Placement: placement, Segments: []string{}, Actions: []engine.Action{},
					Experiments: []engine.Assignment{}, Degraded: []string{}, Now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
			}
			m := pool.Decision(dec(tc.first))
			if got, want := rc.subject("arb", m), "arb.decision."+tc.first; got != want {
				t.Fatalf("subject = %q, want %q", got, want)
			}
			m.Release()
			// The next message may reuse the released one's memory.
			m2 := pool.Decision(dec(tc.second))
			m2.Release()
			for k := range rc.subjects {
				if k.key != tc.first {
					t.Errorf("the recycler remembers a subject under key %q, want %q", k.key, tc.first)
				}
			}
			m3 := pool.Decision(dec(tc.second))
			if got, want := rc.subject("arb", m3), "arb.decision."+tc.second; got != want {
				t.Errorf("subject of the second placement = %q, want %q", got, want)
			}
		})
	}
}
