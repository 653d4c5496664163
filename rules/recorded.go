package rules

import (
	"sort"
	"strings"

	"github.com/arbiterhq/arbiter/exprenv"
)

// RecordedFields are the profile fields a decision event records (SPEC-LOOP
// "Decision events carry their inputs"): those the ruleset reads, in its
// expressions or in its titles and messages, except those marked
// `pii: true`, sorted by name. When an expression reads the profile other
// than by field name (profile[k]), every field but the PII ones.
func (r *Ruleset) RecordedFields() []Field { return r.recorded }

// recordedFields computes RecordedFields.
func recordedFields(schema *Schema, layout *exprenv.Layout, offers []*Offer, exps []*Experiment) []Field {
	read := map[string]bool{}
	all := layout.ReadsProfile()
	for _, ref := range layout.Flat() {
		if ref.Scope == exprenv.EnvProfile {
			read[ref.Field] = true
		}
	}
	templates := func(o *Offer) {
		for _, t := range []*Template{&o.Title, &o.Message} {
			for _, p := range t.Parts {
				if f, ok := strings.CutPrefix(p.Var, "profile."); ok {
					read[f] = true
				}
			}
		}
	}
	for _, o := range offers {
		templates(o)
	}
	for _, x := range exps {
		for _, v := range x.Variants {
			for _, o := range v.Offers {
				templates(o)
			}
		}
	}
	out := []Field{}
	for _, f := range schema.Fields {
		if !f.PII && (all || read[f.Name]) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
