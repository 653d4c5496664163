package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// ReportOptions configure ReadReport.
type ReportOptions struct {
	// Prefix of the subjects (default "arbiter").
	Prefix string
	// Since reads only the events stored in the last Since (0: all).
	Since time.Duration
	// Weights of the variants, in order (the first is the control): they
	// override the weights published in the rules_reloaded events.
	Weights []wire.VariantInfo
	// Progress, when set, is called every few thousand events read with the
	// count so far and the stream's last sequence at start.
	Progress func(read, total uint64)
	// Now is the current time (for Since); nil: time.Now.
	Now func() time.Time
}

// ParseWeights reads a --weights value: "control=50,deep=50".
func ParseWeights(s string) ([]wire.VariantInfo, error) {
	var out []wire.VariantInfo
	for _, part := range strings.Split(s, ",") {
		id, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		var f float64
		if ok {
			_, err := fmt.Sscanf(w, "%g", &f)
			ok = err == nil && f > 0 && !math.IsInf(f, 0)
		}
		if !ok || id == "" {
			return nil, fmt.Errorf("--weights: %q: write VARIANT=WEIGHT pairs separated by commas, like control=50,deep=50", part)
		}
		out = append(out, wire.VariantInfo{ID: id, Weight: f})
	}
	return out, nil
}

// outcomeRec is an outcome kept until every decision has been read.
type outcomeRec struct {
	decisionID, customerID, typ, currency string
	minor                                 int64
	exp                                   int8
	variant                               string // from the outcome's experiments field
}

type decisionRec struct{ customerID, variant string }

// reportData accumulates the stream's events for one experiment.
type reportData struct {
	experiment    string
	events        uint64
	unreadable    uint64
	first, last   time.Time
	decisions     map[string]decisionRec // decision id -> customer, variant (decisions carrying the experiment)
	exposures     map[string]int
	custVariant   map[string]string // customer -> first variant seen
	conflicts     map[string]bool   // customers seen in more than one variant
	outcomes      []outcomeRec
	weights       []wire.VariantInfo // from the latest rules_reloaded event carrying the experiment
	weightsSource string
}

// ReadReport reads the stream holding <prefix>.> from its start (or from
// now - Since) up to its end at the time of the call, and computes the
// report of experiment id. The server must have JetStream.
func ReadReport(ctx context.Context, url, id string, opts ReportOptions) (*Report, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &reportData{
		experiment: id, decisions: map[string]decisionRec{}, exposures: map[string]int{},
		custVariant: map[string]string{}, conflicts: map[string]bool{},
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.Name("arbiter experiments report"))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	stream, err := findStream(ctx, js, opts.Prefix)
	if err != nil {
		return nil, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream.CachedInfo().Config.Name, err)
	}
	last := info.State.LastSeq
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{opts.Prefix + ".>"}}
	if opts.Since > 0 {
		t := opts.Now().Add(-opts.Since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	if info.State.Msgs > 0 {
		cons, err := stream.OrderedConsumer(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("stream %s: ordered consumer: %w", info.Config.Name, err)
		}
		err = readToEnd(ctx, cons, last, func(m jetstream.Msg, md *jetstream.MsgMetadata) {
			d.add(opts.Prefix, m.Subject(), m.Data(), md.Timestamp)
			if opts.Progress != nil && d.events%5000 == 0 {
				opts.Progress(md.Sequence.Stream, last)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("stream %s: read: %w", info.Config.Name, err)
		}
	}
	if opts.Progress != nil {
		opts.Progress(last, last)
	}
	r := d.compute(opts.Weights)
	r.Stream = info.Config.Name
	return r, nil
}

// readIdle is how long readToEnd waits for a message before it decides
// there are no more (nothing matched, or --since excluded the rest).
const readIdle = 2 * time.Second

// readToEnd reads cons in batches and calls fn for every message, until
// the message of stream sequence last (or the consumer has nothing
// pending), until no message came for readIdle, or until ctx is done.
func readToEnd(ctx context.Context, cons jetstream.Consumer, last uint64, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return err
	}
	defer it.Stop()
	activity := make(chan struct{}, 1)
	finished := make(chan struct{})
	defer close(finished)
	go func() { // the watchdog: stop the iterator when idle or canceled
		t := time.NewTimer(readIdle)
		defer t.Stop()
		for {
			select {
			case <-finished:
				return
			case <-activity:
				t.Reset(readIdle)
			case <-t.C:
				it.Stop()
				return
			case <-ctx.Done():
				it.Stop()
				return
			}
		}
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return err
		}
		select {
		case activity <- struct{}{}:
		default:
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		fn(m, md)
		if md.Sequence.Stream >= last || md.NumPending == 0 {
			return nil
		}
	}
}

// findStream finds the stream that holds <prefix>.>: the one named by
// StreamName(prefix), else whichever stream binds those subjects.
func findStream(ctx context.Context, js jetstream.JetStream, prefix string) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, StreamName(prefix))
	if err == nil {
		return s, nil
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return nil, fmt.Errorf("the NATS server has no JetStream: the events are not stored, so there is nothing to read back (%w)", err)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s: %w", StreamName(prefix), err)
	}
	name, err2 := js.StreamNameBySubject(ctx, prefix+".decision.x")
	if err2 != nil {
		return nil, fmt.Errorf("no JetStream stream holds %s.> (looked for %s): is Arbiter publishing with --nats pointing here, and is the prefix right?", prefix, StreamName(prefix))
	}
	return js.Stream(ctx, name)
}

// add reads one event.
func (d *reportData) add(prefix, subject string, data []byte, stored time.Time) {
	d.events++
	if d.first.IsZero() || stored.Before(d.first) {
		d.first = stored
	}
	if stored.After(d.last) {
		d.last = stored
	}
	rest, _ := strings.CutPrefix(subject, prefix+".")
	switch {
	case strings.HasPrefix(rest, "decision."):
		dec, err := wire.ParseDecisionEvent(data)
		if err != nil {
			d.unreadable++
			return
		}
		v := variantOf(dec.Experiments, d.experiment)
		if v == "" {
			return
		}
		d.exposures[v]++
		if dec.ID != "" {
			d.decisions[dec.ID] = decisionRec{customerID: dec.CustomerID, variant: v}
		}
		d.assign(dec.CustomerID, v)
	case strings.HasPrefix(rest, "outcome."):
		o, err := wire.ParseOutcome(prefix, subject, data, stored)
		if err != nil {
			d.unreadable++
			return
		}
		d.outcomes = append(d.outcomes, outcomeRec{
			decisionID: o.DecisionID, customerID: o.CustomerID, typ: o.Outcome,
			currency: o.Currency, minor: o.Value.Minor, exp: o.Value.Exp,
			variant: variantOf(o.Experiments, d.experiment),
		})
	case rest == "rules.reloaded":
		var rr wire.RulesReloaded
		if err := json.Unmarshal(data, &rr); err != nil {
			d.unreadable++
			return
		}
		for _, x := range rr.Experiments {
			if x.ID == d.experiment && len(x.Variants) > 0 {
				d.weights = x.Variants
				d.weightsSource = "rules_reloaded event of ruleset " + rr.Version
			}
		}
	}
}

func (d *reportData) assign(customer, v string) {
	if customer == "" {
		return
	}
	if prev, ok := d.custVariant[customer]; !ok {
		d.custVariant[customer] = v
	} else if prev != v {
		d.conflicts[customer] = true
	}
}

func variantOf(as []wire.Assignment, exp string) string {
	for _, a := range as {
		if a.ID == exp {
			return a.Variant
		}
	}
	return ""
}

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
	revenueByCurrency  map[string][]float64
	totals             map[string]engine.Money
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

func (d *reportData) compute(weights []wire.VariantInfo) *Report {
	r := &Report{Experiment: d.experiment, Events: d.events, Unreadable: d.unreadable, From: d.first, To: d.last, Warnings: []string{}}
	// Attribute outcomes: the decision's variant first, else the outcome's own.
	type custAgg struct {
		converted bool
		revenue   map[string]int64
	}
	perVariantCust := map[string]map[string]*custAgg{}
	outcomeCounts := map[string]map[string]int{}
	exps := map[string]int8{}
	for cust, v := range d.custVariant {
		if perVariantCust[v] == nil {
			perVariantCust[v] = map[string]*custAgg{}
		}
		perVariantCust[v][cust] = &custAgg{revenue: map[string]int64{}}
	}
	for _, o := range d.outcomes {
		v, cust := "", o.customerID
		if dec, ok := d.decisions[o.decisionID]; ok && o.decisionID != "" {
			v = dec.variant
			if cust == "" {
				cust = dec.customerID
			}
		} else {
			v = o.variant
		}
		if v == "" {
			r.Unattributed++
			continue
		}
		if outcomeCounts[v] == nil {
			outcomeCounts[v] = map[string]int{}
		}
		outcomeCounts[v][o.typ]++
		if cust == "" {
			r.NoCustomer++
			continue
		}
		d.assign(cust, v)
		cv := d.custVariant[cust] // a customer counts in the first variant seen
		if perVariantCust[cv] == nil {
			perVariantCust[cv] = map[string]*custAgg{}
		}
		a := perVariantCust[cv][cust]
		if a == nil {
			a = &custAgg{revenue: map[string]int64{}}
			perVariantCust[cv][cust] = a
		}
		if o.typ == wire.OutcomeConverted {
			a.converted = true
			if o.currency != "" {
				a.revenue[o.currency] += o.minor
				exps[o.currency] = o.exp
			}
		}
	}
	r.Conflicts = len(d.conflicts)

	// The variants, in order: --weights, else the published weights, else by id.
	seen := map[string]bool{}
	for v := range perVariantCust {
		seen[v] = true
	}
	for v := range d.exposures {
		seen[v] = true
	}
	for v := range outcomeCounts {
		seen[v] = true
	}
	switch {
	case len(weights) > 0:
		r.SRM.WeightsFrom = "--weights"
	case len(d.weights) > 0:
		weights, r.SRM.WeightsFrom = d.weights, d.weightsSource
	}
	var order []wire.VariantInfo
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
		order = append(order, wire.VariantInfo{ID: v})
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

	var currencies []string
	for c := range exps {
		currencies = append(currencies, c)
	}
	sort.Strings(currencies)
	for _, w := range order {
		vr := VariantReport{ID: w.ID, Weight: w.Weight, Exposures: d.exposures[w.ID], revenueByCurrency: map[string][]float64{}, totals: map[string]engine.Money{}}
		custs := perVariantCust[w.ID]
		vr.Customers = len(custs)
		oc := outcomeCounts[w.ID]
		vr.Outcomes.Impression, vr.Outcomes.Accepted = oc[wire.OutcomeImpression], oc[wire.OutcomeAccepted]
		vr.Outcomes.Dismissed, vr.Outcomes.Converted = oc[wire.OutcomeDismissed], oc[wire.OutcomeConverted]
		ids := make([]string, 0, len(custs))
		for c := range custs {
			ids = append(ids, c)
		}
		sort.Strings(ids) // deterministic float sums
		for _, c := range ids {
			a := custs[c]
			if a.converted {
				vr.ConvertedCustomers++
			}
			for _, cur := range currencies {
				m := a.revenue[cur]
				t := vr.totals[cur]
				t.Minor += m
				t.Exp = exps[cur]
				vr.totals[cur] = t
				vr.revenueByCurrency[cur] = append(vr.revenueByCurrency[cur], engine.Money{Minor: m, Exp: exps[cur]}.Major())
			}
		}
		if vr.Customers > 0 {
			vr.ConversionRate = float64(vr.ConvertedCustomers) / float64(vr.Customers)
		}
		vr.Revenue = []CurrencyRevenue{}
		for _, cur := range currencies {
			cr := CurrencyRevenue{Currency: cur, Total: vr.totals[cur]}
			if vr.Customers > 0 {
				cr.PerCustomer = vr.totals[cur].Major() / float64(vr.Customers)
			}
			vr.Revenue = append(vr.Revenue, cr)
		}
		r.Variants = append(r.Variants, vr)
	}
	if len(r.Variants) == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("no event carries experiment %q", d.experiment))
		r.Variants = []VariantReport{}
		return r
	}
	r.Control = r.Variants[0].ID
	ctl := &r.Variants[0]
	for i := 1; i < len(r.Variants); i++ {
		v := &r.Variants[i]
		pt := TwoProportion(ctl.ConvertedCustomers, ctl.Customers, v.ConvertedCustomers, v.Customers)
		if pt.Valid {
			v.Conversion = &ProportionReport{Diff: pt.Diff, Low: pt.Low, High: pt.High, Relative: finite(pt.Relative), Z: pt.Z, P: pt.P,
				Test: "two-proportion z-test (pooled), 95% Wald interval (unpooled)"}
		}
		for _, cur := range currencies {
			wt := Welch(Summarize(ctl.revenueByCurrency[cur]), Summarize(v.revenueByCurrency[cur]))
			if wt.Valid {
				v.RevenueUplift = append(v.RevenueUplift, RevenueUplift{Currency: cur, Diff: wt.Diff, Low: wt.Low, High: wt.High,
					Relative: finite(wt.Relative), T: finite(wt.T), DF: wt.DF, P: wt.P, Test: "Welch's t-test on revenue per customer"})
			}
		}
	}
	// Sample ratio: customers per variant against the weights.
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
	if r.Conflicts > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d customers appear in more than one variant (weights, traffic or salt changed during the experiment?); each counts in the first variant seen", r.Conflicts))
	}
	if r.Unreadable > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d events could not be read and were skipped", r.Unreadable))
	}
	return r
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
