package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestCancelledOutcomes: a `cancelled` outcome (the order was returned or
// cancelled) is an outcome type like the others, but the report counted it
// in no column, so a variant whose orders come back (a deep discount bought
// to be returned) showed its revenue with nothing to say that some of it
// was returned. The report now shows the cancelled outcomes per variant
// (outcomes.cancelled) and says that revenue is gross of them.
func TestCancelledOutcomes(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := report.NewCollector("x")
	usd := engine.Money{Minor: 9000, Exp: 2}
	for _, d := range []struct{ cust, variant string }{{"a1", "control"}, {"b1", "deep"}, {"b2", "deep"}} {
		dec := "dcs_" + d.cust
		c.Add(report.Event{Stored: at, Decision: &report.Decision{ID: dec, CustomerID: d.cust, TS: at,
			Experiments: []wire.Assignment{{ID: "x", Variant: d.variant}}}})
		c.Add(report.Event{Stored: at, Outcome: &report.Outcome{ID: "o" + d.cust, DecisionID: dec, CustomerID: d.cust,
			Type: wire.OutcomeConverted, Value: usd, Currency: "USD"}})
	}
	c.Add(report.Event{Stored: at, Outcome: &report.Outcome{ID: "r-b1", DecisionID: "dcs_b1", CustomerID: "b1", Type: wire.OutcomeCancelled}})
	r := c.Report(report.Weights{})
	if got := r.Variants[1].Outcomes.Cancelled; r.Variants[1].ID != "deep" || got != 1 || r.Variants[0].Outcomes.Cancelled != 0 {
		t.Errorf("cancelled: %s %d, %s %d; want deep 1, control 0", r.Variants[1].ID, got, r.Variants[0].ID, r.Variants[0].Outcomes.Cancelled)
	}
	var js, text bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Variants []struct {
			Outcomes map[string]int `json:"outcomes"`
		} `json:"variants"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Variants[1].Outcomes["cancelled"] != 1 {
		t.Errorf("JSON outcomes %+v (%v): want cancelled 1", back.Variants, err)
	}
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "cancelled") {
		t.Errorf("the text report does not mention the cancelled outcome:\n%s", text.String())
	}
}
