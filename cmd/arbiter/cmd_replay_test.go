package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/wire"
)

func TestCmdReplay(t *testing.T) {
	const rulesDir = "../../examples/checkout"
	rs, ok := loadRulesForCLI(stdio{Err: os.Stderr}, "test", rulesDir)
	if !ok {
		t.Fatal("example rules")
	}
	var lines bytes.Buffer
	if _, err := replaygen.Generate(context.Background(), rs, replaygen.Options{Decisions: 400, Customers: 100}, func(b []byte) error {
		lines.Write(b)
		lines.WriteByte('\n')
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"type\":\"decision\"}\nnot json\n"), 0o644)
	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"text", []string{"--rules", rulesDir, "--events", file}, exitOK,
			`(?s)^Decisions: 400 read, 400 replayed; \d+ outcomes.*\nChanged: +0 decisions get a different answer \(0\.0%\).*Grants per offer\n +offer +recorded +candidate +change.*Discount spend per currency.*USD.*Customers per segment.*Estimate \(outcome "converted"`, `^$`},
		{"fail-if holds", []string{"--rules", rulesDir, "--events", file, "--fail-if", "changed_pct > 5", "--fail-if", "decisions >= 400"}, exitFail,
			`Decisions: 400 read`, `^arbiter replay: --fail-if "decisions >= 400" holds \(decisions = 400\)\n$`},
		{"fail-if holds not", []string{"--rules", rulesDir, "--events", file, "--fail-if", "spend_increase_pct > 10"}, exitOK, `Decisions`, `^$`},
		{"fail-if unknown metric", []string{"--rules", rulesDir, "--events", file, "--fail-if", "spend_up > 10"}, exitUsage, `^$`,
			`--fail-if "spend_up > 10": unknown name spend_up(.|\n)*spend_increase_pct`},
		{"two sources", []string{"--rules", rulesDir, "--events", file, "--nats", "nats://x"}, exitUsage, `^$`, `give one source of events`},
		{"no source", []string{"--rules", rulesDir}, exitUsage, `^$`, `give one source of events`},
		{"no rules", []string{"--events", file}, exitUsage, `^$`, `--rules DIR is required`},
		{"until before since", []string{"--rules", rulesDir, "--nats", "nats://127.0.0.1:1", "--since", "2026-11-22T00:00:00Z", "--until", "2026-11-15T00:00:00Z"}, exitUsage, `^$`,
			`--until 2026-11-15T00:00:00Z is before --since 2026-11-22T00:00:00Z: nothing would be replayed`},
		{"until before since ago", []string{"--rules", rulesDir, "--nats", "nats://127.0.0.1:1", "--since", "168h", "--until", "2000-01-01T00:00:00Z"}, exitUsage, `^$`,
			`--until 2000-01-01T00:00:00Z is before --since `},
		{"since not a time", []string{"--rules", rulesDir, "--nats", "nats://127.0.0.1:1", "--since", "last week"}, exitUsage, `^$`,
			`--since "last week": write a duration \(168h\) or an RFC 3339 time`},
		{"since with file", []string{"--rules", rulesDir, "--events", file, "--since", "1h"}, exitUsage, `^$`, `--since and --until go with --nats`},
		{"bad line", []string{"--rules", rulesDir, "--events", bad}, exitFail, `^$`, `arbiter replay: line 2: `},
		{"missing file", []string{"--rules", rulesDir, "--events", "nope.jsonl"}, exitFail, `^$`, `--events: open nope.jsonl`},
		{"help", []string{"--help"}, exitOK, `Usage: arbiter replay`, `^$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"replay"}, tc.args...), stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out.String(), errb.String())
			}
			if !regexp.MustCompile(tc.out).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tc.out)
			}
			if !regexp.MustCompile(tc.err).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tc.err)
			}
		})
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"replay", "--rules", rulesDir, "--events", "-", "--json"},
		stdio{In: bytes.NewReader(lines.Bytes()), Out: &out, Err: &out}); code != exitOK {
		t.Fatalf("--json: %d %s", code, out.String())
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	for _, k := range []string{"decisions", "changed", "offers", "spend", "segments", "estimate"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("--json has no %q: %s", k, out.String())
		}
	}
}

// arbiter replay --nats reads the stream as --events reads its export: the
// same report; --until before every event replays nothing.
func TestCmdReplayNATS(t *testing.T) {
	const rulesDir = "../../examples/checkout"
	rs, ok := loadRulesForCLI(stdio{Err: os.Stderr}, "test", rulesDir)
	if !ok {
		t.Fatal("example rules")
	}
	url, stop, err := events.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := events.NewPublisher(ctx, url, events.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	if _, err := replaygen.Generate(ctx, rs, replaygen.Options{Decisions: 300, Customers: 100, Seed: 5}, func(b []byte) error {
		lines.Write(b)
		lines.WriteByte('\n')
		var head struct{ Type, ID, Placement, Outcome string }
		if err := json.Unmarshal(b, &head); err != nil {
			return err
		}
		data := append([]byte(nil), b...)
		if head.Type == "decision" {
			p.Publish(wire.DecisionMessage(head.ID, head.Placement, data))
		} else {
			p.Publish(&wire.Message{ID: head.ID, Kind: wire.KindOutcome, Key: head.Outcome, JSON: data})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	replayJSON := func(args ...string) map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"replay", "--rules", rulesDir, "--json"}, args...), stdio{In: bytes.NewReader(lines.Bytes()), Out: &out, Err: &errb})
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	fromFile := replayJSON("--events", "-")
	fromNATS := replayJSON("--nats", url, "--since", "1h")
	a, _ := json.Marshal(fromFile)
	b, _ := json.Marshal(fromNATS)
	if !bytes.Equal(a, b) {
		t.Errorf("--nats:\n%s\n--events:\n%s", b, a)
	}
	if d := fromNATS["decisions"].(map[string]any); d["replayed"] != 300.0 {
		t.Errorf("--nats replayed %v decisions, want 300", d["replayed"])
	}
	none := replayJSON("--nats", url, "--until", "2000-01-01T00:00:00Z")
	if d := none["decisions"].(map[string]any); d["read"] != 0.0 {
		t.Errorf("--until 2000: read %v decisions, want 0", d["read"])
	}
}

// arbiter replay --nats skips the messages of the stream that events
// export skips (a body that is not JSON, another service's outcome that
// the feedback consumer rejects), so that it gives the report of
// replaying the export: it neither stops at the first such message nor
// counts a rejected outcome.
func TestCmdReplayNATSSkipsWhatExportSkips(t *testing.T) {
	const rulesDir = "../../examples/checkout"
	rs, ok := loadRulesForCLI(stdio{Err: os.Stderr}, "test", rulesDir)
	if !ok {
		t.Fatal("example rules")
	}
	url, stop, err := events.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := events.NewPublisher(ctx, url, events.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var first string
	if _, err := replaygen.Generate(ctx, rs, replaygen.Options{Decisions: 100, Customers: 50, Seed: 3}, func(b []byte) error {
		var head struct{ Type, ID, Placement, Outcome string }
		if err := json.Unmarshal(b, &head); err != nil {
			return err
		}
		data := append([]byte(nil), b...)
		if head.Type == "decision" {
			if first == "" {
				first = head.ID
				p.Publish(wire.DecisionMessage("junk-1", "checkout", []byte("not json at all")))
				p.Publish(&wire.Message{ID: "junk-2", Kind: wire.KindOutcome, Key: "converted", JSON: []byte(
					`{"type":"outcome","id":"o-junk","decision_id":"` + head.ID + `","outcome":"converted","ts":"2026-11-18T15:00:01Z","value":12.5,"currency":"XXX"}`)})
			}
			p.Publish(wire.DecisionMessage(head.ID, head.Placement, data))
		} else {
			p.Publish(&wire.Message{ID: head.ID, Kind: wire.KindOutcome, Key: head.Outcome, JSON: data})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var export, exportErr bytes.Buffer
	if code := run(ctx, []string{"events", "export", "--nats", url}, stdio{Out: &export, Err: &exportErr}); code != exitOK {
		t.Fatalf("events export: exit %d: %s", code, exportErr.String())
	}
	if !strings.Contains(exportErr.String(), "2 messages that are not events skipped") {
		t.Fatalf("events export skipped: %q, want the 2 junk messages", exportErr.String())
	}
	replayJSON := func(in []byte, args ...string) ([]byte, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"replay", "--rules", rulesDir, "--json"}, args...), stdio{In: bytes.NewReader(in), Out: &out, Err: &errb})
		if code != exitOK {
			t.Fatalf("replay %v: exit %d: %s", args, code, errb.String())
		}
		return out.Bytes(), errb.String()
	}
	fromFile, _ := replayJSON(export.Bytes(), "--events", "-")
	fromNATS, stderr := replayJSON(nil, "--nats", url)
	if !bytes.Equal(fromFile, fromNATS) {
		t.Errorf("--nats:\n%s\n--events of the export:\n%s", fromNATS, fromFile)
	}
	if want := "arbiter replay: 2 messages of the stream that are not events skipped"; !strings.HasPrefix(stderr, want) {
		t.Errorf("--nats stderr %q, want it to start %q", stderr, want)
	}
}

// A shop that serves with --subject-prefix replays its stream with
// --prefix, as it exports it (or names the stream with --stream).
func TestCmdReplayNATSPrefix(t *testing.T) {
	const rulesDir = "../../examples/checkout"
	rs, ok := loadRulesForCLI(stdio{Err: os.Stderr}, "test", rulesDir)
	if !ok {
		t.Fatal("example rules")
	}
	url, stop, err := events.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := events.NewPublisher(ctx, url, events.Options{Prefix: "shop1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replaygen.Generate(ctx, rs, replaygen.Options{Decisions: 50, Customers: 20, Seed: 4}, func(b []byte) error {
		var head struct{ Type, ID, Placement, Outcome string }
		if err := json.Unmarshal(b, &head); err != nil {
			return err
		}
		data := append([]byte(nil), b...)
		if head.Type == "decision" {
			p.Publish(wire.DecisionMessage(head.ID, head.Placement, data))
		} else {
			p.Publish(&wire.Message{ID: head.ID, Kind: wire.KindOutcome, Key: head.Outcome, JSON: data})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--prefix", "shop1"}, {"--stream", events.StreamName("shop1")}} {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"replay", "--rules", rulesDir, "--json", "--nats", url}, args...), stdio{Out: &out, Err: &errb})
		if code != exitOK {
			t.Fatalf("replay %v: exit %d: %s", args, code, errb.String())
		}
		var rep struct{ Decisions struct{ Replayed int } }
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Decisions.Replayed != 50 {
			t.Errorf("replay %v: %d decisions replayed, want 50", args, rep.Decisions.Replayed)
		}
	}
	var errb bytes.Buffer
	if code := run(ctx, []string{"replay", "--rules", rulesDir, "--events", "-", "--prefix", "shop1"}, stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errb}); code != exitUsage {
		t.Errorf("--prefix with --events: exit %d, want %d (%s)", code, exitUsage, errb.String())
	}
}
