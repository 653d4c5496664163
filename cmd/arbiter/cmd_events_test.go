package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/wire"
)

// arbiter events export writes what was published, one event a line, and
// exits; its usage errors say what to write.
func TestEventsExport(t *testing.T) {
	url, stop, err := events.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := events.NewPublisher(ctx, url, events.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; i < 50; i++ {
		e := &wire.DecisionEvent{Type: "decision", ID: fmt.Sprintf("dcs_%d", i), TS: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
			Placement: "checkout", Segments: []string{}, Experiments: []wire.Assignment{}, Actions: []wire.EventAction{}, Degraded: []string{},
			Schema: wire.Schema, Request: []byte(`{"placement":"checkout"}`)}
		m, err := e.Message()
		if err != nil {
			t.Fatal(err)
		}
		want.Write(m.JSON)
		want.WriteByte('\n')
		p.Publish(m)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"events", "export", "--nats", url, "--since", "1h"}, stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.String() != want.String() {
		t.Fatalf("exported:\n%s\nwant:\n%s", out.String(), want.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--nats URL is required"},
		{[]string{"--nats", url, "--since", "yesterday"}, "write a duration (168h) or an RFC 3339 time"},
		{[]string{"--nats", url, "--until", "2026-11-29"}, "write an RFC 3339 time"},
		{[]string{"--nats", url, "--since", "2026-11-29T00:00:00Z", "--until", "2026-11-28T00:00:00Z"}, "is before --since"},
		{[]string{"--nats", url, "out.jsonl"}, "> FILE.jsonl"},
	} {
		out.Reset()
		errb.Reset()
		t.Setenv("ARBITER_NATS_URL", "")
		if code := run(ctx, append([]string{"events", "export"}, tc.args...), stdio{Out: &out, Err: &errb}); code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
	errb.Reset()
	if code := run(ctx, []string{"events", "export", "--nats", url, "--stream", "NOPE"}, stdio{Out: &out, Err: &errb}); code != exitFail || !strings.Contains(errb.String(), "stream NOPE") {
		t.Errorf("unknown stream: exit %d, %q", code, errb.String())
	}
}
