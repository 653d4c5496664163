package expcounters

import (
	"context"
	"math"
	"sort"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/rules"
)

// View is the JSON of GET /v1/experiments (docs/api.md): the experiments
// of the ruleset in force with their live counters, the holdout and the
// layers.
type View struct {
	AsOf        time.Time        `json:"as_of"`
	Since       *time.Time       `json:"since"`
	Experiments []ExperimentView `json:"experiments"`
	Holdout     HoldoutView      `json:"holdout"`
	Layers      []LayerView      `json:"layers"`
}

// ExperimentView is one experiment.
type ExperimentView struct {
	ID          string        `json:"id"`
	Layer       string        `json:"layer"`
	Status      string        `json:"status"`
	Traffic     float64       `json:"traffic"`
	Variants    []VariantView `json:"variants"`
	SampleRatio SampleRatio   `json:"sample_ratio"`
}

// VariantView is one variant's counters; the first variant is the
// control (Uplift nil).
type VariantView struct {
	ID string `json:"id"`
	// Weight is nil for the groups of the holdout.
	Weight *float64 `json:"weight,omitempty"`
	GroupCounts
	Uplift *Uplift `json:"uplift"`
}

// GroupCounts are a group's counters and rates, per decision. Money is in
// Currency: the ruleset's, else the first currency (in code order) with
// revenue in any group of the experiment (of the holdout), so that the
// groups compared show one currency.
type GroupCounts struct {
	Decisions          int64          `json:"decisions"`
	Customers          int64          `json:"customers"`
	Conversions        int64          `json:"conversions"`
	OfferConversions   int64          `json:"offer_conversions"`
	ConversionRate     float64        `json:"conversion_rate"`
	Revenue            engine.Money   `json:"revenue"`
	Currency           string         `json:"currency"`
	RevenuePerDecision float64        `json:"revenue_per_decision"`
	RevenueByCurrency  map[string]any `json:"revenue_by_currency"`
}

// Uplift is a group's difference from the control, per decision, with
// fixed 95% intervals (decisions counted as independent: see
// docs/experiments.md).
type Uplift struct {
	ConversionRate     float64     `json:"conversion_rate"`
	CI95               [2]float64  `json:"ci95"`
	RevenuePerDecision *float64    `json:"revenue_per_decision,omitempty"`
	RevenueCI95        *[2]float64 `json:"revenue_ci95,omitempty"`
}

// SampleRatio is the check of the customers per variant against the
// weights, with the HyperLogLog's error allowed for.
type SampleRatio struct {
	P        *float64 `json:"p_value"`
	Mismatch bool     `json:"mismatch"`
}

// HoldoutView is the holdout's groups.
type HoldoutView struct {
	Percent float64     `json:"percent"`
	HeldOut GroupCounts `json:"held_out"`
	Served  GroupCounts `json:"served"`
	Uplift  *Uplift     `json:"uplift"`
}

// LayerView is one layer: its experiments and the share of its buckets
// they take.
type LayerView struct {
	ID          string   `json:"id"`
	Experiments []string `json:"experiments"`
	Traffic     float64  `json:"traffic"`
}

// hllError is the relative standard error of a Redis HyperLogLog.
const hllError = 0.0081

// NewView joins the ruleset's experiments with the counters.
func NewView(rs *rules.Ruleset, s *Snapshot, now time.Time) *View {
	v := &View{AsOf: now.UTC(), Experiments: []ExperimentView{}, Layers: []LayerView{}}
	if s == nil {
		s = &Snapshot{Groups: map[string]*Group{}}
	}
	if !s.Since.IsZero() {
		t := s.Since.UTC()
		v.Since = &t
	}
	currency := ""
	if rs != nil {
		currency = rs.Currency
	}
	layers := map[string]*LayerView{}
	if rs != nil {
		for _, x := range rs.Experiments {
			ev := ExperimentView{ID: x.ID, Layer: x.Layer, Status: "running", Traffic: x.Traffic, Variants: []VariantView{}}
			if x.Status == rules.ExperimentStopped {
				ev.Status = x.Status
			}
			var obs []float64
			var ws []float64
			var ctl *Group
			groups := make([]*Group, len(x.Variants))
			for i, vr := range x.Variants {
				groups[i] = s.Groups[GroupOf(x.ID, vr.ID)]
			}
			cur := currencyOf(currency, groups...)
			for i, vr := range x.Variants {
				w := vr.Weight
				g := groups[i]
				vv := VariantView{ID: vr.ID, Weight: &w, GroupCounts: counts(g, cur)}
				if i == 0 {
					ctl = g
				} else {
					vv.Uplift = uplift(ctl, g, vv.Currency)
				}
				ev.Variants = append(ev.Variants, vv)
				obs, ws = append(obs, float64(vv.Customers)), append(ws, w)
			}
			ev.SampleRatio = sampleRatio(obs, ws)
			v.Experiments = append(v.Experiments, ev)
			if x.Layer != "" {
				l := layers[x.Layer]
				if l == nil {
					l = &LayerView{ID: x.Layer, Experiments: []string{}}
					layers[x.Layer] = l
				}
				l.Experiments = append(l.Experiments, x.ID)
				if x.To >= x.From {
					l.Traffic += float64(x.To-x.From+1) / 100
				}
			}
		}
		v.Holdout.Percent = rs.Arbitration.Holdout
	}
	ho, sv := s.Groups[HoldoutHeldOut], s.Groups[HoldoutServed]
	hcur := currencyOf(currency, ho, sv)
	v.Holdout.HeldOut, v.Holdout.Served = counts(ho, hcur), counts(sv, hcur)
	v.Holdout.Uplift = uplift(ho, sv, v.Holdout.Served.Currency)
	names := make([]string, 0, len(layers))
	for n := range layers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v.Layers = append(v.Layers, *layers[n])
	}
	return v
}

// currencyOf is the currency the groups compared are shown in: the
// ruleset's, else the first in code order with revenue in any of them ("":
// none has any).
func currencyOf(ruleset string, gs ...*Group) string {
	if ruleset != "" {
		return ruleset
	}
	first := ""
	for _, g := range gs {
		if g == nil {
			continue
		}
		for cur := range g.Revenue {
			if first == "" || cur < first {
				first = cur
			}
		}
	}
	return first
}

// counts fills a group's counters and rates, money in currency.
func counts(g *Group, currency string) GroupCounts {
	c := GroupCounts{RevenueByCurrency: map[string]any{}}
	if g == nil {
		c.Currency = currency
		return c
	}
	c.Decisions, c.Customers, c.Conversions, c.OfferConversions = g.Decisions, g.Customers, g.Conversions, g.OfferConversions
	if c.Decisions > 0 {
		c.ConversionRate = float64(c.Conversions) / float64(c.Decisions)
	}
	curs := make([]string, 0, len(g.Revenue))
	for cur := range g.Revenue {
		curs = append(curs, cur)
	}
	sort.Strings(curs)
	for _, cur := range curs {
		exp, _ := engine.CurrencyExp(cur)
		c.RevenueByCurrency[cur] = engine.Money{Minor: g.Revenue[cur], Exp: exp}
	}
	c.Currency = currency
	exp, _ := engine.CurrencyExp(c.Currency)
	c.Revenue = engine.Money{Minor: g.Revenue[c.Currency], Exp: exp}
	if c.Decisions > 0 {
		c.RevenuePerDecision = c.Revenue.Major() / float64(c.Decisions)
	}
	return c
}

// uplift compares b with the control a, per decision.
// There is none when a group has more conversions than decisions (a
// decision converted twice, or before the counters began): its rate is no
// proportion, and its interval would be NaN, which JSON cannot carry.
func uplift(a, b *Group, currency string) *Uplift {
	if a == nil || b == nil || a.Decisions < 2 || b.Decisions < 2 || a.Conversions > a.Decisions || b.Conversions > b.Decisions {
		return nil
	}
	pt := report.TwoProportion(int(a.Conversions), int(a.Decisions), int(b.Conversions), int(b.Decisions))
	if !pt.Valid {
		return nil
	}
	u := &Uplift{ConversionRate: pt.Diff, CI95: [2]float64{pt.Low, pt.High}}
	if currency != "" {
		wt := report.Welch(sample(a, currency), sample(b, currency))
		if wt.Valid {
			d := wt.Diff
			u.RevenuePerDecision, u.RevenueCI95 = &d, &[2]float64{wt.Low, wt.High}
		}
	}
	return u
}

// sample is a group's revenue per decision as a sample: mean S/n and
// variance (Q - n·mean²)/(n-1), from the sum S and the sum of squares Q.
func sample(g *Group, currency string) report.Sample {
	exp, _ := engine.CurrencyExp(currency)
	n := float64(g.Decisions)
	mean := engine.Money{Minor: g.Revenue[currency], Exp: exp}.Major() / n
	v := (g.RevenueSquares[currency] - n*mean*mean) / (n - 1)
	return report.Sample{N: int(g.Decisions), Mean: mean, Var: math.Max(0, v)}
}

// sampleRatio is Pearson's chi-square of the customers per variant
// against the weights, each cell's variance widened by the HyperLogLog's
// error ((0.81%·e)² added to e), so that the estimate's noise is not read as
// a mismatch; mismatch when p < 0.001. A variant of weight 0 without
// customers (paused: the assignment gives it no one) is left out of the
// test; one with customers leaves the check undone (p null).
func sampleRatio(obs, ws []float64) SampleRatio {
	var n, w float64
	groups := 0
	for i := range obs {
		switch {
		case ws[i] == 0 && obs[i] == 0:
			continue
		case !(ws[i] > 0):
			return SampleRatio{}
		}
		groups++
		n += obs[i]
		w += ws[i]
	}
	if groups < 2 || n == 0 {
		return SampleRatio{}
	}
	var chi2 float64
	for i := range obs {
		if ws[i] == 0 {
			continue
		}
		e := n * ws[i] / w
		chi2 += (obs[i] - e) * (obs[i] - e) / (e + hllError*hllError*e*e)
	}
	p := distuv.ChiSquared{K: float64(groups - 1)}.Survival(chi2)
	return SampleRatio{P: &p, Mismatch: p < report.SRMThreshold}
}

// View reads the counters and returns the view of rs's experiments at now:
// what GET /v1/experiments answers.
func (c *Counters) View(ctx context.Context, rs *rules.Ruleset, now time.Time) (any, error) {
	snap, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	return NewView(rs, snap, now), nil
}
