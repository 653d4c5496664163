package rules

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/exprenv"
)

// The allowed keys of each mapping, from the key table (keys.go).
var (
	ruleFileKeys    = ruleFileDef.names()
	discountTypeKey = []string{"percent", "amount", "tiers", "buy_x_get_y", "free_shipping"}
	dayNames        = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

// sections is the content of every file, gathered before compiling.
type sections struct {
	profile     []entry
	segments    []*yaml.Node
	offers      []*yaml.Node
	experiments []*yaml.Node
	arbitration *yaml.Node
	arbKey      *yaml.Node
	tests       []*yaml.Node
	testNow     map[*yaml.Node]time.Time // a test file's now: for its cases
	currency    []currencyEntry          // currency.go
	rates       []currencyEntry
}

// isTestFile reports whether a rule file holds rule tests.
func isTestFile(path string) bool {
	return strings.HasSuffix(path, "_test.yaml") || strings.HasSuffix(path, "_test.yml")
}

// gather sorts one file's top-level keys into the sections.
func (l *loader) gather(s *sections, path string, root *yaml.Node) {
	if isNull(l.deref(root)) {
		return
	}
	if isTestFile(path) {
		fs, ok := l.mapping(root, "a _test.yaml file (it holds only `tests:`)", testFileDef)
		if !ok {
			return
		}
		if n := fs.get("tests"); n != nil && !isNull(l.deref(n)) {
			items, _ := l.seq(n, "tests")
			s.tests = append(s.tests, items...)
			if nn := fs.get("now"); nn != nil {
				if t, ok := l.timestamp(nn, "now"); ok {
					if s.testNow == nil {
						s.testNow = map[*yaml.Node]time.Time{}
					}
					for _, it := range items {
						s.testNow[it] = t
					}
				}
			}
		}
		return
	}
	es, ok := l.entries(root, "a rule file")
	if !ok {
		return
	}
	seen := map[string]*yaml.Node{}
	written := map[string]bool{}
	for _, e := range es {
		if k := l.deref(e.key); k != nil {
			written[k.Value] = true
		}
	}
	prevKey := ""
	for _, e := range es {
		k := l.deref(e.key)
		if k == nil || k.Kind != yaml.ScalarNode {
			l.errf(e.key, "", "a top-level key must be a plain name")
			continue
		}
		name := k.Value
		if !slices.Contains(ruleFileKeys, name) && name != "tests" {
			name = l.unknownKey(k, e.val, "a rule file", ruleFileDef, ruleFileKeys, prevKey, written)
		}
		prevKey = k.Value
		if name == "" {
			continue
		}
		if prev, dup := seen[name]; dup {
			l.errf(k, "merge the two", "key `%s` appears twice in this file (also at line %d)", name, prev.Line)
			continue
		}
		seen[name] = k
		v := e.val
		switch name {
		case "profile":
			if isNull(l.deref(v)) {
				continue
			}
			fes, ok := l.entries(v, "profile")
			if ok {
				s.profile = append(s.profile, fes...)
			}
		case "segments", "offers", "experiments":
			if isNull(l.deref(v)) {
				continue
			}
			items, ok := l.seq(v, name)
			if !ok {
				continue
			}
			switch name {
			case "segments":
				s.segments = append(s.segments, items...)
			case "offers":
				s.offers = append(s.offers, items...)
			default:
				s.experiments = append(s.experiments, items...)
			}
		case "arbitration":
			if s.arbitration != nil {
				l.errf(k, "keep one arbitration section", "`arbitration` is set twice (also at %s)", posString(l.pos(s.arbKey)))
				continue
			}
			s.arbitration, s.arbKey = v, k
		case "currency", "rates":
			l.gatherCurrency(s, name, k, v)
		case "tests":
			l.errf(k, "move them to a file whose name ends in _test.yaml", "rule tests are only read from *_test.yaml files")
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func posString(p Pos) string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// idOf reads the id of a segment, offer or experiment.
func (l *loader) idOf(fs *fields, what string) (string, *yaml.Node, bool) {
	n := fs.get("id")
	if n == nil {
		l.errf(fs.node, "add `id: some_name`", "%s has no id", what)
		return "", nil, false
	}
	id, ok := l.str(n, what+" id")
	if !ok {
		return "", nil, false
	}
	if !identRE.MatchString(id) {
		l.errf(n, "use letters, digits and _ (like vip_10)", "%s id %q is not a plain name", what, id)
		return "", nil, false
	}
	return id, l.deref(n), true
}

// compileSchema builds the profile schema from every file's entries.
func (l *loader) compileSchema(es []entry) Schema {
	var s Schema
	s.index = map[string]int{}
	first := map[string]Pos{}
	for _, e := range es {
		k := l.deref(e.key)
		if k == nil || k.Kind != yaml.ScalarNode {
			l.errf(e.key, "", "a profile field name must be a plain name")
			continue
		}
		if p, dup := first[k.Value]; dup {
			l.errf(k, "keep one declaration", "profile field `%s` is declared twice (also at %s)", k.Value, posString(p))
			continue
		}
		first[k.Value] = l.pos(k)
		f, ok := l.schemaField(k, e.val)
		if !ok {
			// expressions that read it follow from this error
			if l.dropped == nil {
				l.dropped = map[string]bool{}
			}
			l.dropped["profile."+k.Value] = true
			l.dropKey = k
			continue
		}
		s.index[f.Name] = len(s.Fields)
		s.Fields = append(s.Fields, f)
	}
	s.defaults = s.makeDefaults()
	return s
}

// segDecl is a segment's YAML before compiling.
type segDecl struct {
	id   string
	node *yaml.Node
	fs   *fields
}

func (l *loader) declareSegments(nodes []*yaml.Node) []segDecl {
	var out []segDecl
	first := map[string]Pos{}
	for _, n := range nodes {
		fs, ok := l.mapping(n, "a segment", segmentDef)
		if !ok {
			continue
		}
		id, idn, ok := l.idOf(fs, "segment")
		if !ok {
			continue
		}
		if p, dup := first[id]; dup {
			l.errf(idn, "choose another id", "segment id `%s` is used twice (also at %s)", id, posString(p))
			continue
		}
		first[id] = l.pos(idn)
		out = append(out, segDecl{id, l.deref(n), fs})
	}
	return out
}

// compileSegments compiles every segment and orders them so that each
// comes after the segments it uses; a cycle is an error.
func (l *loader) compileSegments(c *exprCompiler, decls []segDecl) []*Segment {
	byID := map[string]*Segment{}
	var all []*Segment
	for _, d := range decls {
		seg := &Segment{ID: d.id, Pos: l.pos(d.node)}
		if n := d.fs.get("description"); n != nil {
			seg.Description, _ = l.str(n, "description")
		}
		if n := d.fs.get("when"); n != nil {
			if r := c.compile(n, kindCond, "segment `"+d.id+"`: when"); r != nil {
				seg.When = r.e
				for _, ref := range r.refs {
					if ref != d.id {
						seg.Uses = append(seg.Uses, ref)
					} else {
						l.errf(n, "a segment cannot test itself", "segment `%s` uses itself", d.id)
					}
				}
			}
		} else {
			l.errf(d.node, "add `when: <condition>` (use `when: true` for everyone)", "segment `%s` has no `when`", d.id)
		}
		byID[d.id] = seg
		all = append(all, seg)
	}
	// topological order, by id among the ready ones, so file order never matters
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var order []*Segment
	var stack []string
	reported := map[string]bool{}
	var visit func(s *Segment)
	visit = func(s *Segment) {
		color[s.ID] = grey
		stack = append(stack, s.ID)
		for _, u := range s.Uses {
			dep, ok := byID[u]
			if !ok {
				continue
			}
			switch color[u] {
			case white:
				visit(dep)
			case grey:
				i := len(stack) - 1
				for i >= 0 && stack[i] != u {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), u)
				key := strings.Join(sortedCopy(stack[i:]), ",")
				if !reported[key] {
					reported[key] = true
					l.errAt(dep.Pos, "break the cycle: one of them must not test the other",
						"segments depend on each other in a cycle: %s", strings.Join(cycle, " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[s.ID] = black
		order = append(order, s)
	}
	for _, s := range all {
		if color[s.ID] == white {
			visit(s)
		}
	}
	return order
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// offerDecl is an offer's YAML before compiling.
type offerDecl struct {
	id   string
	node *yaml.Node
}

func (l *loader) declareOffers(nodes []*yaml.Node) []offerDecl {
	var out []offerDecl
	first := map[string]Pos{}
	for _, n := range nodes {
		d := l.deref(n)
		if d == nil || d.Kind != yaml.MappingNode {
			l.errf(n, "", "an offer must be a mapping (key: value lines), got %s", describe(d))
			continue
		}
		// the id is read here; the other keys when compiling
		var idn *yaml.Node
		es, _ := l.entries(d, "an offer")
		for _, e := range es {
			if k := l.deref(e.key); k != nil && k.Value == "id" {
				idn = e.val
			}
		}
		if idn == nil {
			l.errf(d, "add `id: some_name`", "offer has no id")
			continue
		}
		id, ok := l.str(idn, "offer id")
		if !ok {
			continue
		}
		if !identRE.MatchString(id) {
			l.errf(idn, "use letters, digits and _ (like vip_10)", "offer id %q is not a plain name", id)
			continue
		}
		if p, dup := first[id]; dup {
			l.errf(idn, "choose another id", "offer id `%s` is used twice (also at %s)", id, posString(p))
			continue
		}
		first[id] = l.pos(l.deref(idn))
		out = append(out, offerDecl{id, d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// segRefs checks a list of segment ids.
func (l *loader) segRefs(c *exprCompiler, n *yaml.Node, what string) []string {
	ids, nodes, ok := l.strList(n, what)
	if !ok {
		return nil
	}
	for i, id := range ids {
		if !c.segSet[id] {
			l.refErr(nodes[i], "segment:"+id, didYouMean(id, c.segIDs, ""), "%s: unknown segment `%s`", what, id)
		}
	}
	return ids
}

// compileOffer compiles one offer's mapping (for an experiment override,
// the merged mapping, where `disabled` is allowed and `id` is not read).
func (l *loader) compileOffer(c *exprCompiler, id string, n *yaml.Node, override bool) *Offer {
	keys := offerDef
	what := "offer `" + id + "`"
	if override {
		keys = offerOverriddenDef
	}
	fs, ok := l.mapping(n, what, keys)
	if !ok {
		return nil
	}
	o := &Offer{ID: id, Pos: l.pos(fs.node)}
	if v := fs.get("disabled"); v != nil {
		o.Disabled, _ = l.boolean(v, what+": disabled")
	}
	o.Kind = KindDiscount
	if fs.get("discount") == nil {
		o.Kind = KindAction
	}
	if v := fs.get("kind"); v != nil {
		if k, ok := l.str(v, what+": kind"); ok {
			switch k {
			case KindDiscount, KindAction:
				o.Kind = k
			default:
				l.errf(v, didYouMean(k, []string{KindDiscount, KindAction}, ""), "%s: kind must be `discount` or `action`, got %q", what, k)
			}
		}
	}
	if v := fs.get("discount"); v != nil {
		if o.Kind == KindAction {
			l.errf(fs.key("discount"), "remove the discount, or write `kind: discount`", "%s is an action: it cannot have a discount", what)
		} else {
			o.Discount = l.compileDiscount(c, v, what)
		}
	} else if o.Kind == KindDiscount {
		l.errf(fs.node, "add `discount:` (percent, amount, tiers, buy_x_get_y or free_shipping), or write `kind: action`",
			"%s is a discount offer without a discount", what)
	}
	if v := fs.get("placements"); v != nil {
		o.Placements, _, _ = l.strList(v, what+": placements")
	}
	if v := fs.get("segments"); v != nil {
		o.Segments = l.segRefs(c, v, what+": segments")
	}
	if v := fs.get("exclude_segments"); v != nil {
		o.ExcludeSegments = l.segRefs(c, v, what+": exclude_segments")
	}
	if v := fs.get("when"); v != nil {
		if r := c.compile(v, kindCond, what+": when"); r != nil {
			o.When = r.e
		}
	}
	if v := fs.get("priority"); v != nil {
		o.Priority, _ = l.num(v, what+": priority")
	}
	if v := fs.get("score"); v != nil {
		if r := c.compile(v, kindScore, what+": score"); r != nil {
			o.Score = r.e
			o.ReadsPropensity = r.e.Reads(exprenv.VarPropensity)
		}
	}
	if v := fs.get("group"); v != nil {
		o.Group, _ = l.str(v, what+": group")
	}
	unreadTimes := false // a start or end written but not read: already an error
	if v := fs.get("schedule"); v != nil {
		o.Schedule, unreadTimes = l.compileSchedule(v, what)
	}
	if v := fs.get("caps"); v != nil {
		o.Caps = l.compileCaps(v, what)
		if o.Caps.Pacing != "" && !unreadTimes && (o.Schedule == nil || o.Schedule.Start.IsZero() || o.Schedule.End.IsZero()) {
			l.errf(v, "add `schedule: {start: ..., end: ...}`: pacing spreads the caps evenly from the start to the end",
				"%s: `pacing: even` needs a schedule with a start and an end", what)
		} else if o.Caps.Pacing != "" && !override {
			l.pacingReachWarning(what, o.Schedule, o.Caps, fs.get("schedule"))
		}
	}
	if v := fs.get("payload"); v != nil && !isNull(l.deref(v)) {
		d := l.deref(v)
		if d == nil || d.Kind != yaml.MappingNode {
			l.errf(v, "write a mapping, like {badge: vip}", "%s: payload must be a mapping, got %s", what, describe(d))
		} else if val, err := l.plain(d); err != nil {
			l.errf(v, "", "%s: payload: %v", what, err)
		} else if m, ok := val.(map[string]any); ok {
			o.Payload = m
		}
	}
	percentLike := o.Discount != nil && o.Discount.HasPercentLike
	hasAmount := o.Discount != nil
	if v := fs.get("title"); v != nil {
		o.Title = l.compileTemplate(c, v, what+": title", percentLike, hasAmount)
	}
	if v := fs.get("message"); v != nil {
		o.Message = l.compileTemplate(c, v, what+": message", percentLike, hasAmount)
	}
	return o
}

// number reads a number or a number expression; a constant must lie in
// [lo, hi].
func (l *loader) number(c *exprCompiler, n *yaml.Node, what string, lo, hi float64, rangeText string) Number {
	d := l.deref(n)
	if d != nil && d.Kind == yaml.ScalarNode && (d.Tag == "!!int" || d.Tag == "!!float") {
		f, ok := l.num(d, what)
		if ok && (f < lo || f > hi) {
			l.errf(d, "", "%s must be %s, got %s", what, rangeText, d.Value)
		}
		return Number{Value: f}
	}
	if hint, ok := numberHint(d, what); ok {
		l.errf(d, hint, "%s must be a number or a number expression, got %s", what, describe(d))
		return Number{}
	}
	if d != nil && d.Kind == yaml.ScalarNode && d.Tag == "!!str" {
		if r := c.compile(d, kindNumber, what); r != nil {
			return Number{Expr: r.e}
		}
		return Number{}
	}
	l.errf(n, "write a number like 10, or an expression in quotes", "%s must be a number or a number expression, got %s", what, describe(d))
	return Number{}
}

func (l *loader) compileDiscount(c *exprCompiler, n *yaml.Node, what string) *Discount {
	what += ": discount"
	fs, ok := l.mapping(n, what, discountDef)
	if !ok {
		return nil
	}
	var types []string
	for _, k := range discountTypeKey {
		if !fs.has(k) {
			continue
		}
		if k == "free_shipping" {
			if b, ok := l.boolean(fs.get(k), what+".free_shipping"); ok && !b {
				continue
			}
		}
		types = append(types, k)
	}
	if len(types) == 0 {
		l.errf(fs.node, "add one of: percent, amount, tiers, buy_x_get_y, free_shipping: true", "%s has no discount type", what)
		return nil
	}
	if len(types) > 1 {
		l.errf(fs.key(types[1]), "keep one; use two offers for two discounts",
			"%s has more than one discount type: %s (exactly one is allowed)", what, strings.Join(types, ", "))
		return nil
	}
	d := &Discount{}
	switch types[0] {
	case "percent":
		d.Type = DiscountPercent
		d.HasPercentLike = true
		d.Percent = l.number(c, fs.get("percent"), what+".percent", 0, 100, "between 0 and 100")
		if d.Percent.Expr == nil {
			l.fractionWarning(fs.get("percent"), what+".percent", d.Percent.Value)
		}
	case "amount":
		d.Type = DiscountAmount
		if v := fs.get("amount"); l.isMap(v) {
			d.Amount.Value, d.AmountBy = l.perCurrency(v, what+".amount", false)
		} else {
			d.Amount = l.number(c, v, what+".amount", 0, math.Inf(1), "0 or more")
		}
	case "tiers":
		d.Type = DiscountTiers
		d.Tiers = l.compileTiers(fs.get("tiers"), what+".tiers")
		for _, t := range d.Tiers {
			if t.IsPercent {
				d.HasPercentLike = true
			}
		}
	case "buy_x_get_y":
		d.Type = DiscountBuyXGetY
		d.HasPercentLike = true
		d.BuyGetPercent = 100
		bw := what + ".buy_x_get_y"
		if bfs, ok := l.mapping(fs.get("buy_x_get_y"), bw, bxgyDef); ok {
			for _, k := range []string{"buy", "get"} {
				v := bfs.get(k)
				if v == nil {
					l.errf(bfs.node, "write {buy: 2, get: 1}", "%s has no `%s`", bw, k)
					continue
				}
				if i, ok := l.integer(v, bw+"."+k); ok {
					if i < 1 || i > 1000 {
						l.errf(v, "", "%s.%s must be between 1 and 1000, got %d", bw, k, i)
					}
					if k == "buy" {
						d.Buy = int(i)
					} else {
						d.Get = int(i)
					}
				}
			}
			if v := bfs.get("percent"); v != nil {
				if f, ok := l.num(v, bw+".percent"); ok {
					if f <= 0 || f > 100 {
						l.errf(v, "100 makes the units free", "%s.percent must be more than 0 and at most 100, got %v", bw, v.Value)
					}
					l.fractionWarning(v, bw+".percent", f)
					d.BuyGetPercent = f
				}
			}
		}
	case "free_shipping":
		d.Type = DiscountFreeShipping
		d.FreeShipping = true
	}
	// max_amount: null is no maximum, as in a variant that takes the cap off
	// a percent offer, or makes it another type (mergeNodes).
	if v := fs.get("max_amount"); v != nil && !isNull(l.deref(v)) {
		if d.Type != DiscountPercent {
			l.errf(fs.key("max_amount"), "remove it", "%s: max_amount only goes with percent", what)
		} else if l.isMap(v) {
			d.MaxAmount, d.MaxAmountBy = l.perCurrency(v, what+".max_amount", true)
		} else if f, ok := l.num(v, what+".max_amount"); ok {
			if f <= 0 {
				l.errf(v, "remove it for no maximum", "%s.max_amount must be more than 0, got %s", what, l.deref(v).Value)
			}
			d.MaxAmount = f
		}
	}
	if v := fs.get("items"); v != nil {
		if r := c.compile(v, kindItems, what+".items"); r != nil {
			d.Items = r.e
			d.ItemsSource = r.e.Source
		}
	}
	return d
}

func (l *loader) compileTiers(n *yaml.Node, what string) []Tier {
	items, ok := l.seq(n, what)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.errf(n, "write [{min_total: 100, amount: 15}]", "%s is empty", what)
	}
	var tiers []Tier
	var prevNode *yaml.Node
	for i, it := range items {
		tw := fmt.Sprintf("%s[%d]", what, i)
		fs, ok := l.mapping(it, tw, tierDef)
		if !ok {
			continue
		}
		var t Tier
		if v := fs.get("min_total"); v == nil {
			l.errf(fs.node, "write {min_total: 100, amount: 15}", "%s has no min_total", tw)
			continue
		} else if l.isMap(v) {
			t.MinTotal, t.MinTotalBy = l.perCurrency(v, tw+".min_total", false)
		} else if f, ok := l.num(v, tw+".min_total"); ok {
			if f < 0 {
				l.errf(v, "", "%s.min_total must be 0 or more, got %s", tw, l.deref(v).Value)
			}
			t.MinTotal = f
		}
		a, p := fs.get("amount"), fs.get("percent")
		switch {
		case a != nil && p != nil:
			l.errf(fs.key("percent"), "keep one", "%s has both amount and percent", tw)
			continue
		case a == nil && p == nil:
			l.errf(fs.node, "add amount: 15 or percent: 10", "%s has neither amount nor percent", tw)
			continue
		case a != nil && l.isMap(a):
			t.Amount, t.AmountBy = l.perCurrency(a, tw+".amount", false)
		case a != nil:
			if f, ok := l.num(a, tw+".amount"); ok {
				if f < 0 {
					l.errf(a, "", "%s.amount must be 0 or more, got %s", tw, l.deref(a).Value)
				}
				t.Amount = f
			}
		default:
			t.IsPercent = true
			if f, ok := l.num(p, tw+".percent"); ok {
				if f < 0 || f > 100 {
					l.errf(p, "", "%s.percent must be between 0 and 100, got %s", tw, l.deref(p).Value)
				}
				l.fractionWarning(p, tw+".percent", f)
				t.Percent = f
			}
		}
		if len(tiers) > 0 {
			l.tiersAscendPerCurrency(fs.get("min_total"), tw, tiers[len(tiers)-1], t)
		}
		if len(tiers) > 0 && t.MinTotal <= tiers[len(tiers)-1].MinTotal {
			l.errf(fs.get("min_total"), "write the tiers from the smallest min_total to the largest",
				"%s: min_total %v is not above the previous tier's %v (line %d): tiers must ascend",
				tw, t.MinTotal, tiers[len(tiers)-1].MinTotal, prevNode.Line)
		}
		prevNode = l.deref(fs.get("min_total"))
		tiers = append(tiers, t)
	}
	return tiers
}

// compileSchedule reads an offer's schedule; unreadTimes is true when its
// start or end is written but is not a time (an error already reported).
func (l *loader) compileSchedule(n *yaml.Node, what string) (s *Schedule, unreadTimes bool) {
	what += ": schedule"
	fs, ok := l.mapping(n, what, scheduleDef)
	if !ok {
		return nil, false
	}
	s = &Schedule{Location: time.UTC}
	var zone *time.Location // the schedule's timezone, for the hint of a time without one
	if v := fs.get("timezone"); v != nil {
		if name, ok := l.str(v, what+".timezone"); ok {
			loc, err := time.LoadLocation(name)
			if err != nil || name == "" || name == "Local" {
				l.errf(v, "write an IANA time zone name like Europe/Paris or UTC", "%s.timezone: unknown time zone %q", what, name)
			} else {
				s.Location, zone = loc, loc
			}
		}
	}
	if v := fs.get("start"); v != nil {
		var ok bool
		if s.Start, ok = l.timestampIn(v, what+".start", zone); !ok {
			unreadTimes = true
		}
	}
	if v := fs.get("end"); v != nil {
		var ok bool
		if s.End, ok = l.timestampIn(v, what+".end", zone); !ok {
			unreadTimes = true
		}
	}
	if !s.Start.IsZero() && !s.End.IsZero() && !s.End.After(s.Start) {
		l.errf(fs.get("end"), "the end is exclusive: it must come after the start", "%s: end %s is not after start %s",
			what, s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	if v := fs.get("days"); v != nil {
		days, nodes, ok := l.strList(v, what+".days")
		if ok {
			s.HasDays = true
			for i, d := range days {
				idx := -1
				for j, name := range dayNames {
					if strings.EqualFold(d, name) {
						idx = j
					}
				}
				if idx < 0 {
					hint := didYouMean(strings.ToLower(d), dayNames, "")
					if len(d) > 3 && hint == "" {
						for _, name := range dayNames {
							if strings.EqualFold(d[:3], name) {
								hint = "did you mean `" + name + "`?"
							}
						}
					}
					if hint == "" {
						hint = "use mon, tue, wed, thu, fri, sat, sun"
					}
					l.errf(nodes[i], hint, "%s.days: unknown day %q", what, d)
					continue
				}
				s.Days[(idx+1)%7] = true // dayNames starts on Monday, time.Weekday on Sunday
			}
		}
	}
	if v := fs.get("hours"); v != nil {
		if h, ok := l.str(v, what+".hours"); ok {
			from, to, err := parseHours(h)
			if err != nil {
				l.errf(v, "write \"HH:MM-HH:MM\", like \"18:00-23:59\"", "%s.hours: %v", what, err)
			} else {
				s.FromMinute, s.ToMinute, s.HasHours = from, to, true
			}
		}
	}
	return s, unreadTimes
}

// parseHours reads "HH:MM-HH:MM" into minutes of the day, both inclusive.
func parseHours(h string) (int, int, error) {
	a, b, ok := strings.Cut(strings.ReplaceAll(h, " ", ""), "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a range HH:MM-HH:MM", h)
	}
	from, err := parseClock(a)
	if err != nil {
		return 0, 0, err
	}
	to, err := parseClock(b)
	if err != nil {
		return 0, 0, err
	}
	if to < from {
		return 0, 0, fmt.Errorf("%q ends before it starts (a range over midnight needs two offers, or hours 00:00-MM and MM-23:59)", h)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM (00:00 to 23:59)", s)
	}
	return h*60 + m, nil
}

// parseWindow reads a Go duration ("24h", "90m") or a number of days ("7d").
func parseWindow(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err == nil && n > 0 && n < 100000 {
			return time.Duration(n * float64(24*time.Hour)), nil
		}
		return 0, fmt.Errorf("%q is not a number of days", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

func (l *loader) compileCaps(n *yaml.Node, what string) Caps {
	what += ": caps"
	var c Caps
	fs, ok := l.mapping(n, what, capsDef)
	if !ok {
		return c
	}
	if v := fs.get("per_customer"); v != nil {
		pw := what + ".per_customer"
		if pfs, ok := l.mapping(v, pw, perCustomerDef); ok {
			if lim := pfs.get("limit"); lim == nil {
				l.errf(pfs.node, "write {limit: 1, per: 24h}", "%s has no limit", pw)
			} else if i, ok := l.integer(lim, pw+".limit"); ok {
				if i < 1 || i > math.MaxInt32 {
					l.errf(lim, "remove the cap for no limit", "%s.limit must be 1 or more, got %d", pw, i)
				}
				c.PerCustomer = int(i)
			}
			if per := pfs.get("per"); per != nil {
				if s, ok := l.str(per, pw+".per"); ok {
					d, err := parseWindow(s)
					switch {
					case err != nil:
						l.errf(per, "write a duration like 24h, 90m or 7d (days)", "%s.per: %v", pw, err)
					case d <= 0:
						l.errf(per, "leave out `per` for a limit for ever", "%s.per must be more than 0, got %q", pw, s)
					default:
						c.Window = d
					}
				}
			}
		}
	}
	if v := fs.get("total"); v != nil {
		if i, ok := l.integer(v, what+".total"); ok {
			if i < 1 {
				l.errf(v, "remove the cap for no limit", "%s.total must be 1 or more, got %d", what, i)
			}
			c.Total = i
		}
	}
	if v := fs.get("budget"); v != nil {
		if l.isMap(v) {
			l.errf(v, "write one number in the ruleset's currency: grants in other currencies are converted with `rates`",
				"%s.budget is one number, not a map per currency", what)
		} else if f, ok := l.num(v, what+".budget"); ok {
			if f <= 0 {
				l.errf(v, "remove the budget for no limit", "%s.budget must be more than 0, got %s", what, l.deref(v).Value)
			}
			c.Budget = f
			l.noteBudget(what, v)
		}
	}
	if v := fs.get("hold"); v != nil {
		if s, ok := l.str(v, what+".hold"); ok {
			d, err := parseWindow(s)
			switch {
			case err != nil:
				l.errf(v, "write a duration like 30m, 2h or 1d (days)", "%s.hold: %v", what, err)
			case d < time.Second:
				l.errf(v, "hold a grant for at least a second (30m is typical for a checkout), or remove `hold` to count grants at once", "%s.hold must be at least 1s, got %q", what, s)
			default:
				c.Hold = d
			}
		}
		if c.Total == 0 && c.Budget == 0 {
			l.errf(fs.key("hold"), "add `total:` or `budget:`, or remove `hold`: a per-customer cap counts grants and is never released",
				"%s: hold holds a total or a budget, and this offer has neither", what)
		}
	}
	if v := fs.get("pacing"); v != nil {
		if s, ok := l.str(v, what+".pacing"); ok {
			if s != PacingEven {
				l.errf(v, "write `pacing: even`, or remove it", "%s.pacing: unknown pacing %q (`even` is the only pacing)", what, s)
			} else {
				c.Pacing = s
			}
		}
		if c.Total == 0 && c.Budget == 0 {
			l.errf(fs.key("pacing"), "add `total:` or `budget:` to pace", "%s: pacing needs a total or a budget to spread", what)
		}
	}
	return c
}

// compileTemplate splits a title or message at its {{placeholders}}.
func (l *loader) compileTemplate(c *exprCompiler, n *yaml.Node, what string, percentLike, hasAmount bool) Template {
	src, ok := l.str(n, what)
	if !ok {
		return Template{}
	}
	d := l.deref(n)
	t := Template{Source: src}
	rest := src
	off := 0 // rune offset of rest in src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.Parts = append(t.Parts, TemplatePart{Literal: rest})
			}
			break
		}
		if i > 0 {
			t.Parts = append(t.Parts, TemplatePart{Literal: rest[:i]})
		}
		at := off + len([]rune(rest[:i]))
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			l.errAt(c.at(d, at), "close it with }}", "%s: `{{` is not closed", what)
			return t
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		switch {
		case name == "percent" || name == "amount" || name == "currency":
			if (name == "percent" && !percentLike) || (name != "percent" && !hasAmount) {
				l.errAt(c.at(d, at), "remove it: this offer's discount has no "+name,
					"%s: {{%s}} has no value in this offer", what, name)
			}
			t.Parts = append(t.Parts, TemplatePart{Var: name})
		case strings.HasPrefix(name, "profile."):
			field := strings.TrimPrefix(name, "profile.")
			_, known := c.schema.Field(field)
			if !known && field != "id" {
				names := []string{"id"}
				for _, f := range c.schema.Fields {
					names = append(names, f.Name)
				}
				l.errAt(c.at(d, at+2), didYouMean(field, names, "profile."), "%s: unknown profile field `%s` in {{%s}}", what, field, name)
			}
			t.Parts = append(t.Parts, TemplatePart{Var: name})
		default:
			l.errAt(c.at(d, at+2), didYouMean(name, []string{"percent", "amount", "currency"}, ""),
				"%s: unknown placeholder {{%s}} (known: {{percent}}, {{amount}}, {{currency}}, {{profile.FIELD}})", what, name)
		}
		consumed := rest[:i+j+2]
		off += len([]rune(consumed))
		rest = rest[i+j+2:]
	}
	return t
}

// plain converts a YAML node into plain Go values (maps, lists, scalars),
// following aliases within the expansion budget.
func (l *loader) plain(n *yaml.Node) (any, error) { return l.plainValue(n, false) }

// plainText is plain with the scalars that JSON would not read as YAML
// does kept as the text written: every scalar YAML reads as a timestamp
// (2026-11-28, 2026-11-28 12:00:00, 2026-11-28T12:00:00+08:00), and every
// integer not written as a JSON number (0123, YAML's octal 83; 0x1F; 1_000).
// A rule test's request and profile are then validated by the server's own
// decoders, which refuse a time without a zone instead of taking it as UTC,
// and a string field, sku or context value written 0123 is "0123".
func (l *loader) plainText(n *yaml.Node) (any, error) { return l.plainValue(n, true) }

// jsonInt is an integer as JSON writes it: no leading zero, sign +, base
// prefix or underscore.
var jsonInt = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

func (l *loader) plainValue(n *yaml.Node, timesAsText bool) (any, error) {
	n = l.deref(n)
	if l.overBudget() {
		return nil, fmt.Errorf("too many aliases")
	}
	if n == nil {
		return nil, nil
	}
	l.aliases++
	switch n.Kind {
	case yaml.MappingNode:
		es, ok := l.entries(n, "a mapping")
		if !ok {
			return nil, fmt.Errorf("bad mapping")
		}
		m := make(map[string]any, len(es))
		for _, e := range es {
			k := l.deref(e.key)
			if k == nil || k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("a key must be a plain name")
			}
			v, err := l.plainValue(e.val, timesAsText)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := l.plainValue(c, timesAsText)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		if timesAsText && (n.ShortTag() == "!!timestamp" || n.ShortTag() == "!!int" && !jsonInt.MatchString(n.Value)) {
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value, nil
		}
		return v, nil
	}
	return nil, nil
}
