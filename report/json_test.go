package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestWriteJSONCupedWithoutRevenue: with --covariate, a currency in which
// neither the control nor a variant has any revenue (it is only a third
// variant's: orders paid in EUR in one market) leaves no variance to reduce.
// The JSON report must still be written (variance_reduction null), not fail
// with "json: unsupported value: NaN" and leave the owner with no report.
func TestWriteJSONCupedWithoutRevenue(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := report.NewCollector("x")
	c.Covariate = "ltv"
	for i := 0; i < 60; i++ {
		id := fmt.Sprintf("c%d", i)
		v := []string{"a", "b", "c"}[i%3]
		dec := "dcs_" + id
		c.Add(report.Event{Stored: at, Decision: &report.Decision{ID: dec, CustomerID: id, TS: at,
			Experiments: []wire.Assignment{{ID: "x", Variant: v}}, Profile: map[string]any{"ltv": float64(i)}}})
		if i%2 == 0 {
			cur := "USD"
			if v == "c" {
				cur = "EUR"
			}
			c.Add(report.Event{Stored: at, Outcome: &report.Outcome{ID: "o" + id, DecisionID: dec, CustomerID: id, Type: wire.OutcomeConverted,
				Value: engine.Money{Minor: int64(100 + i), Exp: 2}, Currency: cur}})
		}
	}
	for _, seq := range []bool{false, true} {
		r := c.ReportWith(report.Weights{}, report.Options{Sequential: seq})
		var js, text bytes.Buffer
		if err := r.WriteJSON(&js); err != nil {
			t.Fatalf("sequential %v: WriteJSON: %v", seq, err)
		}
		var back struct {
			Variants []struct {
				ID       string `json:"id"`
				Adjusted []struct {
					Currency          string   `json:"currency"`
					VarianceReduction *float64 `json:"variance_reduction"`
				} `json:"revenue_per_customer_uplift_cuped"`
			} `json:"variants"`
		}
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		b := back.Variants[1]
		if b.ID != "b" || len(b.Adjusted) != 2 || b.Adjusted[0].Currency != "EUR" || b.Adjusted[0].VarianceReduction != nil || b.Adjusted[1].VarianceReduction == nil {
			t.Errorf("sequential %v: variant %+v: want EUR's variance reduction null, USD's a number", seq, b)
		}
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text.String(), "NaN") {
			t.Errorf("sequential %v: the text report says NaN:\n%s", seq, text.String())
		}
	}
}
