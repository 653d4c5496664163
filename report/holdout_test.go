package report_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestHoldoutReport: the holdout is an experiment. 20,000 customers, 5%
// held out (every decision of theirs says so); conversions are
// whole-decision outcomes (no offer_id) worth 80 USD: 10% of held-out
// customers convert, 13% of served ones (the programme's lift, +3 points,
// +2.40 USD per customer). Offer conversions and outcomes of decisions
// before a customer's first are not counted.
func TestHoldoutReport(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var evs []report.Event
	add := func(ev report.Event) {
		at = at.Add(time.Second)
		ev.Stored = at
		evs = append(evs, ev)
	}
	add(report.Event{Ruleset: &report.Ruleset{Version: "r1", Holdout: 5, HasHoldout: true}})
	held := 0
	for i := 1; i <= 20000; i++ {
		id := fmt.Sprintf("c-%06d", i)
		h := engine.Bucket(engine.HoldoutSalt, id) < 500
		if h {
			held++
		}
		dec := "dcs_" + id
		add(report.Event{Decision: &report.Decision{ID: dec, CustomerID: id, Holdout: h, Experiments: []wire.Assignment{}, TS: at}})
		p := 0.13
		if h {
			p = 0.10
		}
		if r.Float64() < p {
			add(report.Event{Outcome: &report.Outcome{ID: "o" + id, DecisionID: dec, CustomerID: id, Type: wire.OutcomeConverted,
				Value: engine.Money{Minor: 8000, Exp: 2}, Currency: "USD", TS: at}})
			if !h { // the served order also reported per offer: not counted again
				add(report.Event{Outcome: &report.Outcome{ID: "p" + id, DecisionID: dec, CustomerID: id, OfferID: "vip_10", Type: wire.OutcomeConverted,
					Value: engine.Money{Minor: 8000, Exp: 2}, Currency: "USD", TS: at}})
			}
		}
	}
	// An outcome of a customer never seen in a decision: not read.
	add(report.Event{Outcome: &report.Outcome{ID: "x", DecisionID: "dcs_zz", CustomerID: "zz", Type: wire.OutcomeConverted, TS: at}})
	c := report.NewCollector(report.Holdout)
	for _, ev := range evs {
		c.Add(ev)
	}
	for _, seq := range []bool{false, true} {
		rep := c.ReportWith(report.Weights{}, report.Options{Sequential: seq})
		if rep.Kind != "holdout" || len(rep.Variants) != 2 || rep.Control != report.GroupHeldOut {
			t.Fatalf("%+v", rep)
		}
		ho, sv := rep.Variants[0], rep.Variants[1]
		if ho.Customers != held || sv.Customers != 20000-held || !rep.SRM.Checked || rep.SRM.Mismatch {
			t.Errorf("held out %d, served %d (want %d, %d), srm %+v", ho.Customers, sv.Customers, held, 20000-held, rep.SRM)
		}
		cv := sv.Conversion
		if cv == nil || math.Abs(cv.Diff-0.03) > 0.025 || cv.Low > 0.03 || cv.High < 0.03 {
			t.Errorf("sequential %v: lift %+v, true +3 points", seq, cv)
		}
		if len(sv.RevenueUplift) != 1 || math.Abs(sv.RevenueUplift[0].Diff-2.4) > 2 {
			t.Errorf("revenue uplift %+v, true +2.40", sv.RevenueUplift)
		}
		if rev := sv.Revenue[0]; rev.Total.Minor != int64(sv.ConvertedCustomers)*8000 {
			t.Errorf("served revenue %v for %d converted: an order counted twice", rev.Total, sv.ConvertedCustomers)
		}
		if rep.NotRead != 1 {
			t.Errorf("not read %d", rep.NotRead)
		}
		var b strings.Builder
		_ = rep.WriteText(&b)
		if want := map[bool]string{false: "fixed-sample 95%", true: "always-valid 95%"}[seq]; !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "The holdout") {
			t.Errorf("text does not say %q:\n%s", want, b.String())
		}
	}
}

// TestHoldoutReportNoneHeldOut: rules that hold out no one (holdout: 0)
// leave a holdout report nothing to compare: it says so, instead of
// saying the percent is not known.
func TestHoldoutReportNoneHeldOut(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		pct  float64
		want string
	}{
		{0, "hold out 0% of the customers (holdout in the last rules_reloaded event): there is no held_out group to compare with; to measure the programme, hold out a few (arbitration.holdout: 5"},
		{5, ""},
	} {
		c := report.NewCollector(report.Holdout)
		c.Add(report.Event{Stored: at, Ruleset: &report.Ruleset{Version: "r1", Holdout: tt.pct, HasHoldout: true}})
		for i := 1; i <= 50; i++ {
			id := fmt.Sprintf("c-%06d", i)
			c.Add(report.Event{Stored: at, Decision: &report.Decision{ID: "dcs_" + id, CustomerID: id, Experiments: []wire.Assignment{}, TS: at}})
		}
		rep := c.ReportWith(report.Weights{}, report.Options{})
		joined := strings.Join(rep.Warnings, "\n")
		if strings.Contains(joined, "percent is not known") {
			t.Errorf("holdout %g%%: warns the percent is not known: %s", tt.pct, joined)
		}
		if tt.want != "" && !strings.Contains(joined, tt.want) {
			t.Errorf("holdout %g%%: warnings %q, want one containing %q", tt.pct, rep.Warnings, tt.want)
		}
	}
}
