package exprenv

import (
	"sort"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
)

// Flattening. expr reads a member of a map in the environment
// (`profile.ltv`, `cart.total`, `ctx.device`) through reflection, and tests
// `"vip" in segments` by walking the list through reflection too; in the
// example ruleset that was most of a decision's time. So every expression
// is compiled with those reads rewritten into plain names of the top-level
// environment, which the VM reads with one map lookup:
//
//	profile.ltv, profile["ltv"]  ->  the name "profile.ltv"
//	"vip" in segments            ->  "segments.vip" == true
//	"vip" not in segments        ->  "segments.vip" != true
//
// No one can write these names (a name cannot hold a dot), so they never
// clash with the user's. Env fills the names the ruleset reads (Layout)
// per decision and sets a segment's flag when it matches; an unset flag
// reads as nil, which is not equal to true. The source, the
// positions and the messages stay the user's: only the compiled program
// changes. Reads with a computed key (`ctx[k]`), the `item` of a discount
// filter and `segments` as a whole are left as they are.

// FlatRef is one flattened read: Env sets Key in the environment to the
// Field of Scope (EnvProfile, EnvCart or EnvCtx) before evaluating.
type FlatRef struct {
	Key   string
	Scope string
	Field string
}

// flatScopes are the maps of the environment whose members are flattened.
var flatScopes = map[string]bool{EnvProfile: true, EnvCart: true, EnvCtx: true}

// segmentFlag is the environment name that is true when the segment id
// matched, in programs that test `"id" in segments`.
func segmentFlag(id string) string { return EnvSegments + "." + id }

// flatMember reports the flat name of n when it reads a member of a
// flattened map with a constant name.
func flatMember(n *ast.MemberNode) (scope, field string, ok bool) {
	if n.Method {
		return "", "", false
	}
	id, isID := n.Node.(*ast.IdentifierNode)
	prop, isStr := n.Property.(*ast.StringNode)
	if !isID || !isStr || !flatScopes[id.Value] {
		return "", "", false
	}
	return id.Value, prop.Value, true
}

// segmentTest reports the segment id when n is `"id" in segments` or
// `"id" not in segments`.
func segmentTest(n *ast.BinaryNode) (id string, ok bool) {
	if n.Operator != "in" && n.Operator != "not in" {
		return "", false
	}
	s, isStr := n.Left.(*ast.StringNode)
	r, isID := n.Right.(*ast.IdentifierNode)
	if !isStr || !isID || r.Value != EnvSegments {
		return "", false
	}
	return s.Value, true
}

// flatScan is what one expression reads: the flat names it gets, with
// their types, and whether it still reads `segments` as a whole.
type flatScan struct {
	refs  []FlatRef
	types map[string]types.Type // of every flat name, segment flags included
	flags []string              // segment ids tested with `in segments`
	// skip holds the places of the members that are the receiver of a
	// method call (`profile.birthday.IsZero()`): expr compiles a method
	// call on a patched receiver wrongly (v1.17.8), so they stay member
	// reads in the program; their flat names are still filled, for the
	// fast path.
	skip map[file.Location]bool
	// wholeSegments, wholeProfile: the expression reads `segments` or
	// `profile` other than through flat names (`len(segments)`,
	// `profile[k]`, `$env`).
	wholeSegments, wholeProfile bool
}

// scanFlat finds the reads of root that are flattened, typed by env (the
// typed environment the expression is compiled against).
func (c *Compiler) scanFlat(root ast.Node, env types.Map) *flatScan {
	skip := map[file.Location]bool{}
	ast.Walk(&root, receivers(skip))
	v := &flatVisitor{c: c, env: env, scan: &flatScan{skip: skip, types: map[string]types.Type{}}}
	ast.Walk(&root, v)
	s := v.scan
	s.wholeSegments = v.segIdents > v.segTests
	s.wholeProfile = v.profileIdents > v.profileFields
	sort.Slice(s.refs, func(i, j int) bool { return s.refs[i].Key < s.refs[j].Key })
	sort.Strings(s.flags)
	return s
}

// receivers records the places of method receivers that are flattenable
// members.
type receivers map[file.Location]bool

func (r receivers) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.MemberNode); ok && n.Method {
		if base, ok := n.Node.(*ast.MemberNode); ok {
			if _, _, ok := flatMember(base); ok {
				r[base.Location()] = true
			}
		}
	}
}

type flatVisitor struct {
	c         *Compiler
	env       types.Map
	scan      *flatScan
	segIdents int
	segTests  int
	// `profile` as a name, and as the base of a constant field read
	profileIdents, profileFields int
}

func (v *flatVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case EnvSegments:
			v.segIdents++
		case EnvProfile:
			v.profileIdents++
		case "$env": // the whole environment: both may be read through it
			v.segIdents++
			v.profileIdents++
		}
	case *ast.MemberNode:
		scope, field, ok := flatMember(n)
		if !ok {
			return
		}
		if scope == EnvProfile {
			v.profileFields++
		}
		m, _ := v.env[scope].(types.Map)
		t, known := m[field]
		if !known {
			if _, extra := m[types.Extra]; !extra {
				return // an unknown field: the type check says so
			}
			t = types.Any
		}
		key := scope + "." + field
		if _, seen := v.scan.types[key]; !seen {
			v.scan.types[key] = t
			v.scan.refs = append(v.scan.refs, FlatRef{Key: key, Scope: scope, Field: field})
		}
	case *ast.BinaryNode:
		id, ok := segmentTest(n)
		if !ok || !v.c.segSet[id] {
			return
		}
		v.segTests++
		key := segmentFlag(id)
		if _, seen := v.scan.types[key]; !seen {
			v.scan.types[key] = types.Bool
			v.scan.flags = append(v.scan.flags, id)
		}
	}
}

// flatPatcher rewrites the reads that scanFlat found into flat names.
type flatPatcher struct{ scan *flatScan }

func (p *flatPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		scope, field, ok := flatMember(n)
		if !ok || p.scan.skip[n.Location()] {
			return
		}
		key := scope + "." + field
		if _, known := p.scan.types[key]; !known {
			return
		}
		id := &ast.IdentifierNode{Value: key}
		id.SetLocation(n.Location())
		if key == totalBaseKey {
			ast.Patch(node, wrapTotalBase(id)) // read through its check (base.go)
			return
		}
		ast.Patch(node, id)
	case *ast.BinaryNode:
		segID, ok := segmentTest(n)
		if !ok {
			return
		}
		key := segmentFlag(segID)
		if _, known := p.scan.types[key]; !known {
			return
		}
		op := "=="
		if n.Operator == "not in" {
			op = "!="
		}
		flag := &ast.IdentifierNode{Value: key}
		flag.SetLocation(n.Left.Location())
		yes := &ast.BoolNode{Value: true}
		yes.SetLocation(n.Location())
		b := &ast.BinaryNode{Operator: op, Left: flag, Right: yes}
		b.SetLocation(n.Location())
		ast.Patch(node, b)
	}
}

// flatEnv is env with the flat names of scan added.
func flatEnv(env types.Map, scan *flatScan) types.Map {
	if len(scan.types) == 0 {
		return env
	}
	out := make(types.Map, len(env)+len(scan.types))
	for k, v := range env {
		out[k] = v
	}
	for k, t := range scan.types {
		out[k] = t
	}
	return out
}

// addFlatNames adds to env, an environment of the nested shape documented in
// env.go, the flat names the programs read: every member of profile, cart
// and ctx, and the flag of every segment listed in segments. Env fills
// only the names a ruleset reads (Layout); this is for running a program
// elsewhere (the trial run, tests). It returns env.
func addFlatNames(env map[string]any) map[string]any {
	for scope := range flatScopes {
		m, _ := env[scope].(map[string]any)
		for k, v := range m {
			env[scope+"."+k] = v
		}
	}
	segs, _ := env[EnvSegments].([]string)
	for _, id := range segs {
		env[segmentFlag(id)] = true
	}
	return env
}

// record adds what one compiled expression reads to the ruleset's totals.
func (c *Compiler) record(scan *flatScan) {
	for _, r := range scan.refs {
		c.flat[r.Key] = r
	}
	for _, id := range scan.flags {
		c.flagged[id] = true
	}
	if scan.wholeSegments {
		c.wholeSegments = true
	}
	if scan.wholeProfile {
		c.wholeProfile = true
	}
}

// flatRefs lists every flat read of the ruleset, by key.
func (c *Compiler) flatRefs() []FlatRef {
	out := make([]FlatRef, 0, len(c.flat))
	for _, r := range c.flat {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Layout is what the compiled expressions of one ruleset read from the
// environment, which Env fills per decision. Finish makes it; it is
// immutable. A nil Layout reads nothing.
type Layout struct {
	flat          []FlatRef // in the order of fastEnv.Vals
	flags         []string  // per segment, in Finish's order: its flag, or ""
	readsSegments bool
	readsProfile  bool
}

// Flat lists the flat names the programs read, in the order Env fills
// them.
func (l *Layout) Flat() []FlatRef {
	if l == nil {
		return nil
	}
	return l.flat
}

// ReadsSegments reports whether some program reads `segments` as a list
// (not only through `"id" in segments`), so that Env keeps it up to date.
func (l *Layout) ReadsSegments() bool { return l != nil && l.readsSegments }

// ReadsProfile reports whether some program reads `profile` other than
// by constant field names (`profile[k]`, `$env`), so that its "id" must be
// the customer's.
func (l *Layout) ReadsProfile() bool { return l != nil && l.readsProfile }

// Finish is called once every expression is compiled, with the ids of the
// segments in the order the caller evaluates them (the order of the index
// it gives Env.Match). It gives the segments that programs test with
// `"id" in segments` their flags and every expression its fast form, and
// returns what the programs read.
func (c *Compiler) Finish(segments []string) *Layout {
	l := &Layout{flat: c.flatRefs(), flags: make([]string, len(segments)),
		readsSegments: c.wholeSegments, readsProfile: c.wholeProfile}
	fc := &fastCompiler{vals: make(map[string]int, len(l.flat)), flags: map[string]int{}}
	for i, r := range l.flat {
		fc.vals[r.Key] = i
	}
	for i, id := range segments {
		if c.flagged[id] {
			l.flags[i] = segmentFlag(id)
			fc.flags[l.flags[i]] = i
		}
	}
	for _, x := range c.exprs {
		if x.kind.bool() {
			x.cond = fc.cond(x.prog.Node())
			if x.kind == KindCond {
				x.guard = fc.guardOf(x.prog.Node())
			}
		} else {
			x.num = fc.num(x.prog.Node())
		}
	}
	return l
}
