package rules

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/decisionid"
)

// mergeNodes lays override over base: mappings merge key by key, anything
// else is replaced. In a discount, an override that names a discount type
// (percent, amount, tiers, buy_x_get_y, free_shipping) replaces the base's
// type, keeping items, and max_amount only when the new type is percent
// (the cap goes with percent alone, so a capped percent offer could not
// otherwise become another type); a max_amount written per currency is
// replaced whole, never merged entry by entry (max_amount: null, no
// maximum, takes the cap off).
func (l *loader) mergeNodes(base, over *yaml.Node, inDiscount bool) *yaml.Node {
	b, o := l.deref(base), l.deref(over)
	if b == nil || o == nil || b.Kind != yaml.MappingNode || o.Kind != yaml.MappingNode {
		return over
	}
	bes, _ := l.entries(b, "a mapping")
	oes, _ := l.entries(o, "a mapping")
	overType, overPercent := false, false
	if inDiscount {
		for _, e := range oes {
			if ek := l.deref(e.key); ek != nil && isDiscountType(ek.Value) {
				overType = true
				overPercent = overPercent || ek.Value == "percent"
			}
		}
	}
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: o.Line, Column: o.Column}
	l.nodeFile[merged] = l.nodeFile[o]
	find := func(es []entry, key string) *entry {
		for i := range es {
			if k := l.deref(es[i].key); k != nil && k.Value == key {
				return &es[i]
			}
		}
		return nil
	}
	for _, e := range bes {
		k := l.deref(e.key)
		if k == nil {
			continue
		}
		if overType && isDiscountType(k.Value) {
			continue
		}
		oe := find(oes, k.Value)
		if inDiscount && k.Value == "max_amount" {
			switch {
			case oe != nil:
				merged.Content = append(merged.Content, oe.key, oe.val) // a money map is one value: replaced whole
			case overType && !overPercent: // the cap of a percent offer made another type
			default:
				merged.Content = append(merged.Content, e.key, e.val)
			}
		} else if oe != nil {
			merged.Content = append(merged.Content, oe.key, l.mergeNodes(e.val, oe.val, k.Value == "discount"))
		} else {
			merged.Content = append(merged.Content, e.key, e.val)
		}
	}
	for _, e := range oes {
		k := l.deref(e.key)
		if k == nil {
			continue
		}
		if overType && isDiscountType(k.Value) || find(bes, k.Value) == nil {
			merged.Content = append(merged.Content, e.key, e.val)
		}
	}
	return merged
}

// overrideErrs makes the errors recorded from l.errs[from:], in compiling
// the override (key: the offer's id, val: the override) laid over the
// offer as merged, the variant's (vw names it): each names the experiment,
// the variant and the offer, since the offer's own name alone would send
// the reader to the offer. The override's own mistakes stay where they are
// written. An error at a key of the offer that the override keeps, caused
// by the override (a {{percent}} in the offer's title once the override
// makes it an amount offer), moves to the override and says where the
// offer writes that key. An error the offer itself has was reported when
// the offer was compiled, and is dropped here.
func (l *loader) overrideErrs(from int, vw string, key, val, merged *yaml.Node) {
	offerWhat := "offer `" + key.Value + "`"
	what := vw + ": override of `" + key.Value + "`"
	own := map[Error]bool{}
	for _, e := range l.errs[:from] {
		own[Error{Pos: e.Pos, Msg: e.Msg, Hint: e.Hint}] = true
	}
	kept := l.errs[:from]
	for _, e := range l.errs[from:] {
		inOverride := l.holds(key, e.Pos) || l.holds(val, e.Pos)
		if !inOverride && own[Error{Pos: e.Pos, Msg: e.Msg, Hint: e.Hint}] {
			continue
		}
		if c, ok := writtenTooKey(e.Hint); ok && inOverride && !l.besideKey(val, e.Pos, c, 0) {
			// the key is written in the offer, not in the override
			e.Hint = "did you mean `" + c + "`? write `" + c + "` to override the offer's"
		}
		if rest, ok := strings.CutPrefix(e.Msg, offerWhat); ok {
			e.Msg = what + rest
		} else {
			e.Msg = what + ": " + e.Msg
		}
		if !inOverride {
			name := ""
			if m := l.deref(merged); m != nil && m.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(m.Content); i += 2 {
					if l.holds(m.Content[i], e.Pos) || l.holds(m.Content[i+1], e.Pos) {
						name = m.Content[i].Value
					}
				}
			}
			if name == "" {
				e.Msg += fmt.Sprintf(" (in the offer, at %s, which the override keeps)", posString(e.Pos))
			} else {
				e.Msg += fmt.Sprintf(" (in the offer's `%s` at %s, which the override keeps)", name, posString(e.Pos))
				if e.Hint == "" {
					e.Hint = "override `" + name + "` in the variant too"
				} else {
					e.Hint = "override `" + name + "` in the variant too, or " + e.Hint
				}
			}
			e.Pos = l.pos(key)
		}
		kept = append(kept, e)
	}
	l.errs = kept
}

// writtenTooKey is the key of an unknown key's hint "did you mean `c`? it
// is written too: ..." (loader.unknownKey).
func writtenTooKey(hint string) (string, bool) {
	rest, ok := strings.CutPrefix(hint, "did you mean `")
	if !ok {
		return "", false
	}
	c, tail, ok := strings.Cut(rest, "`")
	return c, ok && strings.HasPrefix(tail, "? it is written too")
}

// besideKey says whether the mapping under n that holds the key at p also
// has the key name.
func (l *loader) besideKey(n *yaml.Node, p Pos, name string, depth int) bool {
	n = l.deref(n)
	if n == nil || depth > 32 {
		return false
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if l.pos(n.Content[i]) == p {
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value == name {
						return true
					}
				}
				return false
			}
		}
	}
	for _, c := range n.Content {
		if l.besideKey(c, p, name, depth+1) {
			return true
		}
	}
	return false
}

// holds says whether p is where n or a node under it starts, or within
// the text of a scalar under it (where an expression's or a template's
// error points).
func (l *loader) holds(n *yaml.Node, p Pos) bool {
	if n == nil {
		return false
	}
	start := l.pos(n)
	if start.File != p.File {
		return false
	}
	if start == p {
		return true
	}
	if n.Kind == yaml.ScalarNode {
		if f := l.nodeFile[n]; f != nil && !posBefore(p, start) {
			return !posBefore(f.scalarPos(n, len([]rune(n.Value))), p)
		}
		return false
	}
	for _, c := range n.Content {
		if l.holds(c, p) {
			return true
		}
	}
	return false
}

// posBefore says whether a comes before b in the same file.
func posBefore(a, b Pos) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}

func isDiscountType(k string) bool {
	for _, t := range discountTypeKey {
		if t == k {
			return true
		}
	}
	return false
}

// compileExperiments compiles the experiments, sorted by id, building for
// every override a complete offer.
func (l *loader) compileExperiments(c *exprCompiler, nodes []*yaml.Node, offers map[string]*Offer, decls map[string]*yaml.Node, fallback map[string]bool) []*Experiment {
	var out []*Experiment
	var written []layerDecl // every experiment in the order written, for the layers
	first := map[string]Pos{}
	offerIDs := make([]string, 0, len(offers))
	for id := range offers {
		offerIDs = append(offerIDs, id)
	}
	sort.Strings(offerIDs)
	for _, n := range nodes {
		fs, ok := l.mapping(n, "an experiment", experimentDef)
		if !ok {
			continue
		}
		id, idn, ok := l.idOf(fs, "experiment")
		if !ok {
			continue
		}
		if p, dup := first[id]; dup {
			l.errf(idn, "choose another id", "experiment id `%s` is used twice (also at %s)", id, posString(p))
			continue
		}
		first[id] = l.pos(idn)
		what := "experiment `" + id + "`"
		if id == reservedHoldout {
			l.errf(idn, "choose another id", "experiment id `holdout` is reserved: `arbiter experiments report holdout` reports the holdout, and its salt would be the holdout's")
		}
		e := &Experiment{ID: id, Salt: id, Traffic: 100, Pos: l.pos(fs.node), Written: len(first) - 1}
		written = append(written, l.layerFields(e, fs, what))
		if v := fs.get("salt"); v != nil {
			if s, ok := l.str(v, what+": salt"); ok && s != "" { // "": the default, the id
				e.Salt = s
			}
		}
		if v := fs.get("traffic"); v != nil {
			if f, ok := l.num(v, what+": traffic"); ok {
				if f < 0 || f > 100 {
					l.errf(v, "", "%s: traffic must be between 0 and 100 (percent), got %s", what, l.deref(v).Value)
				}
				e.Traffic = f
			}
		}
		if v := fs.get("when"); v != nil {
			if r := c.compile(v, kindCond, what+": when"); r != nil {
				e.When = r.e
			}
		}
		vn := fs.get("variants")
		if vn == nil {
			l.errf(fs.node, "add variants: [{id: control, weight: 50}, {id: test, weight: 50}]", "%s has no variants", what)
			out = append(out, e)
			continue
		}
		items, ok := l.seq(vn, what+": variants")
		if ok && len(items) == 0 {
			l.errf(vn, "add at least one variant", "%s: variants is empty", what)
		}
		sum := 0.0
		weightsOK := true
		seenV := map[string]Pos{}
		for _, it := range items {
			vfs, ok := l.mapping(it, what+": a variant", variantDef)
			if !ok {
				weightsOK = false
				continue
			}
			vid, vidn, ok := l.idOf(vfs, what+": variant")
			if !ok {
				weightsOK = false
				continue
			}
			if p, dup := seenV[vid]; dup {
				l.errf(vidn, "choose another id", "%s: variant id `%s` is used twice (also at %s)", what, vid, posString(p))
			}
			seenV[vid] = l.pos(vidn)
			vw := what + ": variant `" + vid + "`"
			v := Variant{ID: vid, Pos: l.pos(vfs.node), Offers: map[int]*Offer{}}
			if ln := vfs.get("learning"); ln != nil {
				v.Learning = l.variantLearning(ln, vw+": learning", l.learns)
			}
			if wn := vfs.get("weight"); wn == nil {
				l.errf(vfs.node, "add weight: 50", "%s has no weight", vw)
				weightsOK = false
			} else if w, ok := l.num(wn, vw+": weight"); ok {
				if w < 0 {
					l.errf(wn, "", "%s: weight must be 0 or more, got %s", vw, l.deref(wn).Value)
					weightsOK = false
				}
				v.Weight = w
				sum += w
			} else {
				weightsOK = false
			}
			if on := vfs.get("offers"); on != nil && !isNull(l.deref(on)) {
				oes, ok := l.entries(on, vw+": offers")
				if ok {
					overridden := map[string]*yaml.Node{}
					for _, oe := range oes {
						k := l.deref(oe.key)
						if k == nil || k.Kind != yaml.ScalarNode {
							continue
						}
						if prev, dup := overridden[k.Value]; dup {
							l.errf(k, "merge the two overrides into one", "%s overrides offer `%s` twice (also at line %d)", vw, k.Value, l.pos(prev).Line)
							continue
						}
						overridden[k.Value] = k
						base, exists := offers[k.Value]
						if !exists {
							l.refErr(k, "offer:"+k.Value, didYouMean(k.Value, offerIDs, ""), "%s overrides unknown offer `%s`", vw, k.Value)
							continue
						}
						before := len(l.errs)
						if _, ok := l.mapping(oe.val, vw+": override of `"+k.Value+"`", overrideDef); !ok || len(l.errs) > before {
							continue
						}
						merged := l.mergeNodes(decls[k.Value], oe.val, false)
						o := l.compileOffer(c, k.Value, merged, true)
						l.overrideErrs(before, vw, k, oe.val, merged)
						if o != nil && o.Caps.Pacing != "" {
							l.overridePacingWarning(vw+": override of `"+k.Value+"`", o, oe.val)
						}
						if o != nil {
							o.Index = base.Index
							o.Pos = base.Pos
							o.Fallback = fallback[o.ID]
							v.Offers[base.Index] = o
						}
					}
				}
			}
			e.Variants = append(e.Variants, v)
		}
		if weightsOK && len(e.Variants) > 0 && math.Abs(sum-100) > 1e-9 {
			l.errf(vn, "make the weights add up to 100", "%s: the variants' weights add up to %s, not 100", what, fmtNum(sum))
		}
		out = append(out, e)
	}
	l.layoutLayers(written)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	l.idCapacityWarning(out)
	l.variantCodeCollisions(out)
	return out
}

// overridePacingWarning gives a variant's override of a paced offer the
// pacing reach warning (pacingReachWarning) when the override writes the
// schedule or the caps that cause it: a variant that narrows the days of
// a paced offer can never spend its share of the budget either. The
// warning points at the override's own schedule (its end, when written),
// else at its caps; an override that writes neither inherits the offer's
// schedule and caps, which warn at the offer already.
func (l *loader) overridePacingWarning(what string, o *Offer, over *yaml.Node) {
	d := l.deref(over)
	if d == nil || d.Kind != yaml.MappingNode {
		return
	}
	var schedule, caps *yaml.Node
	for i := 0; i+1 < len(d.Content); i += 2 {
		switch d.Content[i].Value {
		case "schedule":
			schedule = d.Content[i+1]
		case "caps":
			caps = d.Content[i+1]
		}
	}
	at := schedule
	if at == nil {
		at = caps
	}
	if at == nil {
		return
	}
	l.pacingReachWarning(what, o.Schedule, o.Caps, at)
}

// variantCodeCollisions refuses two variants whose codes in a decision id
// (decisionid.VariantCode, 25 bits of a hash) are equal: an outcome's
// variants are read back from its id's codes, so one of the two would be
// credited with the other's outcomes. About one ruleset in 100,000 with
// fifty variants; renaming either variant gives it another code.
func (l *loader) variantCodeCollisions(xs []*Experiment) {
	type owner struct {
		x *Experiment
		v *Variant
	}
	seen := map[uint32]owner{}
	for _, x := range xs {
		for i := range x.Variants {
			v := &x.Variants[i]
			code := decisionid.VariantCode(x.ID, v.ID)
			if o, dup := seen[code]; dup {
				if o.x.ID == x.ID && o.v.ID == v.ID {
					continue // a variant id written twice: reported as such
				}
				l.errAt(v.Pos, "rename one of the two variants",
					"experiment `%s` variant `%s` has the same code in decision ids as experiment `%s` variant `%s` (at %s): "+
						"outcomes could not tell them apart", x.ID, v.ID, o.x.ID, o.v.ID, posString(o.v.Pos))
				continue
			}
			seen[code] = owner{x, v}
		}
	}
}

// idCapacityWarning warns when one customer may be enrolled in more
// experiments than a decision id carries (decisionid.MaxCodes): running
// experiments without a layer, plus one per layer with a running one.
// Such a decision's id, and so its outcomes, name the variants of the
// first MaxCodes in id order only. The warning is at the experiment with
// the greatest id that may enroll, which such a decision never names.
func (l *loader) idCapacityWarning(sorted []*Experiment) {
	n := 0
	layers := map[string]bool{}
	var last *Experiment
	for _, x := range sorted {
		if x.Status == ExperimentStopped || len(x.Variants) == 0 {
			continue
		}
		last = x
		if x.Layer == "" {
			n++
		} else if !layers[x.Layer] {
			layers[x.Layer] = true
			n++
		}
	}
	if n <= decisionid.MaxCodes {
		return
	}
	l.warnings = append(l.warnings, &Error{Pos: last.Pos,
		Msg: fmt.Sprintf("up to %d experiments may enroll one customer, and a decision id carries the variants of %d: "+
			"the outcomes of a decision enrolled in more name only the first %d in id order (never experiment `%s`), "+
			"so GET /v1/experiments and the per-variant feedback statistics miss the others "+
			"(arbiter experiments report, which reads the decisions, does not)", n, decisionid.MaxCodes, decisionid.MaxCodes, last.ID),
		Hint: "put experiments that need not share customers in one layer, or stop some"})
}

func fmtNum(f float64) string { return fmt.Sprintf("%g", f) }

// compileArbitration reads the arbitration settings.
func (l *loader) compileArbitration(n *yaml.Node, offers map[string]*Offer) Arbitration {
	a := Arbitration{MaxActions: 3, MaxDiscountPercent: 100}
	if n == nil || isNull(l.deref(n)) {
		return a
	}
	fs, ok := l.mapping(n, "arbitration", arbitrationDef)
	if !ok {
		return a
	}
	if v := fs.get("max_actions"); v != nil {
		if i, ok := l.integer(v, "arbitration.max_actions"); ok {
			if i < 1 || i > 100 {
				l.errf(v, "", "arbitration.max_actions must be between 1 and 100, got %d", i)
			} else {
				a.MaxActions = int(i)
			}
		}
	}
	if v := fs.get("max_discount_percent"); v != nil {
		if f, ok := l.num(v, "arbitration.max_discount_percent"); ok {
			if f < 0 || f > 100 {
				l.errf(v, "", "arbitration.max_discount_percent must be between 0 and 100, got %s", l.deref(v).Value)
			}
			l.fractionWarning(v, "arbitration.max_discount_percent", f)
			a.MaxDiscountPercent = f
		}
	}
	if v := fs.get("holdout"); v != nil {
		if f, ok := l.num(v, "arbitration.holdout"); ok {
			if f < 0 || f > 100 {
				l.errf(v, "", "arbitration.holdout must be between 0 and 100 (percent), got %s", l.deref(v).Value)
			}
			a.Holdout = f
		}
	}
	if v := fs.get("fallback"); v != nil {
		ids, nodes, ok := l.strList(v, "arbitration.fallback")
		if ok {
			all := make([]string, 0, len(offers))
			for id := range offers {
				all = append(all, id)
			}
			seen := map[string]bool{}
			for i, id := range ids {
				if _, ok := offers[id]; !ok {
					l.refErr(nodes[i], "offer:"+id, didYouMean(id, all, ""), "arbitration.fallback: unknown offer `%s`", id)
					continue
				}
				if seen[id] {
					l.errf(nodes[i], "", "arbitration.fallback names `%s` twice", id)
					continue
				}
				seen[id] = true
				a.Fallback = append(a.Fallback, id)
			}
		}
	}
	return a
}
