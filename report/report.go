// Package report computes an experiment's report from Arbiter's decision
// and outcome events: per variant the customers, exposures, outcomes,
// conversion rate and revenue; each variant's uplift against the control
// (the first variant) with its 95% confidence interval and p-value; and the
// sample-ratio check of the customers per variant against the weights. What
// each number counts is in docs/events.md.
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

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// Report is an experiment's report, in its JSON form.
type Report struct {
	Experiment string    `json:"experiment"`
	Stream     string    `json:"stream"`
	Events     uint64    `json:"events_read"`
	Unreadable uint64    `json:"events_unreadable"`
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	// Control is the first variant: the one the others are compared with.
	Control  string          `json:"control"`
	Variants []VariantReport `json:"variants"`
	SRM      SRMReport       `json:"sample_ratio"`
	// Conflicts counts customers seen in more than one variant (the
	// weights or the salt changed during the experiment); each is counted
	// in the first variant seen.
	Conflicts int `json:"customers_in_several_variants"`
	// Unattributed counts outcomes that carry no variant of the experiment
	// neither through their decision nor their own experiments field, and
	// are not counted.
	Unattributed int      `json:"outcomes_unattributed"`
	NoCustomer   int      `json:"outcomes_without_customer"`
	Warnings     []string `json:"warnings"`
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
	} `json:"outcomes"`
	ConvertedCustomers int               `json:"converted_customers"`
	ConversionRate     float64           `json:"conversion_rate"`
	Revenue            []CurrencyRevenue `json:"revenue"`
	Conversion         *ProportionReport `json:"conversion_uplift,omitempty"`
	RevenueUplift      []RevenueUplift   `json:"revenue_per_customer_uplift,omitempty"`
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
	Z        float64  `json:"z"`
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
	T        *float64 `json:"t"`        // null when both variances are 0
	DF       float64  `json:"df"`
	P        float64  `json:"p_value"`
	Test     string   `json:"test"`
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

// Report computes the report from the events added so far. override,
// when it has variants, gives the variants' order and weights (the first
// is the control) in place of the published ones, those of the latest
// rules_reloaded event that names the experiment; without either, the
// variants are sorted by id and checked against equal weights, with a
// warning. The report's Stream is left for the caller to fill. Report does
// not change the Collector.
func (c *Collector) Report(override Weights) *Report {
	r := &Report{Experiment: c.experiment, Events: c.events, Unreadable: c.unreadable, From: c.first, To: c.last, Warnings: []string{}}
	a := c.attribute()
	r.Unattributed, r.NoCustomer, r.Conflicts = a.unattributed, a.noCustomer, a.conflicts
	order := c.order(r, override, a)
	revenue := a.tally(r, order, c.exposures)
	if len(r.Variants) == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("no event carries experiment %q", c.experiment))
		r.Variants = []VariantReport{}
		return r
	}
	r.Control = r.Variants[0].ID
	compare(r, revenue, a.currencies())
	sampleRatio(r)
	if r.Conflicts > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d customers appear in more than one variant (weights, traffic or salt changed during the experiment?); each counts in the first variant seen", r.Conflicts))
	}
	if r.Unreadable > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d events could not be read and were skipped", r.Unreadable))
	}
	return r
}

// customerTotals is what one customer did in their variant.
type customerTotals struct {
	converted bool
	revenue   map[string]int64 // currency -> minor units of converted outcomes
}

// attribution is the outcomes put in their variants and customers.
type attribution struct {
	customers    map[string]map[string]*customerTotals // variant -> customer id -> totals
	outcomes     map[string]map[string]int             // variant -> outcome type -> count
	minorDigits  map[string]int8                       // currency -> its minor digits
	unattributed int                                   // outcomes without a variant of the experiment
	noCustomer   int                                   // attributed outcomes without a customer id
	conflicts    int                                   // customers seen in more than one variant
}

// attribute puts every outcome in a variant, its decision's when the
// decision was read, else its own, and in a customer, its own id, else its
// decision's. A customer counts in the first variant seen, decisions first.
func (c *Collector) attribute() *attribution {
	custVariant := make(map[string]string, len(c.custVariant))
	for k, v := range c.custVariant {
		custVariant[k] = v
	}
	conflicts := make(map[string]bool, len(c.conflicts))
	for k := range c.conflicts {
		conflicts[k] = true
	}
	a := &attribution{customers: map[string]map[string]*customerTotals{}, outcomes: map[string]map[string]int{}, minorDigits: map[string]int8{}}
	for cust, v := range custVariant {
		if a.customers[v] == nil {
			a.customers[v] = map[string]*customerTotals{}
		}
		a.customers[v][cust] = &customerTotals{revenue: map[string]int64{}}
	}
	for _, o := range c.outcomes {
		v, cust := "", o.customerID
		if dec, ok := c.decisions[o.decisionID]; ok && o.decisionID != "" {
			v = dec.variant
			if cust == "" {
				cust = dec.customerID
			}
		} else {
			v = o.variant
		}
		if v == "" {
			a.unattributed++
			continue
		}
		if a.outcomes[v] == nil {
			a.outcomes[v] = map[string]int{}
		}
		a.outcomes[v][o.typ]++
		if cust == "" {
			a.noCustomer++
			continue
		}
		assign(custVariant, conflicts, cust, v)
		cv := custVariant[cust] // a customer counts in the first variant seen
		if a.customers[cv] == nil {
			a.customers[cv] = map[string]*customerTotals{}
		}
		t := a.customers[cv][cust]
		if t == nil {
			t = &customerTotals{revenue: map[string]int64{}}
			a.customers[cv][cust] = t
		}
		if o.typ == wire.OutcomeConverted {
			t.converted = true
			if o.currency != "" {
				t.revenue[o.currency] += o.value.Minor
				a.minorDigits[o.currency] = o.value.Exp
			}
		}
	}
	a.conflicts = len(conflicts)
	return a
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
	for v := range a.outcomes {
		seen[v] = true
	}
	var weights []Variant
	switch {
	case len(override.Variants) > 0:
		weights, r.SRM.WeightsFrom = override.Variants, override.From
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
	if len(weights) == 0 && len(order) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("no weights known (no rules_reloaded event in range, no --weights): variants sorted by id, control %q, sample ratio checked against equal weights", order[0].ID))
		r.SRM.WeightsFrom = "equal weights (assumed)"
		for i := range order {
			order[i].Weight = 1
		}
	} else if len(extra) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("variants %s are in the events but not in the weights (%s)", strings.Join(extra, ", "), r.SRM.WeightsFrom))
	}
	return order
}

// tally fills r.Variants, one per variant of order, and returns each
// variant's revenue per customer (customers without a conversion count as
// 0) by currency, in major units, for the comparisons.
func (a *attribution) tally(r *Report, order []Variant, exposures map[string]int) []map[string][]float64 {
	currencies := a.currencies()
	revenue := make([]map[string][]float64, 0, len(order))
	for _, w := range order {
		vr := VariantReport{ID: w.ID, Weight: w.Weight, Exposures: exposures[w.ID]}
		perCustomer := map[string][]float64{}
		totals := map[string]engine.Money{}
		custs := a.customers[w.ID]
		vr.Customers = len(custs)
		oc := a.outcomes[w.ID]
		vr.Outcomes.Impression, vr.Outcomes.Accepted = oc[wire.OutcomeImpression], oc[wire.OutcomeAccepted]
		vr.Outcomes.Dismissed, vr.Outcomes.Converted = oc[wire.OutcomeDismissed], oc[wire.OutcomeConverted]
		ids := make([]string, 0, len(custs))
		for id := range custs {
			ids = append(ids, id)
		}
		sort.Strings(ids) // deterministic float sums
		for _, id := range ids {
			t := custs[id]
			if t.converted {
				vr.ConvertedCustomers++
			}
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
	}
	return revenue
}

// compare fills each variant's uplifts against the control, r.Variants[0]:
// conversion (customers) and revenue per customer in each currency.
func compare(r *Report, revenue []map[string][]float64, currencies []string) {
	ctl := &r.Variants[0]
	for i := 1; i < len(r.Variants); i++ {
		v := &r.Variants[i]
		pt := TwoProportion(ctl.ConvertedCustomers, ctl.Customers, v.ConvertedCustomers, v.Customers)
		if pt.Valid {
			v.Conversion = &ProportionReport{Diff: pt.Diff, Low: pt.Low, High: pt.High, Relative: finite(pt.Relative), Z: pt.Z, P: pt.P,
				Test: "two-proportion z-test (pooled), 95% Wald interval (unpooled)"}
		}
		for _, cur := range currencies {
			wt := Welch(Summarize(revenue[0][cur]), Summarize(revenue[i][cur]))
			if wt.Valid {
				v.RevenueUplift = append(v.RevenueUplift, RevenueUplift{Currency: cur, Diff: wt.Diff, Low: wt.Low, High: wt.High,
					Relative: finite(wt.Relative), T: finite(wt.T), DF: wt.DF, P: wt.P, Test: "Welch's t-test on revenue per customer"})
			}
		}
	}
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
	if srm.Valid {
		r.SRM.Checked, r.SRM.Chi2, r.SRM.P = true, srm.Chi2, srm.P
		r.SRM.Mismatch = srm.P < SRMThreshold
		if r.SRM.Mismatch {
			r.Warnings = append(r.Warnings, fmt.Sprintf("SAMPLE RATIO MISMATCH: customers per variant %v do not fit the weights %v (chi² = %.2f, p = %.2g < %g): the assignment or the event collection is broken; do not trust the uplifts until it is explained", obs, ws, srm.Chi2, srm.P, SRMThreshold))
		}
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
	fmt.Fprintf(&b, "Experiment %s: stream %s, %d events read", r.Experiment, r.Stream, r.Events)
	if !r.From.IsZero() {
		fmt.Fprintf(&b, ", stored %s to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", warn)
	}
	if len(r.Variants) == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\nexposures: decision events carrying the experiment; customers: distinct customer ids assigned to the\n" +
		"variant by a decision or an outcome; conversion: customers with a converted outcome / customers.\n\n")
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
	if len(r.Variants) > 1 {
		fmt.Fprintf(&b, "\nUplift against %s (95%% confidence intervals, two-sided p-values):\n", r.Control)
		for _, v := range r.Variants[1:] {
			if c := v.Conversion; c != nil {
				fmt.Fprintf(&b, "  %-16s conversion %+.2f pp (%s), CI [%+.2f, %+.2f] pp, p = %.4g  (two-proportion z-test)\n",
					v.ID, 100*c.Diff, pct(deref(c.Relative)), 100*c.Low, 100*c.High, c.P)
			} else {
				fmt.Fprintf(&b, "  %-16s conversion: not enough customers to compare\n", v.ID)
			}
			for _, u := range v.RevenueUplift {
				fmt.Fprintf(&b, "  %-16s revenue/customer %s %+.2f (%s), CI [%+.2f, %+.2f], p = %.4g  (Welch's t, df %.1f)\n",
					"", u.Currency, u.Diff, pct(deref(u.Relative)), u.Low, u.High, u.P, u.DF)
			}
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
	if r.Unattributed > 0 || r.NoCustomer > 0 {
		fmt.Fprintf(&b, "Outcomes not counted: %d without a variant of this experiment; %d without a customer id (counted by type only)\n", r.Unattributed, r.NoCustomer)
	}
	_, err := io.WriteString(w, b.String())
	return err
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
