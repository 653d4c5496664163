package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

func TestParseOutcome(t *testing.T) {
	stored := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, subject, body string
		want                *OutcomeEvent
		err                 string
	}{
		{"arbiter's own", "arbiter.outcome.converted",
			`{"type":"outcome","id":"out_1","ts":"2026-11-22T10:02:11.004Z","decision_id":"dcs_1","customer_id":"c1","offer_id":"o","outcome":"converted","value":112.50,"currency":"USD","experiments":[{"id":"e","variant":"v"}]}`,
			&OutcomeEvent{Type: "outcome", ID: "out_1", TS: time.Date(2026, 11, 22, 10, 2, 11, 4e6, time.UTC), DecisionID: "dcs_1", CustomerID: "c1", OfferID: "o",
				Outcome: "converted", Value: engine.Money{Minor: 11250, Exp: 2}, Currency: "USD", Experiments: []Assignment{{ID: "e", Variant: "v"}}}, ""},
		{"another service's, minimal", "arbiter.outcome.converted",
			`{"decision_id":"dcs_1","customer_id":"c1","offer_id":"o","value":1000,"currency":"JPY"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, DecisionID: "dcs_1", CustomerID: "c1", OfferID: "o",
				Outcome: "converted", Value: engine.Money{Minor: 1000, Exp: 0}, Currency: "JPY", Experiments: []Assignment{}}, ""},
		{"no value", "arbiter.outcome.impression", `{"customer_id":"c1"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, CustomerID: "c1", Outcome: "impression", Experiments: []Assignment{}}, ""},
		{"value rounded half up once", "arbiter.outcome.converted", `{"value":1.005,"currency":"USD"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 101, Exp: 2}, Currency: "USD", Experiments: []Assignment{}}, ""},
		{"unknown type", "arbiter.outcome.bought", `{}`, nil, "unknown outcome type"},
		{"not an outcome subject", "arbiter.decision.x", `{}`, nil, "outcome's subject"},
		{"disagreeing outcome", "arbiter.outcome.converted", `{"outcome":"accepted"}`, nil, "disagrees"},
		{"wrong type", "arbiter.outcome.converted", `{"type":"decision"}`, nil, "want \"outcome\""},
		{"value without currency", "arbiter.outcome.converted", `{"value":10}`, nil, "has no currency"},
		{"bad currency", "arbiter.outcome.converted", `{"value":10,"currency":"usd"}`, nil, "ISO 4217"},
		{"bad ts", "arbiter.outcome.converted", `{"ts":"yesterday"}`, nil, "RFC 3339"},
		{"not json", "arbiter.outcome.converted", `nope`, nil, "not a JSON"},
		{"value as a decimal string", "arbiter.outcome.converted", `{"value":"10.25","currency":"USD"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 1025, Exp: 2}, Currency: "USD", Experiments: []Assignment{}}, ""},
		{"value a word", "arbiter.outcome.converted", `{"value":"ten","currency":"USD"}`, nil, "not a JSON"},
		// What POST /v1/outcomes accepts (up to 2^53 minor units) reads back
		// exactly: Arbiter's own events are never out of range.
		{"2e15 yen", "arbiter.outcome.converted", `{"value":2000000000000000,"currency":"JPY"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 2e15}, Currency: "JPY", Experiments: []Assignment{}}, ""},
		{"2^53 - 1 fils", "arbiter.outcome.converted", `{"value":9007199254740.991,"currency":"BHD"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 1<<53 - 1, Exp: 3}, Currency: "BHD", Experiments: []Assignment{}}, ""},
		{"2^53 cents, rounded", "arbiter.outcome.converted", `{"value":"90071992547409.915","currency":"USD"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 1 << 53, Exp: 2}, Currency: "USD", Experiments: []Assignment{}}, ""},
		{"half a cent rounds up", "arbiter.outcome.converted", `{"value":0.005,"currency":"USD"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 1, Exp: 2}, Currency: "USD", Experiments: []Assignment{}}, ""},
		{"negative, rounded half away from zero", "arbiter.outcome.converted", `{"value":-1.005,"currency":"USD"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: -101, Exp: 2}, Currency: "USD", Experiments: []Assignment{}}, ""},
		{"zero without currency", "arbiter.outcome.converted", `{"value":0}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Experiments: []Assignment{}}, ""},
		{"beyond 2^53 minor units", "arbiter.outcome.converted", `{"value":90071992547409.93,"currency":"USD"}`, nil, "out of range"},
		{"far beyond", "arbiter.outcome.converted", `{"value":1e400,"currency":"USD"}`, nil, "out of range"},
		// occurred_at at most a minute after the arrival (ts, else the
		// time stored), as POST /v1/outcomes (400 beyond).
		{"occurred a minute after it was stored", "arbiter.outcome.converted", `{"occurred_at":"2026-11-22T10:01:00Z"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Experiments: []Assignment{}, OccurredAt: stored.Add(time.Minute)}, ""},
		{"occurred an hour after it was stored", "arbiter.outcome.converted", `{"occurred_at":"2026-11-22T11:00:00Z"}`, nil,
			"occurred_at: 2026-11-22T11:00:00Z is 1h0m0s after the outcome arrived (2026-11-22T10:00:00Z): write when it happened, in RFC 3339 with its UTC offset"},
		{"local time written as UTC, ts too", "arbiter.outcome.converted", `{"ts":"2026-11-22T11:00:00Z","occurred_at":"2026-11-22T11:00:00Z"}`, nil, "is 1h0m0s after the outcome arrived (2026-11-22T10:00:00Z)"},
		{"stored long after its arrival (NATS was down)", "arbiter.outcome.converted", `{"ts":"2026-11-22T08:00:00Z","occurred_at":"2026-11-22T08:00:30Z"}`,
			&OutcomeEvent{Type: "outcome", TS: stored.Add(-2 * time.Hour), Outcome: "converted", Experiments: []Assignment{}, OccurredAt: stored.Add(-2*time.Hour + 30*time.Second)}, ""},
		{"occurred long before", "arbiter.outcome.converted", `{"occurred_at":"2026-11-20T10:00:00+01:00"}`,
			&OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Experiments: []Assignment{}, OccurredAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOutcome("arbiter", tt.subject, []byte(tt.body), stored)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Fatalf("got  %s\nwant %s", gj, wj)
			}
			// Its arrival is when the stream stored it, whatever its ts.
			if !got.Arrival.Equal(stored) {
				t.Errorf("Arrival %s, want the time stored, %s", got.Arrival, stored)
			}
		})
	}
}

func FuzzParseOutcome(f *testing.F) {
	f.Add("arbiter.outcome.converted", `{"decision_id":"d","value":1.5,"currency":"USD","experiments":[{"id":"e","variant":"v"}]}`)
	f.Add("arbiter.outcome.impression", `{}`)
	f.Add("arbiter.outcome.x", `[`)
	f.Fuzz(func(t *testing.T, subject, body string) {
		ev, err := ParseOutcome("arbiter", subject, []byte(body), time.Time{})
		if err == nil {
			if !ValidOutcome(ev.Outcome) || ev.Experiments == nil {
				t.Fatalf("accepted %+v", ev)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestRulesReloadedEvent(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.FixedZone("x", 3600))
	rs := &rules.Ruleset{Version: "v2", Experiments: []*rules.Experiment{{ID: "disc", Traffic: 100,
		Variants: []rules.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}}},
		{ID: "ship", Salt: "ship-1", Traffic: 30, Layer: "pricing", From: 5000, To: 7999, Status: rules.ExperimentStopped,
			Variants: []rules.Variant{{ID: "control", Weight: 100}}}}, Arbitration: rules.Arbitration{Holdout: 5}}
	ok := NewRulesReloaded("rld_1", ts, rs, "v1", nil)
	m, err := ok.Message()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject("arbiter") != "arbiter.rules.reloaded" || m.ID != "rld_1" || ok.Result != ReloadOK {
		t.Fatalf("%+v", ok)
	}
	want := `{"type":"rules_reloaded","id":"rld_1","ts":"2026-11-22T09:00:00Z","version":"v2","previous":"v1","result":"ok","errors":[],` +
		`"experiments":[{"id":"disc","traffic":100,"variants":[{"id":"control","weight":50},{"id":"deep","weight":50}]},` +
		`{"id":"ship","traffic":30,"variants":[{"id":"control","weight":100}],"salt":"ship-1","layer":"pricing","buckets":[5000,7999],"status":"stopped"}],` +
		`"holdout":5,"schema":2}`
	if string(m.JSON) != want {
		t.Fatalf("got  %s\nwant %s", m.JSON, want)
	}
	back, err := ParseRulesReloaded(m.JSON)
	if err != nil || !reflect.DeepEqual(back.Experiments, ok.Experiments) || back.Version != "v2" || !back.TS.Equal(ts) {
		t.Fatalf("parsed back %+v, %v", back, err)
	}
	bad := NewRulesReloaded("rld_2", ts, rs, "v2", rules.Errors{{Pos: rules.Pos{File: "offers.yaml", Line: 3, Col: 7}, Msg: "unknown field"}})
	if bad.Result != ReloadError || bad.Version != "v2" || len(bad.Errors) != 1 || !strings.HasPrefix(bad.Errors[0], "offers.yaml:3:7") {
		t.Fatalf("%+v", bad)
	}
	other := NewRulesReloaded("rld_3", ts, nil, "", errors.New("rules directory missing"))
	b, _ := json.Marshal(other)
	if !strings.Contains(string(b), `"errors":["rules directory missing"],"experiments":[],"schema":2}`) {
		t.Fatalf("%s", b)
	}
}

// The decision event is written as json.Marshal writes NewDecisionEvent(d),
// byte for byte, with every currency exponent and decision times in and
// out of UTC (written in UTC, as every time of an event); and it reads
// back as the same event.
func TestAppendDecisionEventMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("", -(3*3600 + 30*60))}
	for i := 0; i < 3000; i++ {
		d := randDecision(r)
		d.Placement, d.Channel, d.Currency = randString(r), randString(r), randString(r)
		d.CartTotal = engine.Money{Minor: r.Int64N(1e9), Exp: int8(r.IntN(4))}
		d.Now = time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
		if r.IntN(2) == 0 { // schema 2's profile beside the learning the decision may have
			d.Profile = &engine.Profile{ID: d.CustomerID, Known: r.IntN(2) == 0, Attrs: map[string]any{"ltv": randFloat(r), "name": randString(r)}}
			d.Recorded = []rules.Field{{Name: "ltv", Type: rules.TypeNumber}, {Name: "name", Type: rules.TypeString}}
		}
		if r.IntN(2) == 0 { // schema 2's request and time, or a dry run's neither
			d.Request = randRequest(r)
			d.Request.DryRun = r.IntN(4) == 0
		}
		got := AppendDecisionEvent(nil, d)
		want, err := json.Marshal(NewDecisionEvent(d))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// The exposure header holds the body's customer_id, experiments and
// holdout, on one line, and every way of making a decision message gives
// it.
func TestExposureMatchesTheBody(t *testing.T) {
	type exposure struct {
		CustomerID  *string       `json:"customer_id"`
		Experiments *[]Assignment `json:"experiments"`
		Holdout     *bool         `json:"holdout"`
	}
	r := rand.New(rand.NewPCG(7, 8))
	var pool MessagePool
	for i := 0; i < 2000; i++ {
		d := randDecision(r)
		d.Holdout = r.IntN(2) == 0
		if r.IntN(4) == 0 {
			d.Experiments = nil
		}
		d.CustomerID += "\r\n\u2028é\x00" // what a header must not hold as such
		head := AppendExposure(nil, d)
		if bytes.ContainsAny(head, "\r\n") {
			t.Fatalf("case %d: the header value breaks its line: %q", i, head)
		}
		var got, want exposure
		if err := json.Unmarshal(head, &got); err != nil {
			t.Fatalf("case %d: %s: %v", i, head, err)
		}
		if err := json.Unmarshal(AppendDecisionEvent(nil, d), &want); err != nil {
			t.Fatal(err)
		}
		if got.CustomerID == nil || got.Experiments == nil || got.Holdout == nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: header %s, body's fields %+v", i, head, want)
		}
		m := pool.Decision(d)
		if m.Exposure != string(head) {
			t.Fatalf("case %d: pooled message's exposure %q, want %q", i, m.Exposure, head)
		}
		m.Release()
		if m, _ := NewDecisionMessage(nil, d); m.Exposure != string(head) {
			t.Fatalf("case %d: NewDecisionMessage's exposure %q, want %q", i, m.Exposure, head)
		}
	}
}

// NewDecisionEvent copies what it takes from the decision, records an
// action without a discount with a zero amount in the cart's currency, and
// its message is on decision.<placement> with the decision id.
func TestDecisionEvent(t *testing.T) {
	d := specDecision()
	d.Actions = append(d.Actions, engine.Action{OfferID: "join_loyalty", Kind: "action", Score: 20})
	d.TookUS = 42
	ev := NewDecisionEvent(d)
	m, err := ev.Message()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "decision" || ev.ID != d.DecisionID || ev.Placement != "checkout" || ev.CartTotal.String() != "120.50" || ev.TookUS != 42 ||
		len(ev.Actions) != 2 || ev.Actions[0].DiscountAmount.String() != "12.50" || ev.Actions[1].DiscountAmount.String() != "0.00" ||
		m.Subject("arbiter") != "arbiter.decision.checkout" || m.ID != d.DecisionID || !ev.TS.Equal(d.Now) {
		t.Fatalf("event %+v", ev)
	}
	if !bytes.Equal(m.JSON, AppendDecisionEvent(nil, d)) {
		t.Errorf("Message:\n%s\nAppendDecisionEvent:\n%s", m.JSON, AppendDecisionEvent(nil, d))
	}
	ev.Segments[0] = "changed"
	ev.Experiments[0].Variant = "changed"
	if d.Segments[0] == "changed" || d.Experiments[0].Variant == "changed" {
		t.Error("the event shares memory with the decision")
	}
}

// A decision event reads back as written: every field, amounts exact in
// every currency exponent, fields of a later schema ignored.
func TestParseDecisionEvent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 1000; i++ {
		d := randDecision(r)
		d.Placement, d.Channel, d.Currency = randString(r), randString(r), randString(r)
		d.CartTotal = engine.Money{Minor: r.Int64N(1 << 53), Exp: int8(r.IntN(5))}
		for j := range d.Actions {
			if dr := d.Actions[j].Discount; dr != nil {
				dr.Amount.Exp = d.CartTotal.Exp
			}
		}
		d.Now = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
		if r.IntN(2) == 0 {
			d.Request = randRequest(r)
		}
		b := AppendDecisionEvent(nil, d)
		got, err := ParseDecisionEvent(b)
		if err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		// A string with invalid UTF-8 is written, and so read back, with
		// U+FFFD in place of the invalid bytes.
		want := NewDecisionEvent(d)
		fix := func(ps ...*string) {
			for _, p := range ps {
				*p = string([]rune(*p)) // each invalid byte becomes U+FFFD
			}
		}
		fix(&want.ID, &want.CustomerID, &want.Placement, &want.Channel, &want.Ruleset, &want.Currency)
		for j := range want.Segments {
			fix(&want.Segments[j])
		}
		for j := range want.Degraded {
			fix(&want.Degraded[j])
		}
		for j := range want.Experiments {
			fix(&want.Experiments[j].ID, &want.Experiments[j].Variant, &want.Experiments[j].Layer)
		}
		for j := range want.Actions {
			fix(&want.Actions[j].OfferID, &want.Actions[j].Kind, &want.Actions[j].Cell)
		}
		for j := range want.Learning {
			fix(&want.Learning[j].OfferID, &want.Learning[j].Cell)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: read back\n%+v\nwant\n%+v", i, got, want)
		}
	}
	d := specDecision()
	if got, err := ParseDecisionEvent(AppendDecisionEvent(nil, d)); err != nil || !reflect.DeepEqual(got, NewDecisionEvent(d)) {
		t.Fatalf("read back %+v, %v\nwant %+v", got, err, NewDecisionEvent(d))
	}
	later := `{"type":"decision","id":"dcs_1","ts":"2026-11-22T10:00:00.123Z","customer_id":"c-1042","placement":"checkout",` +
		`"channel":"web","ruleset":"2f9c1a7e","segments":["vip"],"experiments":[{"id":"depth","variant":"control"}],"holdout":false,` +
		`"cart_total":1250,"currency":"JPY","actions":[{"offer_id":"vip_10","kind":"discount","discount_amount":125,"score":80,"layer":"x"}],` +
		`"degraded":[],"took_us":143,"schema":2,"request":{"placement":"checkout"},"profile":{"id":"c-1042"}}`
	ev, err := ParseDecisionEvent([]byte(later))
	if err != nil {
		t.Fatal(err)
	}
	if ev.CartTotal != (engine.Money{Minor: 1250}) || ev.Actions[0].DiscountAmount != (engine.Money{Minor: 125}) ||
		ev.Experiments[0] != (Assignment{ID: "depth", Variant: "control"}) || ev.TookUS != 143 {
		t.Fatalf("%+v", ev)
	}
	for _, bad := range []string{`{"cart_total":"x"}`, `{"cart_total":1.23456}`, `{"cart_total":1e400}`, `{"actions":[{"discount_amount":0.5e-1}]}`, `{"ts":"yesterday"}`, `[]`} {
		if _, err := ParseDecisionEvent([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzParseDecisionEvent(f *testing.F) {
	f.Add([]byte(`{"type":"decision","id":"dcs_1","cart_total":12.50,"actions":[{"discount_amount":1.25}]}`))
	f.Add([]byte(`{"cart_total":-0.0001}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseDecisionEvent(data)
		if err != nil {
			return
		}
		for _, m := range append([]engine.Money{ev.CartTotal}, func() (ms []engine.Money) {
			for _, a := range ev.Actions {
				ms = append(ms, a.DiscountAmount)
			}
			return ms
		}()...) {
			if m.Exp < 0 || m.Exp > maxExp || m.Minor > maxMinor || m.Minor < -maxMinor {
				t.Fatalf("amount %+v read from %s", m, data)
			}
			_ = m.String()
		}
	})
}

func TestMessages(t *testing.T) {
	o := &Outcome{DecisionID: "dcs_1", CustomerID: "c-1042", OfferID: "vip_10", Type: OutcomeConverted,
		Value: engine.Money{Minor: 10845, Exp: 2}, Currency: "USD", ID: "order-77"}
	ev := NewOutcomeEvent(o, "out_1", time.Date(2026, 11, 22, 11, 2, 11, 4e6, time.FixedZone("", 3600)), nil, true)
	m, err := ev.Message()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"outcome","schema":2,"id":"out_1","ts":"2026-11-22T10:02:11.004Z","decision_id":"dcs_1","customer_id":"c-1042",` +
		`"offer_id":"vip_10","outcome":"converted","value":108.45,"currency":"USD","experiments":[],` +
		`"occurred_at":"2026-11-22T10:02:11.004Z","caller_id":"order-77","verified":true}`
	if m.Subject("arbiter") != "arbiter.outcome.converted" || m.ID != "out_1" || string(m.JSON) != want {
		t.Fatalf("message %s %s %s\nwant %s", m.Subject("arbiter"), m.ID, m.JSON, want)
	}
	back, err := ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, time.Time{})
	if err != nil || !reflect.DeepEqual(back, ev) {
		t.Fatalf("read back %+v, %v\nwant %+v", back, err, ev)
	}
	// An outcome of the whole decision, cancelled, occurred before it came.
	o = &Outcome{DecisionID: "dcs_1", CustomerID: "c-1042", Type: OutcomeCancelled, OccurredAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	ev = NewOutcomeEvent(o, "out_2", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), []engine.Assignment{{ID: "e", Variant: "v"}}, false)
	m, _ = ev.Message()
	want = `{"type":"outcome","schema":2,"id":"out_2","ts":"2026-11-22T10:00:00Z","decision_id":"dcs_1","customer_id":"c-1042",` +
		`"outcome":"cancelled","value":0,"experiments":[{"id":"e","variant":"v"}],"occurred_at":"2026-11-22T09:00:00Z","verified":false}`
	if m.Subject("arbiter") != "arbiter.outcome.cancelled" || string(m.JSON) != want {
		t.Fatalf("message %s %s\nwant %s", m.Subject("arbiter"), m.JSON, want)
	}
	if back, err = ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, time.Time{}); err != nil || !reflect.DeepEqual(back, ev) {
		t.Fatalf("read back %+v, %v\nwant %+v", back, err, ev)
	}
}

// TestDecisionEventProfile: the event records "known" and the profile
// fields the ruleset reads, never a pii one, the encoder writing the same
// bytes as encoding/json for every field type.
func TestDecisionEventProfile(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "r.yaml", Data: []byte(`
profile:
  ltv: number
  orders: int
  email: {type: string, pii: true}
  name: string
  last: time
  tags: "[string]"
  scores: "[number]"
  vip: bool
  unread: string
segments:
  - id: a
    when: profile.ltv > 1 && profile.orders > 0 && profile.email != "" && daysSince(profile.last) < 3 && "x" in profile.tags && len(profile.scores) > 0 && profile.vip
offers:
  - id: o
    title: "Hi {{profile.name}}"
`)}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range rs.RecordedFields() {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "last,ltv,name,orders,scores,tags,vip" {
		t.Fatalf("recorded fields %s", got)
	}
	attrs := map[string]any{"ltv": 1800.5, "orders": 9, "email": "a@b.c", "name": "Ada \"A\"", "last": time.Date(2026, 11, 10, 0, 0, 0, 5, time.FixedZone("x", 3600)),
		"tags": []string{"x", "y"}, "scores": []float64{0.5, 1e-9}, "vip": true, "unread": "u"}
	// the same customer as profiles.FromHash decodes it: its values in the
	// schema's order, read by position (RecordedAt)
	values := &engine.Profile{ID: "c1", Known: true, Fields: rs.Schema.Fields, Values: make([]any, len(rs.Schema.Fields))}
	for i, f := range rs.Schema.Fields {
		values.Values[i] = attrs[f.Name]
	}
	var events [][]byte
	for _, p := range []*engine.Profile{nil, {ID: "c1", Known: true, Attrs: attrs}, {ID: "c2", Attrs: map[string]any{}}, values} {
		d := specDecision()
		d.Profile, d.Recorded, d.RecordedAt = p, rs.RecordedFields(), rs.RecordedAt()
		// a decision of rules that learn: the profile, the cell and the
		// learning list in one event
		d.Actions[0].Cell = "vip"
		d.Learning = []engine.LearningUse{{OfferID: d.Actions[0].OfferID, Cell: "vip", Alpha: 3, Beta: 40, Propensity: 0.0725, Source: engine.PropensityThompson}}
		got := AppendDecisionEvent(nil, d)
		want, err := json.Marshal(NewDecisionEvent(d))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("profile %v:\n got %s\nwant %s", p, got, want)
		}
		if strings.Contains(string(got), "a@b.c") || strings.Contains(string(got), "email") {
			t.Fatalf("a pii field left Redis: %s", got)
		}
		ev, err := ParseDecisionEvent(got)
		if err != nil || ev.Schema != 2 || ev.Profile["known"] != (p != nil && p.Known) || ev.Actions[0].Cell != "vip" ||
			len(ev.Learning) != 1 || ev.Learning[0] != (EventLearning{OfferID: d.Actions[0].OfferID, Cell: "vip", Alpha: 3, Beta: 40, Propensity: 0.0725}) {
			t.Fatalf("read back %+v %v", ev, err)
		}
		events = append(events, got)
	}
	if !bytes.Equal(events[1], events[3]) {
		t.Fatalf("the stored profile's event differs by its form:\n map    %s\n values %s", events[1], events[3])
	}
}

// TestDecisionEventProfileAllocates: writing the profile into a buffer
// with room allocates nothing more than the event without it.
func TestDecisionEventProfileAllocates(t *testing.T) {
	d := specDecision()
	d.Profile = &engine.Profile{ID: "c1", Known: true, Attrs: map[string]any{"ltv": 1800.5, "orders": 9, "last": time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), "tags": []string{"a"}}}
	d.Recorded = []rules.Field{{Name: "last", Type: rules.TypeTime}, {Name: "ltv", Type: rules.TypeNumber}, {Name: "orders", Type: rules.TypeInt}, {Name: "tags", Type: rules.TypeStringList}}
	buf := make([]byte, 0, 4096)
	with := testing.AllocsPerRun(100, func() { buf = AppendDecisionEvent(buf[:0], d) })
	d.Profile = nil
	without := testing.AllocsPerRun(100, func() { buf = AppendDecisionEvent(buf[:0], d) })
	if with != without {
		t.Errorf("AppendDecisionEvent allocates %v times with a profile, %v without", with, without)
	}
}

// TestSealMessage: every field a seal covers is in its message, with its
// bounds: two events differing in any of them, or only in where one field
// ends and the next begins, have different messages.
func TestSealMessage(t *testing.T) {
	base := OutcomeEvent{ID: "out_1", DecisionID: "dcs_1", CustomerID: "c1", OfferID: "vip_10", Outcome: OutcomeConverted,
		Value: engine.Money{Minor: 1000, Exp: 2}, Currency: "USD", OccurredAt: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
		Experiments: []Assignment{{ID: "e", Variant: "v", Layer: "l"}}}
	seen := map[string]string{string(base.SealMessage()): "base"}
	for _, tt := range []struct {
		name   string
		change func(e *OutcomeEvent)
	}{
		{"id", func(e *OutcomeEvent) { e.ID = "out_2" }},
		{"decision", func(e *OutcomeEvent) { e.DecisionID = "dcs_2" }},
		{"customer", func(e *OutcomeEvent) { e.CustomerID = "c2" }},
		{"offer", func(e *OutcomeEvent) { e.OfferID = "" }},
		{"type", func(e *OutcomeEvent) { e.Outcome = OutcomeCancelled }},
		{"value", func(e *OutcomeEvent) { e.Value.Minor = 1001 }},
		{"currency", func(e *OutcomeEvent) { e.Currency = "EUR" }},
		{"occurred_at", func(e *OutcomeEvent) { e.OccurredAt = e.OccurredAt.Add(time.Millisecond) }},
		{"no occurred_at", func(e *OutcomeEvent) { e.OccurredAt = time.Time{} }},
		{"experiments", func(e *OutcomeEvent) { e.Experiments = nil }},
		{"a variant", func(e *OutcomeEvent) { e.Experiments = []Assignment{{ID: "e", Variant: "w", Layer: "l"}} }},
		{"bounds: customer into offer", func(e *OutcomeEvent) { e.CustomerID, e.OfferID = "c1v", "ip_10" }},
		{"bounds: experiment into variant", func(e *OutcomeEvent) { e.Experiments = []Assignment{{ID: "ev", Variant: "", Layer: "l"}} }},
	} {
		e := base
		tt.change(&e)
		m := string(e.SealMessage())
		if other, ok := seen[m]; ok {
			t.Errorf("%s: the same seal message as %s", tt.name, other)
		}
		seen[m] = tt.name
	}
	// Ts, verified and the seal itself are not in it.
	e := base
	e.TS, e.Verified, e.Seal = time.Now(), true, "x"
	if string(e.SealMessage()) != string(base.SealMessage()) {
		t.Error("ts, verified or seal changed the seal message")
	}
}
