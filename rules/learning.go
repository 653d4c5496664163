package rules

import (
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Learning arbitration (SPEC-LOOP "Learning arbitration"): the
// `arbitration.learning` section, and `learning: false` on an experiment's
// variant.

// The keys of arbitration.learning and its prior, from the key table.
var (
	learningKeys = learningDef.names()
	priorKeys    = priorDef.names()
)

// Defaults and bounds of arbitration.learning.
const (
	DefaultLearningRefresh = 10 * time.Second
	MinLearningRefresh     = time.Second
	MaxLearningRefresh     = time.Hour
	// MinHalfLife is a day: statistics are kept per UTC day and weighed
	// by the age of their day, so a shorter half-life cannot be honoured.
	MinHalfLife = 24 * time.Hour
	MaxPrior    = 1e6
	// CellAll is the cell of a decision that matched none of `by`.
	CellAll = "all"
)

// Learning rewards: the outcome types that count as a success.
const (
	RewardConverted = "converted"
	RewardAccepted  = "accepted"
)

// LearningReward is the outcome type that counts as a learning success:
// the rules' `reward`, RewardConverted by default; "" when they do not
// learn.
func (rs *Ruleset) LearningReward() string {
	if rs.Arbitration.Learning == nil {
		return ""
	}
	if r := rs.Arbitration.Learning.Reward; r != "" {
		return r
	}
	return RewardConverted
}

// IsTruthFile reports whether a file beside the rules is a truth file of
// `arbiter simulate` (its name ends in _truth.yaml or _truth.yml), which
// Compile leaves out.
func IsTruthFile(path string) bool {
	return strings.HasSuffix(path, "_truth.yaml") || strings.HasSuffix(path, "_truth.yml")
}

// IsTrafficFile reports whether a file beside the rules is a traffic file
// of `arbiter simulate --traffic` (its name ends in _traffic.yaml or
// _traffic.yml), which Compile leaves out.
func IsTrafficFile(path string) bool {
	return strings.HasSuffix(path, "_traffic.yaml") || strings.HasSuffix(path, "_traffic.yml")
}

// PriorMean is the mean of the prior Beta(PriorAlpha, PriorBeta): the
// propensity of an offer without statistics.
func (lr *Learning) PriorMean() float64 {
	return lr.PriorAlpha / (lr.PriorAlpha + lr.PriorBeta)
}

// learningNode returns the value of the `learning` key of the arbitration
// section, or nil; it reports nothing (compileArbitration and
// compileLearning do).
func (l *loader) learningNode(arb *yaml.Node) *yaml.Node {
	d := l.deref(arb)
	if d == nil || d.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(d.Content); i += 2 {
		if k := l.deref(d.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == "learning" {
			if v := d.Content[i+1]; !isNull(l.deref(v)) {
				return v
			}
			return nil
		}
	}
	return nil
}

// compileLearning reads arbitration.learning; nil when n is nil.
func (l *loader) compileLearning(c *exprCompiler, n *yaml.Node) *Learning {
	if n == nil {
		return nil
	}
	const what = "arbitration.learning"
	lr := &Learning{Method: LearnThompson, Reward: RewardConverted, PriorAlpha: 1, PriorBeta: 1,
		Refresh: DefaultLearningRefresh, Pos: l.pos(l.deref(n))}
	fs, ok := l.mapping(n, what, learningDef)
	if !ok {
		return lr
	}
	if v := fs.get("method"); v != nil {
		if s, ok := l.str(v, what+".method"); ok {
			switch s {
			case LearnThompson, LearnMean:
				lr.Method = s
			default:
				l.errf(v, didYouMean(s, []string{LearnThompson, LearnMean}, ""), "%s.method must be `thompson` or `mean`, got %q", what, s)
			}
		}
	}
	if v := fs.get("reward"); v != nil {
		if s, ok := l.str(v, what+".reward"); ok {
			switch s {
			case RewardConverted, RewardAccepted:
				lr.Reward = s
			default:
				l.errf(v, didYouMean(s, []string{RewardConverted, RewardAccepted}, ""),
					"%s.reward must be `converted` or `accepted` (the outcome type that counts as a success), got %q", what, s)
			}
		}
	}
	if v := fs.get("by"); v != nil {
		ids, nodes, _ := l.strList(v, what+".by")
		seen := map[string]bool{}
		for i, id := range ids {
			switch {
			case id == CellAll:
				l.errf(nodes[i], "leave it out: a decision that matches none of `by` is in the cell `all`",
					"%s.by: `all` is the cell of everyone else, not a segment", what)
			case !c.segSet[id]:
				l.refErr(nodes[i], "segment:"+id, didYouMean(id, c.segIDs, ""), "%s: unknown segment `%s`", what+".by", id)
			case seen[id]:
				l.errf(nodes[i], "remove one of them", "%s.by names `%s` twice", what, id)
			default:
				seen[id] = true
				lr.By = append(lr.By, id)
			}
		}
	}
	if v := fs.get("prior"); v != nil {
		if pfs, ok := l.mapping(v, what+".prior", priorDef); ok {
			for _, k := range priorKeys {
				pn := pfs.get(k)
				if pn == nil {
					continue
				}
				f, ok := l.num(pn, what+".prior."+k)
				if !ok {
					continue
				}
				if !(f > 0) || f > MaxPrior {
					l.errf(pn, "1 is the uniform prior; {alpha: 1, beta: 19} says about 5%", "%s.prior.%s must be more than 0 and at most %g, got %s", what, k, MaxPrior, l.deref(pn).Value)
					continue
				}
				if k == "alpha" {
					lr.PriorAlpha = f
				} else {
					lr.PriorBeta = f
				}
			}
		}
	}
	if v := fs.get("refresh"); v != nil {
		if d, ok := l.duration(v, what+".refresh"); ok {
			if d < MinLearningRefresh || d > MaxLearningRefresh {
				l.errf(v, "10s is the default", "%s.refresh must be between 1s and 1h, got %s", what, l.deref(v).Value)
			} else {
				lr.Refresh = d
			}
		}
	}
	if v := fs.get("half_life"); v != nil {
		if d, ok := l.duration(v, what+".half_life"); ok {
			if d < MinHalfLife {
				l.errf(v, "leave it out for no decay; 14d forgets a season",
					"%s.half_life must be at least 1d (trials and successes are kept per day, and weighed by the age of their day), got %s", what, l.deref(v).Value)
			} else {
				lr.HalfLife = d
			}
		}
	}
	return lr
}

// duration reads a Go duration or a number of days ("14d").
func (l *loader) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := l.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := parseWindow(s)
	if err != nil || d <= 0 {
		l.errf(n, "write a duration like 10s, 90m or 14d (days)", "%s must be a duration, got %q", what, s)
		return 0, false
	}
	return d, true
}

// variantLearning reads a variant's `learning`: only false means
// anything, and only when the rules learn.
func (l *loader) variantLearning(n *yaml.Node, what string, learns bool) *bool {
	b, ok := l.boolean(n, what)
	if !ok {
		return nil
	}
	if !learns {
		l.errf(n, "add `learning:` under `arbitration:`, or remove this line",
			"%s: the rules do not learn (no `arbitration.learning`), so `learning` has nothing to turn off", what)
		return nil
	}
	return &b
}

// LearningOffers lists, sorted, the offers whose score reads propensity,
// in the ruleset or in an experiment's variant: those whose statistics a
// replica loads. Nil when the ruleset does not learn.
func (r *Ruleset) LearningOffers() []string {
	if r.Arbitration.Learning == nil {
		return nil
	}
	set := map[string]bool{}
	for _, o := range r.Offers {
		if o.ReadsPropensity {
			set[o.ID] = true
		}
	}
	for _, x := range r.Experiments {
		for _, v := range x.Variants {
			for _, o := range v.Offers {
				if o.ReadsPropensity {
					set[o.ID] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// markLearners sets Learns on every offer of LearningOffers, and on every
// variant's override of one: a variant whose own score does not read
// `propensity` still makes trials of the offer's grants.
func (r *Ruleset) markLearners() {
	ids := r.LearningOffers()
	if len(ids) == 0 {
		return
	}
	learns := func(id string) bool { _, ok := slices.BinarySearch(ids, id); return ok }
	for _, o := range r.Offers {
		o.Learns = learns(o.ID)
	}
	for _, x := range r.Experiments {
		for _, v := range x.Variants {
			for _, o := range v.Offers {
				o.Learns = learns(o.ID)
			}
		}
	}
}
