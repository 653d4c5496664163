package events

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// The publisher releases the pooled messages of decisions once done with
// them, and the pool reuses them while others are in flight: every event
// still reaches the stream whole, with its own id and subject, also those
// held while NATS was down (the first two rounds: a message of the first
// released before it is sent would be reused by the second, and sent with
// another's bytes).
func TestPublisherReleasesPooledMessages(t *testing.T) {
	srv := newNATSProc(t, true)
	url, prefix := srv.url(), "arbtest"
	ctx := context.Background()
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, ReconnectWait: 50 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	placements := []string{"checkout", "cart", "a_placement_with_a_much_longer_name"}
	const rounds, perWorker, workers = 4, 150, 2
	n := rounds * perWorker * workers
	decisions := make([]*engine.Decision, n)
	want := map[string]string{} // id -> JSON
	for i := range decisions {
		d := &engine.Decision{
			DecisionID: "dcs_" + strconv.Itoa(100000+i) + "_" + placements[i%3], CustomerID: "c-" + strconv.Itoa(i),
			Ruleset: "abc", Segments: []string{}, Actions: []engine.Action{}, Experiments: []engine.Assignment{}, Degraded: []string{},
			Placement: placements[i%3], Now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		}
		decisions[i] = d
		want[d.DecisionID] = string(wire.AppendDecisionEvent(nil, d))
	}
	var pool wire.MessagePool
	for r := range rounds {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range perWorker {
					p.Publish(pool.Decision(decisions[(r*workers+w)*perWorker+k]))
				}
			}()
		}
		wg.Wait()
		done := uint64((r + 1) * perWorker * workers)
		if r < 2 {
			waitFor(t, 10*time.Second, "the round held", func() bool { return p.Stats().Buffered == done })
			if r == 0 {
				continue
			}
			srv.start()
		}
		waitFor(t, 20*time.Second, "the round's acknowledgements", func() bool { return p.Stats().Published >= done })
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	msgs := readStream(t, url, prefix, prefix+".decision.>")
	if len(msgs) != n {
		t.Fatalf("%d events in the stream, want %d", len(msgs), n)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		js, ok := want[id]
		if !ok || seen[id] {
			t.Fatalf("event with id %q: unknown or seen twice", id)
		}
		seen[id] = true
		if string(m.Data()) != js {
			t.Fatalf("event %s:\n got %s\nwant %s", id, m.Data(), js)
		}
		var placement string
		for _, pl := range placements {
			if len(id) > len(pl) && id[len(id)-len(pl):] == pl && id[len(id)-len(pl)-1] == '_' {
				placement = pl
			}
		}
		if m.Subject() != prefix+".decision."+placement {
			t.Fatalf("event %s on %s", id, m.Subject())
		}
	}
}
