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

// RecordedAt is, for each of RecordedFields, its index in Schema.Fields:
// where a profile decoded by the schema holds it (engine.Profile.LookupAt).
func (r *Ruleset) RecordedAt() []int32 { return r.recordedAt }

// ProfileAt is, for each of Env's flat names (exprenv.Layout.Flat), the
// index in Schema.Fields of the profile field it names, or -1 (a name
// outside profile, or profile.id or profile.known): what lets a decision
// read a profile decoded by the schema by position (exprenv.Input.Values).
// Nil for a Ruleset not made by Load.
func (r *Ruleset) ProfileAt() []int32 { return r.profileAt }

// SchemaNames is the names of Schema.Fields, in order (shared: not to be
// changed); nil for a Ruleset not made by Load.
func (r *Ruleset) SchemaNames() []string { return r.schemaNames }

// positions gives each of names its index in s.Fields, or -1 (s made
// by Load, with its index).
func (s *Schema) positions(names []string) []int32 {
	out := make([]int32, len(names))
	for k, name := range names {
		out[k] = -1
		if i, ok := s.index[name]; ok {
			out[k] = int32(i)
		}
	}
	return out
}

// flatProfileNames is the field of each of layout's flat names that reads
// profile, "" for the others.
func flatProfileNames(layout *exprenv.Layout) []string {
	flat := layout.Flat()
	out := make([]string, len(flat))
	for i, ref := range flat {
		if ref.Scope == exprenv.EnvProfile {
			out[i] = ref.Field
		}
	}
	return out
}

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
