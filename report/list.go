package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteList writes the experiments and layers of a ruleset for `arbiter
// experiments list`: each experiment with its layer and range, traffic,
// status, variants and eligibility; each layer with the share of its
// buckets given out; and the holdout. source says where the ruleset comes
// from.
func WriteList(w io.Writer, rs *Ruleset, source string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Ruleset %s (%s)\n", rs.Version, source)
	if rs.HasHoldout {
		fmt.Fprintf(&b, "Holdout: %g%% of identified customers (report: arbiter experiments report holdout)\n", rs.Holdout)
	}
	if len(rs.Experiments) == 0 {
		b.WriteString("No experiments.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "\n%-24s %-18s %-11s %7s %-8s %s\n", "experiment", "layer", "buckets", "traffic", "status", "variants (weight)  [who]")
	type layer struct {
		ids  []string
		used int
	}
	layers := map[string]*layer{}
	for _, x := range rs.Experiments {
		status := x.Status
		if status == "" {
			status = "running"
		}
		lay, buckets := "-", "-"
		if x.Layer != "" {
			lay, buckets = x.Layer, fmt.Sprintf("%d-%d", x.From, x.To)
			l := layers[x.Layer]
			if l == nil {
				l = &layer{}
				layers[x.Layer] = l
			}
			l.ids = append(l.ids, x.ID)
			if x.To >= x.From {
				l.used += x.To - x.From + 1
			}
		}
		var vs []string
		for _, v := range x.Variants {
			vs = append(vs, fmt.Sprintf("%s (%g)", v.ID, v.Weight))
		}
		who := "everyone identified"
		if x.When != "" {
			who = x.When
		}
		fmt.Fprintf(&b, "%-24s %-18s %-11s %6g%% %-8s %s  [%s]\n", x.ID, lay, buckets, x.Traffic, status, strings.Join(vs, ", "), who)
	}
	if len(layers) > 0 {
		names := make([]string, 0, len(layers))
		for n := range layers {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\n%-18s %8s  %s\n", "layer", "traffic", "experiments (mutually exclusive)")
		for _, n := range names {
			l := layers[n]
			fmt.Fprintf(&b, "%-18s %7g%%  %s\n", n, float64(l.used)/100, strings.Join(l.ids, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
