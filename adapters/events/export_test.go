package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// Export writes every event of the stream as one JSON line, in the order
// stored, exactly as published; another service's outcome in Arbiter's
// form; what is not an event skipped and counted. --since and --until cut
// the window by the time stored.
func TestExport(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500
	var want []string
	for i := 0; i < n; i++ {
		var m *wire.Message
		if i%5 == 4 {
			o := &wire.OutcomeEvent{Type: "outcome", Schema: 2, ID: fmt.Sprintf("out_%d", i), TS: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
				DecisionID: fmt.Sprintf("dcs_%d", 100000+i-1), CustomerID: "c-1", Outcome: "converted", Experiments: []wire.Assignment{}}
			if m, err = o.Message(); err != nil {
				t.Fatal(err)
			}
		} else {
			m = bigDecision(fmt.Sprintf("dcs_%d", 100000+i), 10, 1+i%3)
		}
		want = append(want, string(m.JSON))
		p.Publish(m)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Another service's outcome and a message that is not an event.
	js := testJetStream(t, url)
	if _, err := js.Publish(ctx, prefix+".outcome.converted", []byte("{\"decision_id\": \"dcs_100000\",\n \"customer_id\": \"c-1\", \"value\": 12.5, \"currency\": \"USD\"}")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, prefix+".decision.x", []byte("not json")); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	st, err := Export(ctx, url, &out, ReadOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if st.Events != n+1 || st.Skipped != 1 || st.Stream != StreamName(prefix) || len(lines) != n+1 {
		t.Fatalf("stats %+v, %d lines; want %d events, 1 skipped", st, len(lines), n+1)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Fatalf("line %d:\n got %s\nwant %s", i, lines[i], w)
		}
	}
	ev, err := wire.ParseOutcome(prefix, prefix+".outcome.converted", []byte(lines[n]), time.Time{})
	if err != nil || ev.Type != "outcome" || ev.Value.Minor != 1250 || ev.DecisionID != "dcs_100000" || ev.TS.IsZero() {
		t.Fatalf("another service's outcome exported as %s (%v)", lines[n], err)
	}

	// A window: from the 1000th event's storage time to the 2000th's.
	msgs := readStream(t, url, prefix, prefix+".>")
	md0, _ := msgs[1000].Metadata()
	md1, _ := msgs[2000].Metadata()
	out.Reset()
	if _, err := Export(ctx, url, &out, ReadOptions{Stream: StreamName(prefix), Start: md0.Timestamp, Until: md1.Timestamp}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	var got []string
	for sc.Scan() {
		var e struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e.ID)
	}
	// Events stored in the same instant as the bounds come with them.
	first, last := 1000, 2000
	for first > 0 {
		m, _ := msgs[first-1].Metadata()
		if m.Timestamp.Before(md0.Timestamp) {
			break
		}
		first--
	}
	for last+1 < len(msgs) {
		m, _ := msgs[last+1].Metadata()
		if m.Timestamp.After(md1.Timestamp) {
			break
		}
		last++
	}
	if len(got) != last-first+1 {
		t.Fatalf("window exported %d events, want %d (%d..%d)", len(got), last-first+1, first, last)
	}
	for i, id := range got {
		var e struct{ ID string }
		_ = json.Unmarshal(msgs[first+i].Data(), &e)
		if id != e.ID {
			t.Fatalf("window line %d is %s, want %s", i, id, e.ID)
		}
	}
	// A window after the last event: nothing, at once.
	out.Reset()
	start := time.Now()
	st, err = Export(ctx, url, &out, ReadOptions{Prefix: prefix, Start: time.Now().Add(time.Hour)})
	if err != nil || st.Events != 0 || out.Len() != 0 || time.Since(start) > time.Second {
		t.Fatalf("a window after the stream: %+v %v, %d bytes, %v", st, err, out.Len(), time.Since(start))
	}
}

// TestExportLineOfAnOutcome: every outcome is written as the feedback
// consumer reads it. Another service's body may say "type": "outcome"
// (docs/events.md allows it) and still leave out what the subject and
// the stream say (its type, ts) or write its value as a string: it is
// written in Arbiter's form all the same, or skipped when the consumer
// rejects it. Arbiter's own events are written byte for byte.
func TestExportLineOfAnOutcome(t *testing.T) {
	stored := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	own, err := (&wire.OutcomeEvent{Type: "outcome", Schema: 2, ID: "out_1", TS: stored.Add(-time.Second), DecisionID: "dcs_1", CustomerID: "c-1",
		OfferID: "vip_10", Outcome: "converted", Value: engine.Money{Minor: 11250, Exp: 2}, Currency: "USD", Experiments: []wire.Assignment{},
		OccurredAt: stored.Add(-time.Second), Verified: true}).Message()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"outcome","id":"","ts":"2026-11-22T10:00:00Z","decision_id":"dcs_1","customer_id":"c-1","offer_id":"vip_10","outcome":"converted","value":112.50,"currency":"USD","experiments":[],"verified":false}`
	tests := []struct {
		name, data, want string // want "": skipped
	}{
		{"Arbiter's own", string(own.JSON), string(own.JSON)},
		{"another service's", `{"decision_id":"dcs_1","customer_id":"c-1","offer_id":"vip_10","value":112.5,"currency":"USD"}`, want},
		{"another service's, saying type", `{"type":"outcome","decision_id":"dcs_1","customer_id":"c-1","offer_id":"vip_10","value":112.5,"currency":"USD"}`, want},
		{"another service's, value as a string", `{"type":"outcome","decision_id":"dcs_1","customer_id":"c-1","offer_id":"vip_10","value":"112.50","currency":"USD"}`, want},
		{"a value without currency", `{"type":"outcome","decision_id":"dcs_1","value":5}`, ""},
		{"another type than the subject's", `{"type":"outcome","outcome":"dismissed","decision_id":"dcs_1"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			got := exportLine(Message{Subject: "arbiter.outcome.converted", Data: []byte(tt.data), Stored: stored}, &buf)
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
