package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
)

// TestOutcomesAfterWindow: a conversion that occurred more than the
// attribution window after its decision (another service's order naming a
// decision of weeks ago, published straight to the stream) is refused by
// everything else Arbiter runs (POST /v1/outcomes: 422 decision_expired;
// the feedback consumer; the live counters). The report must not count it
// either (SPEC-LOOP: forged or mistyped outcomes never move reports;
// reports show how many they refused): it is counted apart, as
// outcomes_outside_window, with those that occurred more than a minute
// before their decision (occurred_before_decision). The window is measured from the decision's time
// to the outcome's occurred_at, else to when the stream stored it, as the
// attribution check does; --window sets it (serve's --attribution-window).
func TestOutcomesAfterWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	id := func(at time.Time, n byte) string {
		return "dcs_" + ulid.MustNew(ulid.Timestamp(at), bytes.NewReader(bytes.Repeat([]byte{n}, 16))).String()
	}
	usd := engine.Money{Minor: 5000, Exp: 2}
	for _, exp := range []string{"x", report.Holdout} {
		var evs []report.Event
		decide := func(cust, variant string, held bool, n byte) string {
			d := id(t0, n)
			as := []wire.Assignment{{ID: "x", Variant: variant}}
			if exp == report.Holdout && held {
				as = nil // held out: in no experiment
			} else if exp != report.Holdout {
				held = false
			}
			evs = append(evs, report.Event{Stored: t0, Decision: &report.Decision{ID: d, CustomerID: cust, TS: t0, Holdout: held, Experiments: as}})
			return d
		}
		convert := func(oid, dec, cust string, stored, occurred time.Time) {
			evs = append(evs, report.Event{Stored: stored, Outcome: &report.Outcome{ID: oid, DecisionID: dec, CustomerID: cust, Type: wire.OutcomeConverted,
				Value: usd, Currency: "USD", TS: stored, OccurredAt: occurred}})
		}
		a1 := decide("a1", "control", true, 1)
		decide("a2", "control", true, 2)
		b1 := decide("b1", "deep", false, 3)
		b2 := decide("b2", "deep", false, 4)
		b3 := decide("b3", "deep", false, 5)
		convert("o1", a1, "a1", t0.Add(time.Hour), time.Time{})   // within the window
		convert("o2", b1, "b1", t0.Add(8*day), time.Time{})       // stored 8 days after: expired
		convert("o3", b2, "b2", t0.Add(10*day), t0.Add(2*day))    // occurred 2 days after, stored late: counts
		convert("o4", b3, "b3", t0.Add(time.Hour), t0.Add(9*day)) // occurred 9 days after: expired
		b4 := decide("b4", "deep", false, 6)
		convert("o5", b4, "b4", t0.Add(time.Hour), t0.Add(-time.Hour)) // occurred an hour before its decision
		for _, tc := range []struct {
			window            time.Duration
			wantDeep, outside int
		}{
			{0, 1, 3},        // the default: 7 days
			{30 * day, 3, 1}, // serve --attribution-window 30d
			{7 * day, 1, 3},
		} {
			c := report.NewCollector(exp)
			c.Window = tc.window
			for _, ev := range evs {
				c.Add(ev)
			}
			r := c.Report(report.Weights{})
			ctl, other := "control", "deep"
			if exp == report.Holdout {
				ctl, other = report.GroupHeldOut, report.GroupServed
			}
			got := map[string]int{}
			for _, v := range r.Variants {
				got[v.ID] = v.ConvertedCustomers
			}
			if got[ctl] != 1 || got[other] != tc.wantDeep || r.OutsideWindow != tc.outside {
				t.Errorf("%s, window %v: converted %v, outside the window %d; want %s 1, %s %d, outside %d",
					exp, tc.window, got, r.OutsideWindow, ctl, other, tc.wantDeep, tc.outside)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if tc.outside > 0 && !strings.Contains(text.String(), "outside the attribution window") {
				t.Errorf("%s: the text does not say outcomes came after the window:\n%s", exp, text.String())
			}
		}
	}
}
