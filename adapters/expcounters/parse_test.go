package expcounters

import (
	"github.com/valyala/fastjson"

	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// generated is a recorded stream of the example shop (its holdout and
// experiments): decision events written by wire's encoder of the hot path,
// and the outcomes POST /v1/outcomes publishes for them.
var generated struct {
	once   sync.Once
	events [][]byte
	rules  *rules.Ruleset
	err    error
}

// exampleRuleset is the example shop's ruleset, which generatedEvents
// serves.
func exampleRuleset(t testing.TB) *rules.Ruleset {
	t.Helper()
	generatedEvents(t)
	return generated.rules
}

func generatedEvents(t testing.TB) [][]byte {
	t.Helper()
	generated.once.Do(func() {
		sub, err := fs.Sub(examples.Checkout, "checkout")
		if err != nil {
			generated.err = err
			return
		}
		rs, err := rulefiles.LoadFS(sub)
		if err != nil {
			generated.err = err
			return
		}
		generated.rules = rs
		_, generated.err = replaygen.Generate(context.Background(), rs, replaygen.Options{Decisions: 3000, Customers: 800, Seed: 7, Convert: 0.3},
			func(line []byte) error {
				generated.events = append(generated.events, append([]byte(nil), line...))
				return nil
			})
	})
	if generated.err != nil {
		t.Fatal(generated.err)
	}
	return generated.events
}

// counted is what the counters read of a decision event.
func counted(ev *wire.DecisionEvent) (string, []wire.Assignment, bool) {
	as := make([]wire.Assignment, len(ev.Experiments))
	for i, a := range ev.Experiments {
		as[i] = wire.Assignment{ID: a.ID, Variant: a.Variant}
	}
	return ev.CustomerID, as, ev.Holdout
}

// TestParseDecisionAgreesWithWire: on every decision event the wire
// package writes (the hot path's encoder through a generated stream of the
// example shop, encoding/json through Message, customer ids that need
// escapes), ParseDecision reads the customer, the variants and the
// holdout that wire.ParseDecisionEvent reads.
func TestParseDecisionAgreesWithWire(t *testing.T) {
	var events [][]byte
	held, enrolled := 0, 0
	for _, line := range generatedEvents(t) {
		if bytes.Contains(line, []byte(`"type":"decision"`)) {
			events = append(events, line)
		}
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)
	for _, tc := range []struct {
		cust    string
		exps    []engine.Assignment
		holdout bool
	}{
		{"c-1", nil, false},
		{"", nil, false},
		{"h", nil, true},
		{`quo"te\back\slash`, []engine.Assignment{{ID: "x", Variant: "a", Layer: "l"}}, false},
		{"ünïcødé 客户 \u2028\u2029 <&>", []engine.Assignment{{ID: "x/\"y", Variant: "\tb"}, {ID: "z", Variant: "c"}}, false},
		{"ctl\x01\x1f", []engine.Assignment{{ID: "", Variant: ""}}, false},
		{"bad utf8 \xff\xfe", nil, false},
	} {
		d := &engine.Decision{DecisionID: "dcs_x", Now: at, CustomerID: tc.cust, Placement: "checkout", Experiments: tc.exps, Holdout: tc.holdout,
			Request: &engine.Request{Placement: "checkout", CustomerID: tc.cust, Context: map[string]any{"customer_id": "not me", "experiments": []any{"no"}}}}
		events = append(events, wire.AppendDecisionEvent(nil, d))
		m, err := wire.NewDecisionEvent(d).Message()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, m.JSON)
	}
	for i, data := range events {
		want, err := wire.ParseDecisionEvent(data)
		if err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, data)
		}
		got, err := ParseDecision(data)
		if err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, data)
		}
		wc, wa, wh := counted(want)
		gc, ga, gh := counted(got)
		if gc != wc || !reflect.DeepEqual(ga, wa) || gh != wh {
			t.Fatalf("event %d: got %q %v %v, want %q %v %v\n%s", i, gc, ga, gh, wc, wa, wh, data)
		}
		if wh {
			held++
		}
		if len(wa) > 0 {
			enrolled++
		}
	}
	if held == 0 || enrolled == 0 {
		t.Fatalf("the stream has %d decisions held out and %d enrolled: it tests nothing", held, enrolled)
	}
}

// reference reads the three fields with encoding/json, keys matched
// exactly (as ParseDecision does: encoding/json's struct decoding would
// match other cases too).
func reference(data []byte) (cust string, exps []wire.Assignment, holdout bool, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, false, err
	}
	if m == nil { // null
		return "", nil, false, errNotObject
	}
	if raw, ok := m["customer_id"]; ok {
		if err := json.Unmarshal(raw, &cust); err != nil {
			return "", nil, false, err
		}
	}
	if raw, ok := m["holdout"]; ok {
		if err := json.Unmarshal(raw, &holdout); err != nil {
			return "", nil, false, err
		}
	}
	if raw, ok := m["experiments"]; ok {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return "", nil, false, err
		}
		if list != nil {
			exps = []wire.Assignment{}
		}
		for _, o := range list {
			var a wire.Assignment
			if raw, ok := o["id"]; ok {
				if err := json.Unmarshal(raw, &a.ID); err != nil {
					return "", nil, false, err
				}
			}
			if raw, ok := o["variant"]; ok {
				if err := json.Unmarshal(raw, &a.Variant); err != nil {
					return "", nil, false, err
				}
			}
			exps = append(exps, a)
		}
	}
	return cust, exps, holdout, nil
}

type notObject struct{}

func (notObject) Error() string { return "not an object" }

var errNotObject error = notObject{}

func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	wc, wa, wh, werr := reference(data)
	got, err := ParseDecision(data)
	switch {
	case werr != nil && err == nil:
		t.Fatalf("%q: parsed %+v, encoding/json says %v", data, got, werr)
	case werr == nil && err != nil:
		t.Fatalf("%q: %v, encoding/json reads %q %v %v", data, err, wc, wa, wh)
	case err == nil:
		gc, ga, gh := counted(got)
		if wa == nil {
			wa = []wire.Assignment{} // counted's form
		}
		if gc != wc || !reflect.DeepEqual(ga, wa) || gh != wh {
			t.Fatalf("%q: got %q %#v %v, encoding/json %q %#v %v", data, gc, ga, gh, wc, wa, wh)
		}
	}
}

var parseCases = []string{
	`{}`,
	` {"customer_id":"a","experiments":[{"id":"x","variant":"v","layer":"l"}],"holdout":true} `,
	`{"customer_id":null,"experiments":null,"holdout":null}`,
	`{"customer_id":"a","customer_id":"b"}`,
	`{"experiments":[{"id":"x","variant":"a"}],"experiments":[]}`,
	`{"experiments":[null,{"id":"x"},{"variant":"v","id":"y","id":"z"}]}`,
	`{"customer_id":"\u00e9\ud83d\ude00\n\"\\\/"}`,
	`{"customer_id":"\ud800"}`,
	"{\"customer_id\":\"\xff\"}",
	`{"cust\u006fmer_id":"escaped key"}`,
	`{"Customer_ID":"other case"}`,
	`{"request":{"customer_id":"nested","experiments":5},"profile":{"holdout":true}}`,
	`{"a":[1,-0,0.5,1e10,-2.5E-3,true,false,null,"s",{},[],[[]],{"b":{"c":[]}}]}`,
	`{"customer_id":5}`,
	`{"holdout":"true"}`,
	`{"experiments":{}}`,
	`{"experiments":[1]}`,
	`{"experiments":[{"id":1}]}`,
	`{"experiments":[{"layer":1}]}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":nulll}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":"open}`,
	`{"a":1,}`, `{,}`, `{"a"}`, `{"a":1 "b":2}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`,
	`{}{}`, `{} x`, `[]`, `null`, `"s"`, ``, ` `, `{`, `{"a":{`, `{"a":[`,
}

func TestParseDecisionEdgeCases(t *testing.T) {
	for _, c := range parseCases {
		checkAgainstReference(t, []byte(c))
	}
	deep := bytes.Repeat([]byte("["), maxDepth+5)
	if _, err := ParseDecision(append(append([]byte(`{"a":`), deep...), bytes.Repeat([]byte("]"), maxDepth+5)...)); err == nil {
		t.Error("nested deeper than encoding/json reads: no error")
	}
}

// FuzzParseDecision checks ParseDecision against encoding/json on any
// input: both refuse it, or both read the same customer, variants and
// holdout.
func FuzzParseDecision(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c))
	}
	for i, line := range generatedEvents(f) {
		if i%97 == 0 {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstReference(t, data)
	})
}

// BenchmarkParse reads the decision events of the generated stream (the
// example shop's, with their requests): encoding/json (what the consumer
// did) against ParseDecision.
func BenchmarkParse(b *testing.B) {
	var events [][]byte
	size := 0
	for _, line := range generatedEvents(b) {
		if bytes.Contains(line, []byte(`"type":"decision"`)) {
			events = append(events, line)
			size += len(line)
		}
	}
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(size / len(events)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := wire.ParseDecisionEvent(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	// fastjson (which replay's decoder uses), a reused parser reading
	// the same three fields: the library this scanner must beat to be
	// worth its code.
	b.Run("fastjson", func(b *testing.B) {
		b.SetBytes(int64(size / len(events)))
		b.ReportAllocs()
		var p fastjson.Parser
		for i := 0; b.Loop(); i++ {
			v, err := p.ParseBytes(events[i%len(events)])
			if err != nil {
				b.Fatal(err)
			}
			ev := &wire.DecisionEvent{CustomerID: string(v.GetStringBytes("customer_id")), Holdout: v.GetBool("holdout")}
			for _, x := range v.GetArray("experiments") {
				ev.Experiments = append(ev.Experiments, wire.Assignment{ID: string(x.GetStringBytes("id")), Variant: string(x.GetStringBytes("variant"))})
			}
		}
	})
	b.Run("ParseDecision", func(b *testing.B) {
		b.SetBytes(int64(size / len(events)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ParseDecision(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestParseDecisionIntoClears: a struct reused for another decision holds
// that decision only (nothing of the one before: its variants, its
// holdout), as ParseDecision's new one would; one that fails is cleared.
func TestParseDecisionIntoClears(t *testing.T) {
	first := []byte(`{"customer_id":"c-1","experiments":[{"id":"a","variant":"b","layer":"l"}],"holdout":true}`)
	second := []byte(`{"customer_id":"c-2","holdout":false}`)
	var ev wire.DecisionEvent
	if err := ParseDecisionInto(&ev, first); err != nil {
		t.Fatal(err)
	}
	if err := ParseDecisionInto(&ev, second); err != nil {
		t.Fatal(err)
	}
	want, err := ParseDecision(second)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&ev, want) {
		t.Errorf("reused: %+v, want %+v", ev, *want)
	}
	if err := ParseDecisionInto(&ev, []byte(`{"customer_id":7}`)); err == nil {
		t.Fatal("a customer_id that is a number parsed")
	}
	if !reflect.DeepEqual(ev, wire.DecisionEvent{}) {
		t.Errorf("after an error: %+v, want the zero value", ev)
	}
}
