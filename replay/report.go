package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// Report is what a replay found. Its JSON form (`arbiter replay --json`)
// has the keys decisions, changed, offers, spend, segments and estimate.
type Report struct {
	Decisions Decisions    `json:"decisions"`
	Changed   Changed      `json:"changed"`
	Offers    []OfferRow   `json:"offers"`
	Spend     []SpendRow   `json:"spend"`
	Segments  []SegmentRow `json:"segments"`
	Estimate  Estimate     `json:"estimate"`

	// totals of the spend in the candidate's currency (rates), for the
	// metrics; unsummedPct: the largest change of spend among the
	// currencies they could not add (when unsummed)
	spendRecorded, spendCandidate float64
	unsummed                      bool
	unsummedPct                   float64
}

// Decisions counts the events read and what became of them.
type Decisions struct {
	Events   int64 `json:"events"`   // every event read
	Read     int64 `json:"read"`     // decision events
	Replayed int64 `json:"replayed"` // decided again
	// Skipped: schema 1 events, truncated requests, schema 2 events
	// without a request, requests that no longer decode or events whose
	// own fields do not read (invalid: no time, a time or an amount that
	// is not one), and the copies of decisions stored twice (an id
	// replayed within the attribution window before).
	SkippedSchema1    int64 `json:"skipped_schema1"`
	SkippedTruncated  int64 `json:"skipped_truncated"`
	SkippedNoRequest  int64 `json:"skipped_no_request"`
	SkippedInvalid    int64 `json:"skipped_invalid"`
	SkippedDuplicate  int64 `json:"skipped_duplicate"`
	Outcomes          int64 `json:"outcomes"`
	OutcomesUnmatched int64 `json:"outcomes_unmatched"` // about a decision not replayed
	// OutcomesDuplicate: copies of outcomes stored twice (an outcome id
	// already read for the same decision), not counted again.
	OutcomesDuplicate int64 `json:"outcomes_duplicate"`
	// LedgerUnavailable: decisions replayed that production made while
	// the ledger did not answer (degraded ledger_unavailable): they are
	// decided again without the ledger, granting no capped offer, as
	// production did, for the candidate and the baseline alike.
	LedgerUnavailable int64 `json:"ledger_unavailable"`
	// MissingProfileFields are the profile fields the candidate reads that
	// the events do not hold (their defaults were used).
	MissingProfileFields []string `json:"missing_profile_fields"`
}

// Changed counts the decisions whose answer (the ordered offer ids and
// amounts) differs.
type Changed struct {
	Count int64   `json:"count"`
	Pct   float64 `json:"pct"`
}

// OfferRow is one offer's grants.
type OfferRow struct {
	OfferID   string `json:"offer_id"`
	Recorded  int64  `json:"recorded"`
	Candidate int64  `json:"candidate"`
}

// SpendRow is the discount money granted in one cart currency.
type SpendRow struct {
	Currency    string       `json:"currency"`
	Recorded    engine.Money `json:"recorded"`
	Candidate   engine.Money `json:"candidate"`
	IncreasePct float64      `json:"increase_pct"`
}

// SegmentRow is one segment's customers matched.
type SegmentRow struct {
	Segment   string `json:"segment"`
	Recorded  int64  `json:"recorded"`
	Candidate int64  `json:"candidate"`
}

// Estimate is the off-policy estimate (estimate.go).
type Estimate struct {
	Reward    string `json:"reward"` // the outcome type that counts
	Decisions int64  `json:"decisions"`
	// Matching: decisions whose recorded answer the candidate gives with
	// a positive probability; ESS the effective sample size (Σw)²/Σw².
	Matching  int64   `json:"matching"`
	ESS       float64 `json:"ess"`
	Recorded  Policy  `json:"recorded"`
	Candidate Policy  `json:"candidate"`
	Baseline  string  `json:"baseline"` // which rules gave π_recorded
	// Approximate: probabilities found with a score that is not
	// proportional to its propensity; Unexplained: decisions the
	// baseline does not give the recorded answer to (left out);
	// ValuesUnconverted: outcome values in a currency without a rate.
	Approximate       int64 `json:"approximate"`
	Unexplained       int64 `json:"unexplained"`
	ValuesUnconverted int64 `json:"values_unconverted"`
}

// Policy is one policy's estimates.
type Policy struct {
	RewardRate       Interval `json:"reward_rate"`
	ValuePerDecision Interval `json:"value_per_decision"`
}

// Interval is an estimate and its 95% interval.
type Interval struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// MarshalJSON writes NaN (no estimate) as null.
func (i Interval) MarshalJSON() ([]byte, error) {
	f := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		Value *float64 `json:"value"`
		Lo    *float64 `json:"lo"`
		Hi    *float64 `json:"hi"`
	}{f(i.Value), f(i.Lo), f(i.Hi)})
}

// MarshalJSON writes an infinite increase (from nothing) as null.
func (s SpendRow) MarshalJSON() ([]byte, error) {
	type row SpendRow
	var inc any = s.IncreasePct
	if math.IsInf(s.IncreasePct, 0) || math.IsNaN(s.IncreasePct) {
		inc = nil
	}
	return json.Marshal(struct {
		row
		IncreasePct any `json:"increase_pct"`
	}{row(s), inc})
}

// spendTotals converts the spend of every currency to rs's currency with
// its rates; without a currency in rs, the total is the spend of the one
// cart currency, and there is none (NaN) for carts in several. Amounts of
// two currencies are never added as they are: a currency that does not
// convert (no rate; several without a currency in rs) is left out of the
// total, and its change counts in unsummedPct.
func (r *Report) spendTotals(rs *rules.Ruleset) {
	common := rs.Currency
	if common == "" && len(r.Spend) == 1 {
		common = r.Spend[0].Currency
	}
	if common == "" && len(r.Spend) > 1 {
		r.spendRecorded, r.spendCandidate = math.NaN(), math.NaN()
	}
	for _, s := range r.Spend {
		f := 1.0
		if s.Currency != common {
			rate, ok := rs.Rates[s.Currency]
			if rs.Currency == "" || !ok {
				if !r.unsummed || s.IncreasePct > r.unsummedPct {
					r.unsummed, r.unsummedPct = true, s.IncreasePct
				}
				continue
			}
			f = rate.Float()
		}
		r.spendRecorded += s.Recorded.Major() * f
		r.spendCandidate += s.Candidate.Major() * f
	}
}

// spendIncreasePct is the change of the spend's total in percent, or the
// change of a currency left out of it when that is larger (or there is
// no total).
func (r *Report) spendIncreasePct() float64 {
	inc := pct(r.spendRecorded, r.spendCandidate)
	if u := r.unsummedPct; r.unsummed && (math.IsNaN(inc) || u > inc) {
		return u
	}
	return inc
}

// MetricNames are the names --fail-if expressions read, with what they
// mean (docs/replay.md lists them).
var MetricNames = map[string]string{
	"decisions":                    "decisions replayed",
	"changed":                      "decisions whose answer changed",
	"changed_pct":                  "changed, in percent of the decisions replayed",
	"grants_recorded":              "grants of every offer, recorded",
	"grants_candidate":             "grants of every offer, under the candidate",
	"grants_change_pct":            "change of the grants, in percent",
	"offers_removed":               "offers granted in the recording that the candidate never grants",
	"offers_added":                 "offers the candidate grants that were never granted in the recording",
	"spend_recorded":               "discount spend recorded, in the candidate's currency (rates)",
	"spend_candidate":              "discount spend under the candidate, in the candidate's currency",
	"spend_increase_pct":           "change of that spend, in percent (at least that of a currency it could not convert)",
	"max_spend_increase_pct":       "the largest change of spend among the cart currencies, in percent",
	"reward_rate_recorded":         "reward rate of the recorded policy",
	"reward_rate_candidate":        "estimated reward rate of the candidate",
	"reward_rate_candidate_lo":     "lower end of its 95% interval",
	"reward_rate_candidate_hi":     "upper end of its 95% interval",
	"reward_rate_change_pct":       "change of the reward rate, in percent",
	"value_per_decision_recorded":  "value per decision of the recorded policy",
	"value_per_decision_candidate": "estimated value per decision of the candidate",
	"value_per_decision_lo":        "lower end of its 95% interval",
	"value_per_decision_hi":        "upper end of its 95% interval",
	"value_change_pct":             "change of the value per decision, in percent",
	"matching":                     "decisions whose recorded answer the candidate may give",
	"matching_pct":                 "matching, in percent of the decisions in the estimate",
	"ess":                          "effective sample size of the estimate",
	"missing_profile_fields":       "profile fields the candidate reads that the events lack",
	"ledger_unavailable":           "decisions production made without the ledger, replayed without it",
}

// Metrics returns the values of MetricNames. An estimate that cannot be
// made (no matching decision; for the recorded policy, no decision) is
// NaN: a comparison with it is false.
func (r *Report) Metrics() map[string]float64 {
	var gr, gc int64
	removed, added := 0, 0
	for _, o := range r.Offers {
		gr += o.Recorded
		gc += o.Candidate
		if o.Recorded > 0 && o.Candidate == 0 {
			removed++
		}
		if o.Recorded == 0 && o.Candidate > 0 {
			added++
		}
	}
	maxInc := 0.0
	for _, s := range r.Spend {
		maxInc = math.Max(maxInc, s.IncreasePct)
	}
	e := &r.Estimate
	m := map[string]float64{
		"decisions":                    float64(r.Decisions.Replayed),
		"changed":                      float64(r.Changed.Count),
		"changed_pct":                  r.Changed.Pct,
		"grants_recorded":              float64(gr),
		"grants_candidate":             float64(gc),
		"grants_change_pct":            pct(float64(gr), float64(gc)),
		"offers_removed":               float64(removed),
		"offers_added":                 float64(added),
		"spend_recorded":               r.spendRecorded,
		"spend_candidate":              r.spendCandidate,
		"spend_increase_pct":           r.spendIncreasePct(),
		"max_spend_increase_pct":       maxInc,
		"reward_rate_recorded":         e.Recorded.RewardRate.Value,
		"reward_rate_candidate":        e.Candidate.RewardRate.Value,
		"reward_rate_candidate_lo":     e.Candidate.RewardRate.Lo,
		"reward_rate_candidate_hi":     e.Candidate.RewardRate.Hi,
		"reward_rate_change_pct":       pct(e.Recorded.RewardRate.Value, e.Candidate.RewardRate.Value),
		"value_per_decision_recorded":  e.Recorded.ValuePerDecision.Value,
		"value_per_decision_candidate": e.Candidate.ValuePerDecision.Value,
		"value_per_decision_lo":        e.Candidate.ValuePerDecision.Lo,
		"value_per_decision_hi":        e.Candidate.ValuePerDecision.Hi,
		"value_change_pct":             pct(e.Recorded.ValuePerDecision.Value, e.Candidate.ValuePerDecision.Value),
		"matching":                     float64(e.Matching),
		"matching_pct":                 100 * float64(e.Matching) / math.Max(1, float64(e.Decisions)),
		"ess":                          e.ESS,
		"missing_profile_fields":       float64(len(r.Decisions.MissingProfileFields)),
		"ledger_unavailable":           float64(r.Decisions.LedgerUnavailable),
	}
	return m
}

// Condition is a compiled --fail-if expression.
type Condition struct {
	Source string
	prog   *vm.Program
}

// CompileCondition compiles a --fail-if expression over MetricNames
// (`spend_increase_pct > 10`, `reward_rate_candidate_hi < reward_rate_recorded`).
func CompileCondition(src string) (*Condition, error) {
	env := map[string]float64{}
	for k := range MetricNames {
		env[k] = 0
	}
	prog, err := expr.Compile(src, expr.Env(env), expr.AsBool())
	if err != nil {
		names := make([]string, 0, len(MetricNames))
		for k := range MetricNames {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("--fail-if %q: %v\n(a condition over the metrics %s, e.g. 'spend_increase_pct > 10')", src, err, strings.Join(names, ", "))
	}
	return &Condition{Source: src, prog: prog}, nil
}

// Eval reports whether the condition holds for the metrics m.
func (c *Condition) Eval(m map[string]float64) (bool, error) {
	out, err := expr.Run(c.prog, m)
	if err != nil {
		return false, fmt.Errorf("--fail-if %q: %w", c.Source, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// WriteText writes the report as aligned tables.
func (r *Report) WriteText(w io.Writer) error {
	d := &r.Decisions
	fmt.Fprintf(w, "Decisions: %d read, %d replayed", d.Read, d.Replayed)
	if sk := d.SkippedSchema1 + d.SkippedTruncated + d.SkippedNoRequest + d.SkippedInvalid + d.SkippedDuplicate; sk > 0 {
		fmt.Fprintf(w, ", %d skipped (schema 1: %d, truncated: %d, no request: %d, invalid: %d, stored twice: %d)", sk,
			d.SkippedSchema1, d.SkippedTruncated, d.SkippedNoRequest, d.SkippedInvalid, d.SkippedDuplicate)
	}
	fmt.Fprintf(w, "; %d outcomes (%d about decisions not replayed", d.Outcomes, d.OutcomesUnmatched)
	if d.OutcomesDuplicate > 0 {
		fmt.Fprintf(w, ", %d stored twice", d.OutcomesDuplicate)
	}
	fmt.Fprintln(w, ")")
	fmt.Fprintf(w, "Changed:   %d decisions get a different answer (%.1f%%)\n", r.Changed.Count, r.Changed.Pct)
	if d.LedgerUnavailable > 0 {
		fmt.Fprintf(w, "Degraded:  %d decisions were made while the ledger did not answer (ledger_unavailable): replayed without it, no capped offer granted\n",
			d.LedgerUnavailable)
	}
	if len(d.MissingProfileFields) > 0 {
		fmt.Fprintf(w, "Missing:   the candidate reads profile fields the events do not hold (defaults used): %s\n",
			strings.Join(d.MissingProfileFields, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nGrants per offer")
	fmt.Fprintln(tw, "offer\trecorded\tcandidate\tchange\t")
	for _, o := range r.Offers {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", o.OfferID, o.Recorded, o.Candidate, change(float64(o.Recorded), float64(o.Candidate)))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nDiscount spend per currency")
	fmt.Fprintln(tw, "currency\trecorded\tcandidate\tchange\t")
	for _, s := range r.Spend {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", s.Currency, s.Recorded, s.Candidate, change(float64(s.Recorded.Minor), float64(s.Candidate.Minor)))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nCustomers per segment")
	fmt.Fprintln(tw, "segment\trecorded\tcandidate\tchange\t")
	for _, s := range r.Segments {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", s.Segment, s.Recorded, s.Candidate, change(float64(s.Recorded), float64(s.Candidate)))
	}
	tw.Flush()
	e := &r.Estimate
	fmt.Fprintf(w, "\nEstimate (outcome %q; 95%% intervals; π_recorded from the %s)\n", e.Reward, e.Baseline)
	fmt.Fprintln(tw, "policy\treward rate\t95% interval\tvalue per decision\t95% interval\t")
	row := func(name string, p Policy, pctFmt bool) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, pctOf(p.RewardRate.Value), span(p.RewardRate, true),
			num(p.ValuePerDecision.Value), span(p.ValuePerDecision, false))
	}
	row("recorded", e.Recorded, true)
	row("candidate", e.Candidate, true)
	tw.Flush()
	fmt.Fprintf(w, "%d decisions in the estimate, %d matching the candidate (%.1f%%), effective sample size %.0f",
		e.Decisions, e.Matching, 100*float64(e.Matching)/math.Max(1, float64(e.Decisions)), e.ESS)
	if e.Approximate > 0 || e.Unexplained > 0 {
		fmt.Fprintf(w, "; %d approximate, %d left out (the baseline does not give their recorded answer)", e.Approximate, e.Unexplained)
	}
	fmt.Fprintln(w)
	return nil
}

func change(a, b float64) string {
	switch {
	case a == b:
		return "="
	case a == 0:
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", 100*(b-a)/a)
}

func pctOf(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*x)
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x)
}

func span(i Interval, asPct bool) string {
	if math.IsNaN(i.Lo) || math.IsNaN(i.Hi) {
		return "n/a"
	}
	if asPct {
		return fmt.Sprintf("%.2f%% – %.2f%%", 100*i.Lo, 100*i.Hi)
	}
	return fmt.Sprintf("%.2f – %.2f", i.Lo, i.Hi)
}
