package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in the rule files: where, what, and where it can,
// what to write instead.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // e.g. "did you mean profile.ltv?"; may be empty
	// Cause: the problem is a likely cause of others (an unknown or
	// misplaced key); causes are listed first.
	Cause bool
}

// Error formats the problem as file:line:col: message (hint).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.File)
	if e.Pos.Line > 0 {
		b.WriteString(":")
		b.WriteString(itoa(e.Pos.Line))
		b.WriteString(":")
		b.WriteString(itoa(e.Pos.Col))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// Errors is every problem found in one load, in file and line order.
type Errors []*Error

// Error lists the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// ErrNoRuleFiles is returned when there is no rule file to compile.
var ErrNoRuleFiles = errors.New("rules: no *.yaml or *.yml files found")

// File is one rule file: its path relative to the rules directory,
// slash-separated (as errors and Ruleset.Files show it), and its content.
type File struct {
	Path string
	Data []byte
}

// Compile compiles the rule files into one Ruleset, in path order; files
// whose path ends in _test.yaml or _test.yml hold rule tests, and files
// whose path ends in _truth.yaml or _truth.yml, or in _traffic.yaml or
// _traffic.yml (arbiter simulate's truth and traffic files), are not
// rules and are left out. It reads
// nothing (adapters/rulefiles reads a rules directory). Problems in the
// rules come back as Errors (use errors.As); no files at all is
// ErrNoRuleFiles.
func Compile(files []File) (*Ruleset, error) {
	if len(files) == 0 {
		return nil, ErrNoRuleFiles
	}
	files = slices.DeleteFunc(slices.Clone(files), func(f File) bool { return IsTruthFile(f.Path) || IsTrafficFile(f.Path) })
	if len(files) == 0 {
		return nil, ErrNoRuleFiles
	}
	slices.SortStableFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	paths := make([]string, len(files))
	l := newLoader()
	var s sections
	for i, f := range files {
		paths[i] = f.Path
		if blankYAML(f.Data) {
			l.errAt(Pos{File: f.Path, Line: 1, Col: 1}, emptyHint, "empty rule file")
			continue
		}
		errs := len(l.errs)
		roots := l.parseFile(f.Path, f.Data)
		if len(l.errs) == errs && !hasDocument(l, roots) {
			l.errAt(Pos{File: f.Path, Line: 1, Col: 1}, emptyHint, "empty rule file: it holds no YAML document")
			continue
		}
		for _, root := range roots {
			l.gather(&s, f.Path, root)
		}
	}
	return l.build(&s, paths)
}

// emptyHint says what to do about an empty rule file.
const emptyHint = "a rule file that holds nothing is refused, so that a truncated write never empties the shop: write its rules back, or delete the file"

// blankYAML reports whether data holds only whitespace and comments.
func blankYAML(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// hasDocument reports whether a file's documents hold anything but null
// (a file of only "---" or "~" has no document to load).
func hasDocument(l *loader, roots []*yaml.Node) bool {
	for _, r := range roots {
		if !isNull(l.deref(r)) {
			return true
		}
	}
	return false
}

// build compiles the gathered sections into a Ruleset.
func (l *loader) build(s *sections, paths []string) (*Ruleset, error) {
	cur, rates := l.compileCurrency(s)
	schema := l.compileSchema(s.profile)
	segDecls := l.declareSegments(s.segments)
	segIDs := make([]string, len(segDecls))
	for i, d := range segDecls {
		segIDs[i] = d.id
	}
	learning := l.learningNode(s.arbitration)
	l.learns = learning != nil
	c := newExprCompiler(l, &schema, segIDs)
	segs := l.compileSegments(c, segDecls)

	offerDecls := l.declareOffers(s.offers)
	offers := make([]*Offer, len(offerDecls))
	byID := make(map[string]*Offer, len(offerDecls))
	decls := make(map[string]*yaml.Node, len(offerDecls))
	for i, d := range offerDecls {
		o := l.compileOffer(c, d.id, d.node, false)
		if o == nil {
			o = &Offer{ID: d.id, Pos: l.pos(d.node)}
		}
		o.Index = i
		offers[i] = o
		byID[d.id] = o
		decls[d.id] = d.node
	}
	arb := l.compileArbitration(s.arbitration, byID)
	arb.Learning = l.compileLearning(c, learning)
	fallback := map[string]bool{}
	for _, id := range arb.Fallback {
		fallback[id] = true
		byID[id].Fallback = true
	}
	exps := l.compileExperiments(c, s.experiments, byID, decls, fallback)
	tests := l.compileTests(c, s.tests, s.testNow, byID, exps)
	if l.overBudget() {
		l.errAt(Pos{File: paths[0], Line: 1, Col: 1}, "write the values out instead of through many aliases",
			"the rules expand to more than %d YAML nodes through aliases", maxAliasExpansion)
	}
	if len(l.errs) > 0 {
		es := sortErrors(l.errs)
		if l.suppressed > 0 {
			es = append(es, &Error{Pos: l.pos(l.dropKey), Msg: fmt.Sprintf("%d more %s not shown: references to what `%s` declares, which follow from the error here",
				l.suppressed, plural(l.suppressed, "error is", "errors are"), l.dropKey.Value), Hint: "fix it and check again"})
		}
		return nil, es
	}
	version := l.version(s, segDecls, offerDecls)
	if l.overBudget() {
		return nil, Errors{{Pos: Pos{File: paths[0], Line: 1, Col: 1}, Msg: fmt.Sprintf("the rules expand to more than %d YAML nodes through aliases", maxAliasExpansion)}}
	}
	layout := c.finish(segs)
	recorded := recordedFields(&schema, layout, offers, exps)
	rs := &Ruleset{
		Version:     version,
		Env:         layout,
		Schema:      schema,
		Segments:    segs,
		Offers:      offers,
		Experiments: exps,
		Arbitration: arb,
		Currency:    cur,
		Rates:       rates,
		Warnings:    sortErrors(append(l.budgetWarnings(), l.warnings...)),
		Files:       paths,
		Tests:       tests,
		offers:      byID,
		recorded:    recorded,
		recordedAt:  schema.positions((&Schema{Fields: recorded}).Names()),
		profileAt:   schema.positions(flatProfileNames(layout)),
		schemaNames: schema.Names(),
		index:       buildIndex(segs, offers),
	}
	rs.markLearners()
	return rs, nil
}
