package events

import (
	"encoding/json"
	"errors"
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
		want                *engine.OutcomeEvent
		err                 string
	}{
		{"arbiter's own", "arbiter.outcome.converted",
			`{"type":"outcome","id":"out_1","ts":"2026-11-22T10:02:11.004Z","decision_id":"dcs_1","customer_id":"c1","offer_id":"o","outcome":"converted","value":112.50,"currency":"USD","experiments":[{"id":"e","variant":"v"}]}`,
			&engine.OutcomeEvent{Type: "outcome", ID: "out_1", TS: time.Date(2026, 11, 22, 10, 2, 11, 4e6, time.UTC), DecisionID: "dcs_1", CustomerID: "c1", OfferID: "o",
				Outcome: "converted", Value: engine.Money{Minor: 11250, Exp: 2}, Currency: "USD", Experiments: []engine.Assignment{{ID: "e", Variant: "v"}}}, ""},
		{"another service's, minimal", "arbiter.outcome.converted",
			`{"decision_id":"dcs_1","customer_id":"c1","offer_id":"o","value":1000,"currency":"JPY"}`,
			&engine.OutcomeEvent{Type: "outcome", TS: stored, DecisionID: "dcs_1", CustomerID: "c1", OfferID: "o",
				Outcome: "converted", Value: engine.Money{Minor: 1000, Exp: 0}, Currency: "JPY", Experiments: []engine.Assignment{}}, ""},
		{"no value", "arbiter.outcome.impression", `{"customer_id":"c1"}`,
			&engine.OutcomeEvent{Type: "outcome", TS: stored, CustomerID: "c1", Outcome: "impression", Experiments: []engine.Assignment{}}, ""},
		{"value rounded half up once", "arbiter.outcome.converted", `{"value":1.005,"currency":"USD"}`,
			&engine.OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 101, Exp: 2}, Currency: "USD", Experiments: []engine.Assignment{}}, ""},
		{"unknown type", "arbiter.outcome.bought", `{}`, nil, "unknown outcome type"},
		{"not an outcome subject", "arbiter.decision.x", `{}`, nil, "outcome's subject"},
		{"disagreeing outcome", "arbiter.outcome.converted", `{"outcome":"accepted"}`, nil, "disagrees"},
		{"wrong type", "arbiter.outcome.converted", `{"type":"decision"}`, nil, "want \"outcome\""},
		{"value without currency", "arbiter.outcome.converted", `{"value":10}`, nil, "has no currency"},
		{"bad currency", "arbiter.outcome.converted", `{"value":10,"currency":"usd"}`, nil, "ISO 4217"},
		{"bad ts", "arbiter.outcome.converted", `{"ts":"yesterday"}`, nil, "RFC 3339"},
		{"not json", "arbiter.outcome.converted", `nope`, nil, "not a JSON"},
		{"value as a decimal string", "arbiter.outcome.converted", `{"value":"10.25","currency":"USD"}`,
			&engine.OutcomeEvent{Type: "outcome", TS: stored, Outcome: "converted", Value: engine.Money{Minor: 1025, Exp: 2}, Currency: "USD", Experiments: []engine.Assignment{}}, ""},
		{"value a word", "arbiter.outcome.converted", `{"value":"ten","currency":"USD"}`, nil, "not a JSON"},
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
		Variants: []rules.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}}}}}
	ok := NewRulesReloaded(ts, rs, "v1", nil)
	if ok.Subject("arbiter") != "arbiter.rules.reloaded" || !strings.HasPrefix(ok.EventID(), "rld_") || ok.Result != ReloadOK {
		t.Fatalf("%+v", ok)
	}
	b, _ := json.Marshal(ok)
	want := `{"type":"rules_reloaded","id":"` + ok.ID + `","ts":"2026-11-22T09:00:00Z","version":"v2","previous":"v1","result":"ok","errors":[],` +
		`"experiments":[{"id":"disc","traffic":100,"variants":[{"id":"control","weight":50},{"id":"deep","weight":50}]}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	bad := NewRulesReloaded(ts, rs, "v2", rules.Errors{{Pos: rules.Pos{File: "offers.yaml", Line: 3, Col: 7}, Msg: "unknown field"}})
	if bad.Result != ReloadError || bad.Version != "v2" || len(bad.Errors) != 1 || !strings.HasPrefix(bad.Errors[0], "offers.yaml:3:7") {
		t.Fatalf("%+v", bad)
	}
	other := NewRulesReloaded(ts, nil, "", errors.New("rules directory missing"))
	b, _ = json.Marshal(other)
	if !strings.Contains(string(b), `"errors":["rules directory missing"],"experiments":[]`) {
		t.Fatalf("%s", b)
	}
}
