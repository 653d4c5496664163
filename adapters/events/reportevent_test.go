package events

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/report/reporttest"
)

type rawMsg struct {
	subject string
	data    string
}

// reportFixture is the example of package reporttest (see its Events) as
// the messages of a stream, subjects without the prefix: Arbiter's own
// events, an outcome from another service (no id, ts or experiments), an
// outcome without experiments of a decision in the holdout, and a message
// that is not JSON.
func reportFixture() []rawMsg {
	exp := func(v string) string { return `[{"id":"other","variant":"a"},{"id":"disc","variant":"` + v + `"}]` }
	dec := func(id, cust, v string) rawMsg {
		return rawMsg{"decision.checkout", `{"type":"decision","id":"` + id + `","ts":"2026-11-22T10:00:00Z","customer_id":"` + cust +
			`","placement":"checkout","channel":"web","ruleset":"r1","segments":[],"experiments":` + exp(v) +
			`,"holdout":false,"cart_total":100.00,"currency":"USD","actions":[],"degraded":[],"took_us":100}`}
	}
	out := func(typ, id, decID, cust, value, v string) rawMsg {
		return rawMsg{"outcome." + typ, `{"type":"outcome","id":"` + id + `","ts":"2026-11-22T10:01:00Z","decision_id":"` + decID +
			`","customer_id":"` + cust + `","offer_id":"vip_10","outcome":"` + typ + `","value":` + value + `,"currency":"USD","experiments":` + exp(v) + `}`}
	}
	msgs := []rawMsg{
		{"rules.reloaded", `{"type":"rules_reloaded","id":"rld_1","ts":"2026-11-22T09:00:00Z","version":"r1","previous":"","result":"ok","errors":[],` +
			`"experiments":[{"id":"disc","traffic":100,"variants":[{"id":"control","weight":50},{"id":"deep","weight":50}]}]}`},
		dec("dcs_c1a", "c1", "control"), dec("dcs_c1b", "c1", "control"),
		dec("dcs_d1a", "d1", "deep"), dec("dcs_d1b", "d1", "deep"),
		{"decision.checkout", `{"type":"decision","id":"dcs_z1","customer_id":"z1","placement":"checkout","experiments":[],"holdout":true}`},
	}
	for _, c := range []string{"c2", "c3", "c4", "c5"} {
		msgs = append(msgs, dec("dcs_"+c, c, "control"))
	}
	for _, d := range []string{"d2", "d3", "d4", "d5", "d6"} {
		msgs = append(msgs, dec("dcs_"+d, d, "deep"))
	}
	msgs = append(msgs,
		out("impression", "out_1", "dcs_c1a", "c1", "0", "control"),
		out("impression", "out_2", "dcs_d1b", "d1", "0", "deep"),
		out("converted", "out_3", "dcs_c3", "c3", "10.00", "control"),
		out("converted", "out_4", "dcs_c4", "c4", "20", "control"),
		rawMsg{"outcome.converted", `{"decision_id":"dcs_c5","customer_id":"c5","offer_id":"vip_10","value":30,"currency":"USD"}`},
		out("converted", "out_6", "dcs_d2", "d2", "10", "deep"),
		out("converted", "out_7", "dcs_d3", "d3", "20", "deep"),
		out("converted", "out_8", "dcs_d4", "d4", "30", "deep"),
		out("converted", "out_9", "dcs_d5", "d5", "40.00", "deep"),
		out("converted", "out_10", "dcs_d6", "d6", "50", "deep"),
		out("converted", "out_11", "dcs_not_in_stream", "d7", "70", "deep"),
		rawMsg{"outcome.converted", `{"decision_id":"dcs_z1","customer_id":"z1","value":5,"currency":"USD"}`},
		rawMsg{"outcome.converted", `not json`},
	)
	return msgs
}

// TestReportEventExample decodes the raw example and gets the decoded one
// of reporttest, event for event.
func TestReportEventExample(t *testing.T) {
	raw, want := reportFixture(), reporttest.Events()
	if len(raw) != len(want) {
		t.Fatalf("%d raw messages, %d decoded events", len(raw), len(want))
	}
	for i, m := range raw {
		got := ReportEvent("arbiter", Message{Subject: "arbiter." + m.subject, Data: []byte(m.data), Stored: reporttest.Stored(i)})
		if (got.Err != nil) != (want[i].Err != nil) {
			t.Errorf("message %d (%s): error %v, want error %v", i, m.subject, got.Err, want[i].Err)
		}
		got.Err, want[i].Err = nil, nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("message %d (%s %s):\n got %s\nwant %s", i, m.subject, m.data, show(got), show(want[i]))
		}
	}
}

func show(ev report.Event) string {
	switch {
	case ev.Decision != nil:
		return fmt.Sprintf("decision %+v", *ev.Decision)
	case ev.Outcome != nil:
		return fmt.Sprintf("outcome %+v", *ev.Outcome)
	case ev.Ruleset != nil:
		return fmt.Sprintf("ruleset %+v", *ev.Ruleset)
	}
	return fmt.Sprintf("%+v", ev)
}

func TestReportEventKinds(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, subject, data string
		kind                string // decision, outcome, ruleset, error or "" (only counted)
	}{
		{"decision", "p.decision.checkout", `{"id":"dcs_1","customer_id":"c1","experiments":[{"id":"x","variant":"a"}]}`, "decision"},
		{"decision not JSON", "p.decision.checkout", `{"id":`, "error"},
		{"outcome", "p.outcome.accepted", `{"decision_id":"dcs_1"}`, "outcome"},
		{"outcome of an unknown type", "p.outcome.bought", `{}`, "error"},
		{"outcome with a value and no currency", "p.outcome.converted", `{"value":5}`, "error"},
		{"outcome subject too deep", "p.outcome.converted.x", `{}`, "error"},
		{"reload", "p.rules.reloaded", `{"version":"v","experiments":[{"id":"x","variants":[{"id":"a","weight":1}]}]}`, "ruleset"},
		{"reload not JSON", "p.rules.reloaded", `[`, "error"},
		{"another subject", "p.other.thing", `whatever`, ""},
		{"another prefix", "q.decision.checkout", `{"id":"dcs_1"}`, ""},
	} {
		ev := ReportEvent("p", Message{Subject: c.subject, Data: []byte(c.data), Stored: at})
		kind := ""
		switch {
		case ev.Err != nil:
			kind = "error"
		case ev.Decision != nil:
			kind = "decision"
		case ev.Outcome != nil:
			kind = "outcome"
		case ev.Ruleset != nil:
			kind = "ruleset"
		}
		if kind != c.kind || !ev.Stored.Equal(at) {
			t.Errorf("%s: %s %q gives %q (stored %v), want %q", c.name, c.subject, c.data, kind, ev.Stored, c.kind)
		}
	}
}

// TestReportEventOccurredAt: an outcome's occurred_at reaches the report,
// which measures the attribution window to it (else to the stored time).
func TestReportEventOccurredAt(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ev := ReportEvent("p", Message{Subject: "p.outcome.converted", Stored: at,
		Data: []byte(`{"decision_id":"dcs_1","customer_id":"c1","occurred_at":"2026-11-20T08:00:00+01:00"}`)})
	if ev.Outcome == nil || !ev.Outcome.OccurredAt.Equal(time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("outcome %+v (err %v): want occurred_at 2026-11-20T07:00:00Z", ev.Outcome, ev.Err)
	}
}

// readReport reads the prefix's stream into the report of the example's
// experiment, as `arbiter experiments report` does.
func readReport(t *testing.T, url string, opts ReadOptions) (*report.Collector, string) {
	t.Helper()
	c := report.NewCollector(reporttest.Experiment)
	stream, err := ReadStream(context.Background(), url, opts, func(m Message) { c.Add(ReportEvent(opts.Prefix, m)) })
	if err != nil {
		t.Fatal(err)
	}
	return c, stream
}

// TestReportFromStream runs the report over the example published on a
// real stream (the embedded server, or ARBITER_TEST_NATS_URL).
func TestReportFromStream(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	js := testJetStream(t, url)
	if err := EnsureStream(ctx, js, Options{Prefix: prefix}, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range reportFixture() {
		if _, err := js.Publish(ctx, prefix+"."+m.subject, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	var progressed bool
	c, stream := readReport(t, url, ReadOptions{Prefix: prefix, Progress: func(read, total uint64) { progressed = read == total }})
	if !progressed {
		t.Error("no final progress call")
	}
	if stream != StreamName(prefix) {
		t.Errorf("stream %q, want %q", stream, StreamName(prefix))
	}
	r := c.Report(report.Weights{})
	reporttest.Check(t, r)
	if r.Events != uint64(len(reportFixture())) {
		t.Errorf("read %d events, want %d", r.Events, len(reportFixture()))
	}
	// --since excluding everything: an empty report, not a hang.
	c, _ = readReport(t, url, ReadOptions{Prefix: prefix, Since: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if r := c.Report(report.Weights{}); len(r.Variants) != 0 || len(r.Warnings) == 0 || r.Events != 0 {
		t.Errorf("report of nothing: %+v", r)
	}
}
