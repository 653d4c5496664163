package rules

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Experiment layers (SPEC-LOOP "Experiment layers"): the experiments of a
// layer share the layer's 10,000 buckets, H(layer + "/" + customer_id) mod
// 10000, each taking a range of them, so that no customer is in two
// experiments of one layer. Ranges are given in the order written
// (traffic × 100 buckets each, consecutive from 0) or stated with
// `buckets: FROM-TO`; a stopped experiment keeps its range.

// reservedHoldout is the name of the holdout: its salt, and the id of its
// report. No experiment, salt or layer may take it: its buckets would be
// the holdout's.
const reservedHoldout = "holdout"

// layerBuckets is the number of buckets of a layer (engine.Buckets).
const layerBuckets = 10000

// layerDecl is an experiment's layer keys as written, kept until every
// experiment is read.
type layerDecl struct {
	e        *Experiment
	what     string
	node     *yaml.Node // the experiment
	layer    *yaml.Node // nil when not written
	buckets  *yaml.Node // nil when not written
	traffic  *yaml.Node // nil when not written
	salt     *yaml.Node // nil when not written
	explicit bool       // buckets were stated and read
	// badRange: buckets were stated but are not a range (an error already
	// says so). The experiment takes no range of its layer: laid out by
	// its traffic instead, it would take buckets nobody wrote and blame
	// the experiments after it for overlapping them.
	badRange bool
}

// layerFields reads an experiment's `layer`, `buckets` and `status`.
func (l *loader) layerFields(e *Experiment, fs *fields, what string) layerDecl {
	d := layerDecl{e: e, what: what, node: fs.node, layer: fs.get("layer"), buckets: fs.get("buckets"),
		traffic: fs.get("traffic"), salt: fs.get("salt")}
	if n := d.layer; n != nil {
		if s, ok := l.str(n, what+": layer"); ok {
			switch {
			case !identRE.MatchString(s):
				l.errf(n, "use letters, digits and _ (like checkout_pricing)", "%s: layer %q is not a plain name", what, s)
			case s == reservedHoldout:
				l.errf(n, "choose another name", "%s: layer `holdout` is reserved: its buckets would be the holdout's", what)
			default:
				e.Layer = s
			}
		}
	}
	if n := fs.get("status"); n != nil {
		if s, ok := l.str(n, what+": status"); ok {
			switch s {
			case "running":
			case ExperimentStopped:
				e.Status = ExperimentStopped
			default:
				l.errf(n, "write running or stopped", "%s: status %q is not running or stopped", what, s)
			}
		}
	}
	if n := d.buckets; n != nil {
		if d.layer == nil {
			l.errf(n, "add `layer: NAME`, or write traffic instead", "%s: buckets are a range of a layer's buckets, and the experiment has no layer", what)
			return d
		}
		from, to, ok := l.bucketRange(n, what)
		if ok {
			e.From, e.To, d.explicit = from, to, true
		} else {
			d.badRange = true
		}
	}
	return d
}

// bucketRange reads `buckets: FROM-TO`, both ends included, within 0-9999.
func (l *loader) bucketRange(n *yaml.Node, what string) (int, int, bool) {
	const hint = "write the range of layer buckets as FROM-TO, both included, within 0-9999 (like 3000-7999)"
	s, ok := l.str(n, what+": buckets")
	if !ok {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || from < 0 || to >= layerBuckets || from > to {
		l.errf(n, hint, "%s: buckets %q is not a range of layer buckets", what, s)
		return 0, 0, false
	}
	return from, to, true
}

// trafficBuckets is traffic (a percent, up to two decimals) as a number
// of buckets, rounded half up as the engine rounds it.
func trafficBuckets(percent float64) int {
	if !(percent > 0) {
		return 0
	}
	return int(math.Min(layerBuckets, math.Floor(percent*100+0.5+1e-9)))
}

// layoutLayers gives every layered experiment its range, in the order
// written, and checks that the ranges of a layer neither overlap nor go
// past its 10,000 buckets, and that no salt is a layer's or the holdout's.
func (l *loader) layoutLayers(ds []layerDecl) {
	next := map[string]int{}           // layer -> its first bucket not yet given
	placed := map[string][]layerDecl{} // layer -> its experiments with a range so far
	layers := map[string]bool{}
	for i := range ds {
		d := &ds[i]
		e := d.e
		if e.Layer == "" {
			continue
		}
		layers[e.Layer] = true
		if d.badRange {
			continue
		}
		width := trafficBuckets(e.Traffic)
		if d.explicit {
			if d.traffic != nil && width != e.To-e.From+1 {
				l.errf(d.traffic, "leave traffic out (the range says it), or make them agree",
					"%s: traffic %s is %d layer buckets, but buckets %d-%d are %d", d.what, l.deref(d.traffic).Value, width, e.From, e.To, e.To-e.From+1)
				continue
			}
			e.Traffic = float64(e.To-e.From+1) / 100
		} else {
			from := next[e.Layer]
			if width == 0 {
				e.From, e.To = from, from-1 // an empty range
				continue
			}
			if from+width > layerBuckets {
				used := from * 100 / layerBuckets
				at := d.traffic
				if at == nil {
					at = d.node
				}
				l.errf(at, "lower the traffic of the layer's experiments to add up to 100 at most, or stop one and state ranges with buckets: FROM-TO",
					"layer `%s` is over 100%%: %s takes %s%% after %d%% given to the experiments written before it", e.Layer, d.what, fmtNum(e.Traffic), used)
				continue
			}
			e.From, e.To = from, from+width-1
		}
		for _, o := range placed[e.Layer] {
			if o.e.To >= o.e.From && e.From <= o.e.To && o.e.From <= e.To {
				at := d.buckets
				if at == nil {
					at = d.node
				}
				l.errf(at, "give each experiment of a layer its own buckets",
					"layer `%s`: %s takes buckets %d-%d, which overlap %s's %d-%d (at %s)",
					e.Layer, d.what, e.From, e.To, o.what, o.e.From, o.e.To, posString(l.pos(o.node)))
				break
			}
		}
		placed[e.Layer] = append(placed[e.Layer], *d)
		if e.To+1 > next[e.Layer] {
			next[e.Layer] = e.To + 1
		}
	}
	bySalt := map[string][]layerDecl{} // salt -> the running experiments written before with it
	for _, d := range ds {
		salt := d.e.Salt // `salt: ""` was compiled to the id (compileExperiments)
		at := d.salt
		if at == nil {
			at = d.node
		}
		if d.e.Status != ExperimentStopped && salt != reservedHoldout && !layers[salt] { // those are errors below
			// Two experiments that may share customers (not both of
			// one layer) with one salt assign them the same buckets:
			// their variants would go together.
			for _, o := range bySalt[salt] {
				if o.e.Layer != "" && o.e.Layer == d.e.Layer {
					continue
				}
				l.errf(at, "give each experiment a salt of its own, or put them in one layer",
					"%s: salt `%s` is also %s's (at %s): their variants would follow each other's buckets, not be independent",
					d.what, salt, o.what, posString(l.pos(o.node)))
				break
			}
			bySalt[salt] = append(bySalt[salt], d)
		}
		switch {
		case salt == reservedHoldout && d.e.ID != reservedHoldout:
			l.errf(at, "choose another salt", "%s: salt `holdout` is the holdout's: its variants would follow the holdout's buckets", d.what)
		case layers[salt] && d.salt == nil:
			l.errf(at, "write a salt of its own (salt: "+salt+"-2026), or rename it", "%s has the name of a layer, and its id is its salt: its variants would follow that layer's buckets", d.what)
		case layers[salt]:
			l.errf(at, "choose another salt", "%s: salt `%s` is the name of a layer: its variants would follow that layer's buckets", d.what, salt)
		}
	}
}
