// Package report computes an experiment's report, or the holdout's, from
// Arbiter's decision and outcome events: per variant the customers the
// decisions enrolled, their exposures, outcomes, conversion rate and
// revenue; each variant's uplift against the control (the first variant)
// with its 95% interval (fixed, or always-valid under --sequential) and
// p-value, revenue per customer adjusted with a pre-period covariate
// (CUPED) on request; and the sample-ratio check of the customers per
// variant against the weights. What each number counts is in
// docs/experiments.md.
//
// The package does no I/O: whoever reads the stream (adapters/events for
// NATS) decodes each message into an Event and adds it to a Collector, in
// stream order; Collector.Report computes the report, which writes itself
// as text or JSON. The statistics are in stats.go, on gonum's normal,
// Student's t and chi-square distributions.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// Report is an experiment's report, in its JSON form.
type Report struct {
	Experiment string `json:"experiment"`
	// Kind is "experiment", or "holdout" for the holdout's report (groups
	// held_out, the control, and served).
	Kind string `json:"kind"`
	// Layer is the experiment's layer ("" for none), with its range of
	// layer buckets.
	Layer      string    `json:"layer"`
	Buckets    []int     `json:"layer_buckets,omitempty"`
	Stream     string    `json:"stream"`
	Events     uint64    `json:"events_read"`
	Unreadable uint64    `json:"events_unreadable"`
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	// Interval is IntervalFixed or IntervalSequential: which kind of
	// interval and p-value the uplifts show; IntervalMethod says how.
	Interval       string `json:"interval"`
	IntervalMethod string `json:"interval_method"`
	// Control is the first variant: the one the others are compared with.
	Control  string          `json:"control"`
	Variants []VariantReport `json:"variants"`
	SRM      SRMReport       `json:"sample_ratio"`
	// Conflicts counts customers enrolled in more than one variant (the
	// weights or the salt changed during the experiment); each is counted
	// in the first, with the outcomes of the decisions that enrolled them
	// there.
	Conflicts int `json:"customers_in_several_variants"`
	// Outcomes not counted for a customer: whose decision did not enrol its
	// customer (or, for the holdout, is not a whole-decision conversion or
	// came before the exposure); whose decision is not among the events
	// read; of a decision that enrolled the customer in another variant than
	// their first; without a customer.
	NotEnrolled  int `json:"outcomes_of_decisions_not_enrolled"`
	NotRead      int `json:"outcomes_of_decisions_not_read"`
	OtherVariant int `json:"outcomes_in_another_variant"`
	NoCustomer   int `json:"outcomes_without_customer"`
	// OutsideWindow counts the outcomes that occurred (occurred_at, else
	// when the stream stored them) more than the attribution window
	// (Window) after their decision, or more than a minute before it:
	// refused, as Arbiter refuses them everywhere else (decision_expired,
	// occurred_before_decision).
	OutsideWindow int `json:"outcomes_outside_window"`
	// Window is the attribution window the outcomes were checked with:
	// whole days as "7d", else a Go duration ("36h0m0s").
	Window string `json:"attribution_window"`
	// Covariate is the profile field of --covariate, with the customers
	// whose exposure recorded it (the others get the mean).
	Covariate         string   `json:"covariate,omitempty"`
	CovariateRecorded int      `json:"covariate_recorded,omitempty"`
	Warnings          []string `json:"warnings"`
}

// VariantReport is one variant's numbers. Money is in major units of its
// currency (exact sums, shown as decimals).
type VariantReport struct {
	ID        string  `json:"id"`
	Weight    float64 `json:"weight"`
	Customers int     `json:"customers"`
	Exposures int     `json:"exposures"`
	Outcomes  struct {
		Impression int `json:"impression"`
		Accepted   int `json:"accepted"`
		Dismissed  int `json:"dismissed"`
		Converted  int `json:"converted"`
		// Cancelled counts the cancelled outcomes (the order was returned
		// or cancelled): revenue and conversion are gross of them.
		Cancelled int `json:"cancelled"`
	} `json:"outcomes"`
	ConvertedCustomers int               `json:"converted_customers"`
	ConversionRate     float64           `json:"conversion_rate"`
	Revenue            []CurrencyRevenue `json:"revenue"`
	Conversion         *ProportionReport `json:"conversion_uplift,omitempty"`
	RevenueUplift      []RevenueUplift   `json:"revenue_per_customer_uplift,omitempty"`
	// Adjusted is the revenue per customer uplift with the covariate
	// (CUPED), per currency.
	Adjusted []AdjustedUplift `json:"revenue_per_customer_uplift_cuped,omitempty"`
}

// CurrencyRevenue is a variant's revenue in one currency.
type CurrencyRevenue struct {
	Currency    string       `json:"currency"`
	Total       engine.Money `json:"total"`
	PerCustomer float64      `json:"per_customer"`
}

// ProportionReport is the conversion uplift against the control.
type ProportionReport struct {
	Diff     float64  `json:"diff"`
	Low      float64  `json:"ci95_low"`
	High     float64  `json:"ci95_high"`
	Relative *float64 `json:"relative"` // null when the control's rate is 0
	Z        *float64 `json:"z,omitempty"`
	P        float64  `json:"p_value"`
	Test     string   `json:"test"`
}

// RevenueUplift is the revenue per customer uplift in one currency.
type RevenueUplift struct {
	Currency string   `json:"currency"`
	Diff     float64  `json:"diff"`
	Low      float64  `json:"ci95_low"`
	High     float64  `json:"ci95_high"`
	Relative *float64 `json:"relative"` // null when the control's mean is 0
	T        *float64 `json:"t,omitempty"`
	DF       float64  `json:"df,omitempty"`
	P        float64  `json:"p_value"`
	Test     string   `json:"test"`
}

// AdjustedUplift is RevenueUplift with CUPED, and how much variance the
// covariate removed.
type AdjustedUplift struct {
	RevenueUplift
	Theta float64 `json:"theta"`
	// VarianceReduction is 1 - Var(Δ')/Var(Δ); null when neither group has
	// any variance of revenue in the currency (nothing to reduce).
	VarianceReduction *float64 `json:"variance_reduction"`
}

// SRMReport is the sample-ratio check of customers per variant.
type SRMReport struct {
	WeightsFrom string    `json:"weights_from"`
	Observed    []int     `json:"observed"`
	Expected    []float64 `json:"expected"`
	Chi2        float64   `json:"chi2"`
	DF          int       `json:"df"`
	P           float64   `json:"p_value"`
	Mismatch    bool      `json:"mismatch"` // p < 0.001
	Checked     bool      `json:"checked"`
}

// SRMThreshold is the p-value under which the report warns of a sample
// ratio mismatch.
const SRMThreshold = 0.001

// Options choose what the report computes beyond the counts.
type Options struct {
	// Sequential shows always-valid intervals and p-values (Sequential)
	// instead of fixed-sample ones.
	Sequential bool
	// Horizon is the customers per variant at which the always-valid
	// interval is narrowest (default DefaultHorizon).
	Horizon int
}

// Report computes the report from the events added so far with fixed
// 95% intervals; see ReportWith.
func (c *Collector) Report(override Weights) *Report { return c.ReportWith(override, Options{}) }

// ReportWith computes the report from the events added so far. override,
// when it has variants, gives the variants' order and weights (the first
// is the control) in place of the published ones, those of the latest
// rules_reloaded event that names the experiment (for the holdout: its
// percent); without either, the variants are sorted by id and checked
// against equal weights, with a warning. The report's Stream is left for
// the caller to fill. It does not change the Collector.
func (c *Collector) ReportWith(override Weights, o Options) *Report {
	if o.Horizon <= 0 {
		o.Horizon = DefaultHorizon
	}
	r := &Report{Experiment: c.experiment, Kind: "experiment", Events: c.events, Unreadable: c.unreadable, From: c.first, To: c.last,
		Warnings: []string{}, Interval: IntervalFixed,
		IntervalMethod: "95% confidence intervals and p-values for one look at a sample size fixed in advance"}
	if o.Sequential {
		r.Interval = IntervalSequential
		r.IntervalMethod = fmt.Sprintf("always-valid 95%% confidence sequences and p-values (normal-mixture sequential probability ratio test, Johari et al. 2022; tuned for %d customers per variant): valid however often the report is read", o.Horizon)
	}
	if c.holdout {
		r.Kind = "holdout"
	}
	r.Window = formatWindow(c.window())
	if x := c.setup; x != nil && x.Layer != "" {
		r.Layer, r.Buckets = x.Layer, []int{x.From, x.To}
	}
	a := c.attribute(r)
	order := c.order(r, override, a)
	revenue, covs := a.tally(r, order, c.exposures, c.customers)
	if len(r.Variants) == 0 {
		what := fmt.Sprintf("no decision event enrolled anyone in experiment %q", c.experiment)
		if c.holdout {
			what = "no decision event of an identified customer was read"
		}
		r.Warnings = append(r.Warnings, what)
		r.Variants = []VariantReport{}
		return r
	}
	r.Control = r.Variants[0].ID
	compare(r, revenue, a.currencies(), o)
	if c.Covariate != "" {
		r.Covariate, r.CovariateRecorded = c.Covariate, c.covariateOK
		adjust(r, revenue, covs, a.currencies(), o)
		if c.covariateOK == 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("no exposure recorded profile.%s as a number (decision events record the profile fields the ruleset reads, from schema 2 on): nothing to adjust with", c.Covariate))
		}
	}
	sampleRatio(r)
	fewCustomers(r)
	if r.Conflicts > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d customers were enrolled in more than one variant (weights, traffic or salt changed during the experiment?); each counts in the first", r.Conflicts))
	}
	if r.Unreadable > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d events could not be read and were skipped", r.Unreadable))
	}
	return r
}

// customerTotals is what one customer did in their group.
type customerTotals struct {
	converted bool
	revenue   map[string]int64 // currency -> minor units
}

// decisionConv is the conversions of one decision counted for a
// customer: the whole-decision conversions per currency, and the largest
// offer conversion (each names the order's value, so several offers of one
// order are the order once).
type decisionConv struct {
	customer, group string
	whole           map[string]int64
	hasWhole        map[string]bool
	offerMax        map[string]int64
}

// attribution is the outcomes put in their groups and customers.
type attribution struct {
	customers   map[string]map[string]*customerTotals // group -> customer id -> totals
	outcomes    map[string]map[string]int             // group -> outcome type -> count
	minorDigits map[string]int8                       // currency -> its minor digits
}

// attribute puts every outcome with the customer its decision enrolled, in
// the group that decision enrolled them in, and counts the others by why
// they are not counted.
func (c *Collector) attribute(r *Report) *attribution {
	a := &attribution{customers: map[string]map[string]*customerTotals{}, outcomes: map[string]map[string]int{}, minorDigits: map[string]int8{}}
	for cust, cr := range c.customers {
		if cr.group == "" {
			continue
		}
		if a.customers[cr.group] == nil {
			a.customers[cr.group] = map[string]*customerTotals{}
		}
		a.customers[cr.group][cust] = &customerTotals{revenue: map[string]int64{}}
		if cr.conflict {
			r.Conflicts++
		}
	}
	convs := map[string]*decisionConv{}
	seen := map[string]bool{}
	for _, o := range c.outcomes {
		// An outcome event stored twice (resent after the stream's
		// duplicate window, or posted again with the caller's id after it:
		// docs/events.md) is one outcome.
		if o.id != "" {
			if seen[o.id] {
				continue
			}
			seen[o.id] = true
		}
		cust, group, ok := c.place(r, o)
		if !ok {
			continue
		}
		if a.outcomes[group] == nil {
			a.outcomes[group] = map[string]int{}
		}
		a.outcomes[group][o.typ]++
		if o.typ != wire.OutcomeConverted || (c.holdout && o.offerID != "") {
			continue // the holdout counts whole-decision conversions only
		}
		a.customers[group][cust].converted = true
		if o.currency == "" {
			continue
		}
		a.minorDigits[o.currency] = o.value.Exp
		key := o.decisionID
		if key == "" {
			key = "\x00" + o.id
		}
		dc := convs[key]
		if dc == nil {
			dc = &decisionConv{customer: cust, group: group, whole: map[string]int64{}, hasWhole: map[string]bool{}, offerMax: map[string]int64{}}
			convs[key] = dc
		}
		if o.offerID == "" {
			dc.whole[o.currency] += o.value.Minor
			dc.hasWhole[o.currency] = true
		} else if o.value.Minor > dc.offerMax[o.currency] {
			dc.offerMax[o.currency] = o.value.Minor
		}
	}
	for _, dc := range convs {
		t := a.customers[dc.group][dc.customer]
		for cur, v := range dc.offerMax {
			if !dc.hasWhole[cur] {
				t.revenue[cur] += v
			}
		}
		for cur, v := range dc.whole {
			t.revenue[cur] += v
		}
	}
	return a
}

// place returns the customer and group an outcome counts for, or false
// (and counts why not).
func (c *Collector) place(r *Report, o outcomeRec) (cust, group string, ok bool) {
	if c.holdout {
		cust = o.customerID
		if cust == "" {
			r.NoCustomer++
			return "", "", false
		}
		cr := c.customers[cust]
		t, hasT := decisionTime(o.decisionID)
		switch {
		case cr == nil || hasT && t.Before(c.first.Add(-time.Minute)):
			r.NotRead++
			return "", "", false
		case cr.group == "" || hasT && t.Before(cr.exposed.Add(-time.Second)):
			r.NotEnrolled++
			return "", "", false
		}
		if hasT && c.outsideWindow(t, o.at) {
			r.OutsideWindow++
			return "", "", false
		}
		if d, signed := decisionid.Parse(o.decisionID); signed && d.Holdout != (cr.group == GroupHeldOut) {
			r.OtherVariant++
			return "", "", false
		}
		return cust, cr.group, true
	}
	dec, found := c.decisions[o.decisionID]
	if !found || o.decisionID == "" {
		t, hasT := decisionTime(o.decisionID)
		switch {
		case hasT && t.Before(c.first.Add(-time.Minute)):
			r.NotRead++
		case c.customers[o.customerID] != nil:
			r.NotEnrolled++
		default:
			r.NotRead++
		}
		return "", "", false
	}
	if o.customerID != "" && o.customerID != dec.customerID {
		r.NotEnrolled++ // names another customer's decision
		return "", "", false
	}
	if c.outsideWindow(dec.at, o.at) {
		r.OutsideWindow++
		return "", "", false
	}
	cr := c.customers[dec.customerID]
	if cr == nil || cr.group != dec.variant {
		r.OtherVariant++
		return "", "", false
	}
	return dec.customerID, dec.variant, true
}

// currencies returns the currencies of the revenue, sorted.
func (a *attribution) currencies() []string {
	out := make([]string, 0, len(a.minorDigits))
	for c := range a.minorDigits {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// order returns the variants in the report's order with their weights:
// override's, else the published ones, then the variants of the events
// that neither names, sorted by id; it records where the weights come from
// and warns of what does not fit.
func (c *Collector) order(r *Report, override Weights, a *attribution) []Variant {
	seen := map[string]bool{}
	for v := range a.customers {
		seen[v] = true
	}
	for v := range c.exposures {
		seen[v] = true
	}
	var weights []Variant
	switch {
	case len(override.Variants) > 0:
		weights, r.SRM.WeightsFrom = override.Variants, override.From
	case c.holdout && c.hasHoldout && c.holdoutPct > 0 && c.holdoutPct < 100:
		weights = []Variant{{ID: GroupHeldOut, Weight: c.holdoutPct}, {ID: GroupServed, Weight: 100 - c.holdoutPct}}
		r.SRM.WeightsFrom = fmt.Sprintf("the holdout of %g%% (rules_reloaded event)", c.holdoutPct)
	case c.holdout:
		weights = []Variant{{ID: GroupHeldOut}, {ID: GroupServed}}
	case len(c.published.Variants) > 0:
		weights, r.SRM.WeightsFrom = c.published.Variants, c.published.From
	}
	var order []Variant
	inWeights := map[string]bool{}
	for _, w := range weights {
		order = append(order, w)
		inWeights[w.ID] = true
	}
	var extra []string
	for v := range seen {
		if !inWeights[v] {
			extra = append(extra, v)
		}
	}
	sort.Strings(extra)
	for _, v := range extra {
		order = append(order, Variant{ID: v})
	}
	switch {
	case c.holdout && len(seen) == 0:
		return nil
	case c.holdout && r.SRM.WeightsFrom == "" && c.hasHoldout && (c.holdoutPct <= 0 || c.holdoutPct >= 100):
		missing := GroupServed
		if c.holdoutPct <= 0 {
			missing = GroupHeldOut
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("the rules hold out %g%% of the customers (holdout in the last rules_reloaded event): there is no %s group to compare with; to measure the programme, hold out a few (arbitration.holdout: 5 in the rules, docs/experiments.md)", c.holdoutPct, missing))
	case c.holdout && r.SRM.WeightsFrom == "":
		r.Warnings = append(r.Warnings, "the holdout's percent is not known (no rules_reloaded event of schema 2 in range, no --weights held_out=5,served=95): the sample ratio is not checked")
	case len(weights) == 0 && len(order) > 0:
		r.Warnings = append(r.Warnings, fmt.Sprintf("no weights known (no rules_reloaded event in range, no --weights): variants sorted by id, control %q, sample ratio checked against equal weights", order[0].ID))
		r.SRM.WeightsFrom = "equal weights (assumed)"
		for i := range order {
			order[i].Weight = 1
		}
	case len(extra) > 0:
		r.Warnings = append(r.Warnings, fmt.Sprintf("variants %s are in the events but not in the weights (%s)", strings.Join(extra, ", "), r.SRM.WeightsFrom))
	}
	return order
}

// tally fills r.Variants, one per variant of order, and returns each
// variant's revenue per customer (customers without a conversion count as
// 0) by currency, in major units, and the covariate of the same customers
// (the recorded mean for those whose exposure did not record it).
func (a *attribution) tally(r *Report, order []Variant, exposures map[string]int, custs map[string]*customerRec) ([]map[string][]float64, [][]float64) {
	currencies := a.currencies()
	revenue := make([]map[string][]float64, 0, len(order))
	covs := make([][]float64, 0, len(order))
	var xsum float64
	var xn int
	for _, cr := range custs {
		if cr.group != "" && cr.hasX {
			xsum += cr.x
			xn++
		}
	}
	xmean := 0.0
	if xn > 0 {
		xmean = xsum / float64(xn)
	}
	for _, w := range order {
		vr := VariantReport{ID: w.ID, Weight: w.Weight, Exposures: exposures[w.ID]}
		perCustomer := map[string][]float64{}
		totals := map[string]engine.Money{}
		cs := a.customers[w.ID]
		vr.Customers = len(cs)
		oc := a.outcomes[w.ID]
		vr.Outcomes.Impression, vr.Outcomes.Accepted = oc[wire.OutcomeImpression], oc[wire.OutcomeAccepted]
		vr.Outcomes.Dismissed, vr.Outcomes.Converted = oc[wire.OutcomeDismissed], oc[wire.OutcomeConverted]
		vr.Outcomes.Cancelled = oc[wire.OutcomeCancelled]
		ids := make([]string, 0, len(cs))
		for id := range cs {
			ids = append(ids, id)
		}
		sort.Strings(ids) // deterministic float sums
		xs := make([]float64, 0, len(ids))
		for _, id := range ids {
			t := cs[id]
			if t.converted {
				vr.ConvertedCustomers++
			}
			x := xmean
			if cr := custs[id]; cr != nil && cr.hasX {
				x = cr.x
			}
			xs = append(xs, x)
			for _, cur := range currencies {
				m := t.revenue[cur]
				tot := totals[cur]
				tot.Minor += m
				tot.Exp = a.minorDigits[cur]
				totals[cur] = tot
				perCustomer[cur] = append(perCustomer[cur], engine.Money{Minor: m, Exp: a.minorDigits[cur]}.Major())
			}
		}
		if vr.Customers > 0 {
			vr.ConversionRate = float64(vr.ConvertedCustomers) / float64(vr.Customers)
		}
		vr.Revenue = []CurrencyRevenue{}
		for _, cur := range currencies {
			cr := CurrencyRevenue{Currency: cur, Total: totals[cur]}
			if vr.Customers > 0 {
				cr.PerCustomer = totals[cur].Major() / float64(vr.Customers)
			}
			vr.Revenue = append(vr.Revenue, cr)
		}
		r.Variants = append(r.Variants, vr)
		revenue = append(revenue, perCustomer)
		covs = append(covs, xs)
	}
	return revenue, covs
}

// compare fills each variant's uplifts against the control, r.Variants[0]:
// conversion (customers) and revenue per customer in each currency, with
// fixed or always-valid intervals. A conversion interval is cut to [-1, 1],
// where a difference of two rates lies: the always-valid one of a few
// customers ran to hundreds of points, valid but unreadable, and cut it
// holds as often.
func compare(r *Report, revenue []map[string][]float64, currencies []string, o Options) {
	ctl := &r.Variants[0]
	for i := 1; i < len(r.Variants); i++ {
		v := &r.Variants[i]
		if o.Sequential {
			st := Sequential(proportionSample(ctl.ConvertedCustomers, ctl.Customers), proportionSample(v.ConvertedCustomers, v.Customers), o.Horizon)
			if st.Valid {
				v.Conversion = &ProportionReport{Diff: st.Diff, Low: max(st.Low, -1), High: min(st.High, 1), Relative: finite(relative(st.Diff, ctl.ConversionRate)), P: st.P,
					Test: "always-valid (normal-mixture SPRT) on the difference of conversion rates"}
			}
		} else {
			pt := TwoProportion(ctl.ConvertedCustomers, ctl.Customers, v.ConvertedCustomers, v.Customers)
			if pt.Valid {
				v.Conversion = &ProportionReport{Diff: pt.Diff, Low: max(pt.Low, -1), High: min(pt.High, 1), Relative: finite(pt.Relative), Z: finite(pt.Z), P: pt.P,
					Test: "two-proportion z-test (pooled), 95% Wald interval (unpooled)"}
			}
		}
		for _, cur := range currencies {
			a, b := Summarize(revenue[0][cur]), Summarize(revenue[i][cur])
			if u, ok := revenueUplift(cur, a, b, o); ok {
				v.RevenueUplift = append(v.RevenueUplift, u)
			}
		}
	}
}

// revenueUplift compares the mean of b with a's (the control's).
func revenueUplift(cur string, a, b Sample, o Options) (RevenueUplift, bool) {
	if o.Sequential {
		st := Sequential(a, b, o.Horizon)
		return RevenueUplift{Currency: cur, Diff: st.Diff, Low: st.Low, High: st.High, Relative: finite(relative(st.Diff, a.Mean)), P: st.P,
			Test: "always-valid (normal-mixture SPRT) on revenue per customer"}, st.Valid
	}
	wt := Welch(a, b)
	return RevenueUplift{Currency: cur, Diff: wt.Diff, Low: wt.Low, High: wt.High,
		Relative: finite(wt.Relative), T: finite(wt.T), DF: wt.DF, P: wt.P, Test: "Welch's t-test on revenue per customer"}, wt.Valid
}

// adjust fills each variant's CUPED uplift of revenue per customer.
func adjust(r *Report, revenue []map[string][]float64, covs [][]float64, currencies []string, o Options) {
	for i := 1; i < len(r.Variants); i++ {
		v := &r.Variants[i]
		for _, cur := range currencies {
			ct := Cuped(revenue[0][cur], covs[0], revenue[i][cur], covs[i])
			if !ct.Valid {
				continue
			}
			u, ok := revenueUplift(cur, ct.Adjusted[0], ct.Adjusted[1], o)
			if !ok {
				continue
			}
			u.Relative = finite(relative(u.Diff, Summarize(revenue[0][cur]).Mean))
			u.Test = "CUPED (covariate profile." + r.Covariate + "), then " + u.Test
			v.Adjusted = append(v.Adjusted, AdjustedUplift{RevenueUplift: u, Theta: ct.Theta, VarianceReduction: finite(ct.VarianceReduction)})
		}
	}
}

func relative(diff, base float64) float64 {
	if base == 0 {
		return math.NaN()
	}
	return diff / base
}

// sampleRatio checks the customers per variant against the weights, and
// warns of a mismatch.
func sampleRatio(r *Report) {
	obs := make([]int, len(r.Variants))
	ws := make([]float64, len(r.Variants))
	for i, v := range r.Variants {
		obs[i], ws[i] = v.Customers, v.Weight
	}
	srm := SampleRatio(obs, ws)
	r.SRM.Observed, r.SRM.Expected, r.SRM.DF = obs, srm.Expected, srm.DF
	if r.SRM.Expected == nil {
		r.SRM.Expected = []float64{}
	}
	if i := srm.ZeroWeightObserved; i >= 0 && r.SRM.WeightsFrom != "" {
		v := r.Variants[i]
		r.Warnings = append(r.Warnings, fmt.Sprintf("the sample ratio is not checked: variant %s has %d customers but weight 0 in the weights from %s (weights changed during the experiment?); give the weights its customers were assigned with: --weights %s", v.ID, v.Customers, r.SRM.WeightsFrom, weightsFlag(r.Variants)))
	}
	if srm.Valid {
		r.SRM.Checked, r.SRM.Chi2, r.SRM.P = true, srm.Chi2, srm.P
		r.SRM.Mismatch = srm.P < SRMThreshold
		if r.SRM.Mismatch {
			r.Warnings = append(r.Warnings, fmt.Sprintf("SAMPLE RATIO MISMATCH: customers per variant %v do not fit the weights %v (chi² = %.2f, p = %.2g < %g): the assignment or the event collection is broken; do not trust the uplifts until it is explained", obs, ws, srm.Chi2, srm.P, SRMThreshold))
		}
	}
}

// weightsFlag writes the variants' weights as --weights takes them, a
// variant of weight 0 as VARIANT=W for the weight to fill in.
func weightsFlag(vs []VariantReport) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		w := "W"
		if v.Weight > 0 {
			w = fmt.Sprintf("%g", v.Weight)
		}
		parts[i] = v.ID + "=" + w
	}
	return strings.Join(parts, ",")
}

// MinPerOutcome is the fewest converted, and unconverted, customers each
// variant needs for the normal approximation behind the report's intervals
// and p-values (n·p ≥ 5 and n·(1−p) ≥ 5, the usual rule for the Wald
// interval and the z-test); with fewer the report warns.
const MinPerOutcome = 5

// fewCustomers warns when a variant compared has too few converted or
// unconverted customers for the intervals to mean what they say: the Wald
// interval of a group without a conversion has no width at all.
func fewCustomers(r *Report) {
	if len(r.Variants) < 2 {
		return
	}
	var few []string
	for _, v := range r.Variants {
		if v.ConvertedCustomers < MinPerOutcome || v.Customers-v.ConvertedCustomers < MinPerOutcome {
			few = append(few, fmt.Sprintf("%s %d of %d", v.ID, v.ConvertedCustomers, v.Customers))
		}
	}
	if len(few) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("too few customers to trust the uplifts yet (converted customers of customers: %s): the intervals and p-values rest on a normal approximation, which needs at least %d converted and %d unconverted customers in every variant; with fewer they are too narrow (no conversion in either variant gives [0, 0] and p = 1); keep the experiment running", strings.Join(few, ", "), MinPerOutcome, MinPerOutcome))
	}
}

// WriteJSON writes the report as indented JSON. NaN values (an empty
// group) are written as null.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	what := "Experiment " + r.Experiment
	if r.Kind == "holdout" {
		what = "The holdout (held-out customers get no offer; served customers get the programme)"
	}
	fmt.Fprintf(&b, "%s: stream %s, %d events read", what, r.Stream, r.Events)
	if !r.From.IsZero() {
		fmt.Fprintf(&b, ", stored %s to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	if r.Layer != "" {
		share := float64(r.Buckets[1]-r.Buckets[0]+1) / 100
		fmt.Fprintf(&b, "Layer %s: layer buckets %d-%d (%g%% of the layer); no customer of this experiment is in another experiment of the layer\n", r.Layer, r.Buckets[0], r.Buckets[1], share)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", warn)
	}
	if len(r.Variants) == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	if r.Kind == "holdout" {
		b.WriteString("\ncustomers: identified customers from their first decision; exposures: their decisions; conversion:\n" +
			"customers with a whole-decision conversion (an outcome without offer_id) after their first decision / customers.\n\n")
	} else {
		b.WriteString("\ncustomers: customers a decision enrolled, from the first decision that did; exposures: decisions that\n" +
			"enrolled them; outcomes: those of decisions that enrolled the customer; conversion: customers converted / customers.\n\n")
	}
	fmt.Fprintf(&b, "%-16s %7s %9s %9s %10s %8s %9s %9s %10s", "variant", "weight", "customers", "exposures", "impression", "accepted", "dismissed", "converted", "conv.rate")
	var curs []string
	for _, c := range r.Variants[0].Revenue {
		curs = append(curs, c.Currency)
		fmt.Fprintf(&b, " %14s %12s", "revenue "+c.Currency, "rev/customer")
	}
	b.WriteString("\n")
	for _, v := range r.Variants {
		fmt.Fprintf(&b, "%-16s %7g %9d %9d %10d %8d %9d %9d %9.2f%%", v.ID, v.Weight, v.Customers, v.Exposures,
			v.Outcomes.Impression, v.Outcomes.Accepted, v.Outcomes.Dismissed, v.Outcomes.Converted, 100*v.ConversionRate)
		for i := range curs {
			fmt.Fprintf(&b, " %14s %12.2f", v.Revenue[i].Total.String(), v.Revenue[i].PerCustomer)
		}
		b.WriteString("\n")
	}
	var cancelled []string
	returned := false
	for _, v := range r.Variants {
		cancelled = append(cancelled, fmt.Sprintf("%s %d", v.ID, v.Outcomes.Cancelled))
		returned = returned || v.Outcomes.Cancelled > 0
	}
	if returned {
		fmt.Fprintf(&b, "cancelled outcomes (orders returned or cancelled): %s; conversion and revenue are gross of them\n", strings.Join(cancelled, ", "))
	}
	if len(r.Variants) > 1 {
		kind := "fixed-sample 95% confidence intervals and p-values, valid for ONE look at a sample size decided in advance"
		if r.Interval == IntervalSequential {
			kind = "always-valid 95% confidence sequences and p-values (--sequential): valid however often you look"
		}
		fmt.Fprintf(&b, "\nUplift against %s (%s):\n", r.Control, kind)
		for _, v := range r.Variants[1:] {
			if c := v.Conversion; c != nil {
				fmt.Fprintf(&b, "  %-16s conversion %+.2f pp (%s), CI [%+.2f, %+.2f] pp, p = %.4g\n",
					v.ID, 100*c.Diff, pct(deref(c.Relative)), 100*c.Low, 100*c.High, c.P)
			} else {
				fmt.Fprintf(&b, "  %-16s conversion: not enough customers to compare\n", v.ID)
			}
			for _, u := range v.RevenueUplift {
				df := ""
				if r.Interval == IntervalFixed {
					df = fmt.Sprintf("  (Welch's t, df %.1f)", u.DF)
				}
				fmt.Fprintf(&b, "  %-16s revenue/customer %s %+.2f (%s), CI [%+.2f, %+.2f], p = %.4g%s\n",
					"", u.Currency, u.Diff, pct(deref(u.Relative)), u.Low, u.High, u.P, df)
			}
			for _, u := range v.Adjusted {
				reduced := "n/a (no revenue variance)"
				if u.VarianceReduction != nil {
					reduced = fmt.Sprintf("%.1f%%", 100*(*u.VarianceReduction))
				}
				fmt.Fprintf(&b, "  %-16s   with CUPED on profile.%s: %s %+.2f, CI [%+.2f, %+.2f], p = %.4g; variance reduced by %s (theta %.4g)\n",
					"", r.Covariate, u.Currency, u.Diff, u.Low, u.High, u.P, reduced, u.Theta)
			}
		}
		if r.Covariate != "" {
			fmt.Fprintf(&b, "  (covariate profile.%s recorded at the exposure of %d customers; the others count at its mean)\n", r.Covariate, r.CovariateRecorded)
		}
	}
	b.WriteString("\n")
	if r.SRM.Checked {
		verdict := "OK"
		if r.SRM.Mismatch {
			verdict = "MISMATCH (p < 0.001)"
		}
		fmt.Fprintf(&b, "Sample ratio (customers %v against weights from %s): chi² = %.3f, df %d, p = %.4g: %s\n",
			r.SRM.Observed, r.SRM.WeightsFrom, r.SRM.Chi2, r.SRM.DF, r.SRM.P, verdict)
	} else {
		fmt.Fprintf(&b, "Sample ratio: not checked (needs two variants with customers and positive weights)\n")
	}
	if r.NotEnrolled+r.NotRead+r.OtherVariant+r.NoCustomer+r.OutsideWindow > 0 {
		fmt.Fprintf(&b, "Outcomes not counted: %d of decisions that did not enrol their customer, %d of decisions not among the events read, %d of decisions that enrolled the customer in another variant, %d without a customer, %d outside the attribution window (before the decision, or more than %s after it: --window)\n",
			r.NotEnrolled, r.NotRead, r.OtherVariant, r.NoCustomer, r.OutsideWindow, r.Window)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatWindow writes a window as --window takes it: whole days as 7d.
func formatWindow(d time.Duration) string {
	if day := 24 * time.Hour; d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

func pct(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

// finite returns &x, or nil (JSON null) for NaN and infinities.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
