package rules

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// compileTests reads the rule tests. Profile and Request are kept as
// encoding/json would decode them: maps, []any, float64 numbers, strings
// (a YAML time or date is the string written), bools and nil.
func (l *loader) compileTests(c *exprCompiler, nodes []*yaml.Node, fileNow map[*yaml.Node]time.Time, offers map[string]*Offer, exps []*Experiment) []TestCase {
	var out []TestCase
	offerIDs := make([]string, 0, len(offers))
	for id := range offers {
		offerIDs = append(offerIDs, id)
	}
	sort.Strings(offerIDs)
	expIDs := make([]string, 0, len(exps))
	expByID := map[string]*Experiment{}
	for _, e := range exps {
		expIDs = append(expIDs, e.ID)
		expByID[e.ID] = e
	}
	for i, n := range nodes {
		fs, ok := l.mapping(n, "a rule test", testDef)
		if !ok {
			continue
		}
		tc := TestCase{Pos: l.pos(fs.node)}
		if v := fs.get("name"); v != nil {
			tc.Name, _ = l.str(v, "test name")
		} else {
			tc.Name = fmt.Sprintf("test %d", i+1)
			l.errf(fs.node, "add `name: what this case shows`", "rule test has no name")
		}
		what := "test `" + tc.Name + "`"
		caseNow := fs.get("now")
		if caseNow != nil {
			if t, ok := l.timestamp(caseNow, what+": now"); ok {
				tc.Now = t
			}
		}
		tc.Places = map[string]Pos{}
		if v := fs.get("profile"); v != nil && !isNull(l.deref(v)) {
			l.places(tc.Places, "profile", v, 0)
			l.testProfileFields(c.schema, v, what)
			if m, ok := l.jsonMap(v, what+": profile"); ok {
				if id := l.numericID(v); id != "" {
					m["id"] = id
				}
				tc.Profile = m
			}
		}
		if v := fs.get("request"); v != nil && !isNull(l.deref(v)) {
			l.places(tc.Places, "request", v, 0)
			if m, ok := l.jsonMap(v, what+": request"); ok {
				tc.Request = m
			}
		} else {
			tc.Request = map[string]any{}
		}
		if caseNow == nil && tc.Request["now"] == nil {
			// the file's now is the default of its cases: below the case's
			// own and its request's (zero when the file sets none either)
			tc.Now = fileNow[n]
		}
		if v := fs.get("expect"); v != nil {
			tc.Expect = l.compileExpect(c, v, what, offers, offerIDs, expByID, expIDs)
		} else {
			l.errf(fs.node, "add `expect:` with segments, actions, discount_total, ...", "%s has no expect", what)
		}
		out = append(out, tc)
	}
	return out
}

func (l *loader) compileExpect(c *exprCompiler, n *yaml.Node, what string, offers map[string]*Offer, offerIDs []string, exps map[string]*Experiment, expIDs []string) Expect {
	var e Expect
	what += ": expect"
	fs, ok := l.mapping(n, what, expectDef)
	if !ok {
		return e
	}
	if d := l.deref(n); d != nil && d.Kind == yaml.MappingNode && len(d.Content) == 0 {
		// a case that checks nothing passes whatever the rules decide
		l.errf(n, "write what must hold: segments, not_segments, actions, discount_total, experiments or holdout (`actions: []` for no action)",
			"%s checks nothing", what)
		return e
	}
	segs := func(key string) []string {
		v := fs.get(key)
		if v == nil {
			return nil
		}
		ids, nodes, ok := l.strList(v, what+"."+key)
		if !ok {
			return nil
		}
		for i, id := range ids {
			if !c.segSet[id] {
				l.refErr(nodes[i], "segment:"+id, didYouMean(id, c.segIDs, ""), "%s.%s: unknown segment `%s`", what, key, id)
			}
		}
		return ids
	}
	e.Segments = segs("segments")
	e.NotSegments = segs("not_segments")
	if v := fs.get("actions"); v != nil {
		ids, nodes, ok := l.strList(v, what+".actions")
		if ok {
			for i, id := range ids {
				if _, known := offers[id]; !known {
					l.refErr(nodes[i], "offer:"+id, didYouMean(id, offerIDs, ""), "%s.actions: unknown offer `%s`", what, id)
				}
			}
			e.Actions = ids
		}
	}
	if v := fs.get("discount_total"); v != nil {
		if f, ok := l.num(v, what+".discount_total"); ok && f < 0 {
			l.errf(v, "a discount total is never negative: write 0 for no discount", "%s.discount_total must be 0 or more, got %s", what, strconv.FormatFloat(f, 'f', -1, 64))
		} else if ok {
			e.DiscountTotal = &f
		}
	}
	if v := fs.get("holdout"); v != nil {
		if b, ok := l.boolean(v, what+".holdout"); ok {
			e.Holdout = &b
		}
	}
	if v := fs.get("experiments"); v != nil {
		es, ok := l.entries(v, what+".experiments")
		if ok {
			e.Experiments = map[string]string{}
			for _, en := range es {
				k := l.deref(en.key)
				if k == nil || k.Kind != yaml.ScalarNode {
					continue
				}
				variant, ok := l.str(en.val, what+".experiments."+k.Value)
				if !ok {
					continue
				}
				exp, known := exps[k.Value]
				if !known {
					l.refErr(k, "experiment:"+k.Value, didYouMean(k.Value, expIDs, ""), "%s.experiments: unknown experiment `%s`", what, k.Value)
				} else if variant != "" {
					var vids []string
					found := false
					for _, vv := range exp.Variants {
						vids = append(vids, vv.ID)
						found = found || vv.ID == variant
					}
					if !found {
						l.errf(en.val, didYouMean(variant, vids, ""), "%s.experiments: experiment `%s` has no variant `%s`", what, k.Value, variant)
					}
				}
				e.Experiments[k.Value] = variant
			}
		}
	}
	return e
}

// jsonMap decodes a mapping as encoding/json would decode its JSON form.
// places records where the value n at path, and each value under it, is
// written (TestCase.Places).
func (l *loader) places(out map[string]Pos, path string, n *yaml.Node, depth int) {
	n = l.deref(n)
	if n == nil || depth > 32 {
		return
	}
	out[path] = l.pos(n)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value != "<<" {
				l.places(out, path+"."+k.Value, n.Content[i+1], depth+1)
			}
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			l.places(out, path+"["+strconv.Itoa(i)+"]", e, depth+1)
		}
	}
}

func (l *loader) jsonMap(n *yaml.Node, what string) (map[string]any, bool) {
	d := l.deref(n)
	if d == nil || d.Kind != yaml.MappingNode {
		l.errf(n, "", "%s must be a mapping, got %s", what, describe(d))
		return nil, false
	}
	v, err := l.plainText(d)
	if err != nil {
		l.errf(n, "", "%s: %v", what, err)
		return nil, false
	}
	m, ok := jsonify(v).(map[string]any)
	return m, ok
}

func jsonify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonify(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonify(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

// numericID is the text of a profile's id written as a number (id: 0012345),
// which YAML would read as the octal 5349, or a 20-digit id as a rounded
// float: a customer id is the text written. "" when the id is not a
// number.
func (l *loader) numericID(v *yaml.Node) string {
	d := l.deref(v)
	if d == nil || d.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(d.Content); i += 2 {
		if k := l.deref(d.Content[i]); k != nil && k.Value == "id" {
			if n := l.deref(d.Content[i+1]); n != nil && n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
				return n.Value
			}
		}
	}
	return ""
}

// testProfileFields reports the fields of a rule test's profile that the
// schema does not declare: dropped, they would read as their defaults and
// the test would pass for the wrong reason.
func (l *loader) testProfileFields(schema *Schema, v *yaml.Node, what string) {
	d := l.deref(v)
	if d == nil || d.Kind != yaml.MappingNode {
		return // jsonMap reports it
	}
	es, ok := l.entries(d, what+": profile")
	if !ok {
		return
	}
	for _, e := range es {
		k := l.deref(e.key)
		if k == nil || k.Kind != yaml.ScalarNode || k.Value == "id" || k.Value == "known" {
			continue
		}
		if _, ok := schema.Field(k.Value); ok {
			continue
		}
		hint := "declare it under `profile:`, or remove it"
		if s := schema.Suggest(k.Value); s != "" {
			hint = "did you mean `" + s + "`?"
		}
		l.refErr(k, "profile."+k.Value, hint, "%s: profile.%s is not a field of the profile schema", what, k.Value)
	}
}
