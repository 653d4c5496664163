package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
)

// TestPriorRuleset: with --since, the report reads the events of the
// window, and the ruleset in force was loaded before it: priorRuleset
// finds the latest rules_reloaded event stored at or before the window's
// start (r2 here, not r3 stored after it), whose weights and control the
// report then uses (report.Collector.Prior). Before, the report knew no
// weights: variants in id order and equal weights assumed, a false sample
// ratio mismatch for any unequal split.
func TestPriorRuleset(t *testing.T) {
	url, _ := eventstest.URL(t)
	prefix := eventstest.Prefix(t, url, "expprior")
	js := eventstest.JetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := events.EnsureStream(ctx, js, events.Options{Prefix: prefix}, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := priorRuleset(ctx, url, prefix, time.Now()); err != nil || r != nil {
		t.Fatalf("no reload yet: %+v, %v", r, err)
	}
	var stored []time.Time
	for _, v := range []string{"r1", "r2", "r3"} {
		ack, err := js.Publish(ctx, prefix+".rules.reloaded", []byte(`{"type":"rules_reloaded","id":"rld_`+v+`","version":"`+v+
			`","result":"ok","errors":[],"experiments":[{"id":"disc","traffic":100,"variants":[{"id":"baseline","weight":90},{"id":"aggressive","weight":10}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := js.Stream(ctx, events.StreamName(prefix))
		if err != nil {
			t.Fatal(err)
		}
		m, err := stream.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, m.Time)
	}
	if !stored[2].After(stored[1]) {
		t.Fatalf("r3 stored at %v, not after r2 (%v)", stored[2], stored[1])
	}
	r, err := priorRuleset(ctx, url, prefix, stored[1])
	if err != nil || r == nil || r.Version != "r2" || len(r.Experiments) != 1 || r.Experiments[0].Variants[0].ID != "baseline" {
		t.Fatalf("prior ruleset %+v, %v: want r2, control baseline", r, err)
	}
	// The command with --since: the window holds no event, and the reload
	// before it names the experiment (before: exit 1, no experiment "disc"
	// in the events read), with its variants in order and their weights.
	var out, errb bytes.Buffer
	code := run(ctx, []string{"experiments", "report", "--nats", url, "--prefix", prefix, "--since", "1ms", "disc"}, stdio{Out: &out, Err: &errb})
	text := out.String()
	b, a := strings.Index(text, "\nbaseline "), strings.Index(text, "\naggressive ")
	if code != exitOK || !strings.Contains(text, ", 0 events read") || b < 0 || a < b || !strings.Contains(text[b:a], " 90 ") {
		t.Errorf("exit %d:\n%s%s", code, text, errb.String())
	}
}
