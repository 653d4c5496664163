package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in the rule files: where, what, and where it can,
// what to write instead.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // e.g. "did you mean profile.ltv?"; may be empty
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

// ErrNoRuleFiles is returned when a rules directory holds no *.yaml file.
var ErrNoRuleFiles = errors.New("rules: no *.yaml or *.yml files found")

// Load reads every *.yaml file under dir, recursively, and compiles them
// into one Ruleset. Problems in the rules come back as Errors (use
// errors.As); anything else is an I/O error.
func Load(dir string) (*Ruleset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("rules: %s is not a directory", dir)
	}
	rs, err := LoadFS(os.DirFS(dir))
	if errors.Is(err, ErrNoRuleFiles) {
		return nil, fmt.Errorf("%w under %s", ErrNoRuleFiles, dir)
	}
	return rs, err
}

// ruleFiles lists the *.yaml and *.yml files under the root of fsys,
// sorted, skipping hidden files and directories (.git, and the ..data and
// ..<timestamp> directories of a Kubernetes ConfigMap volume, whose files
// are also linked from the top). Symbolic links are followed, to files and
// to directories, and every file and directory is read once, by the first
// path that leads to it (so a link cycle ends, and a link to a directory
// beside that directory reads it once). A link to a rule file that is
// missing is an error: a deleted target must not drop rules in silence.
func ruleFiles(fsys fs.FS) ([]string, error) {
	var paths []string
	var dirs, files []fs.FileInfo
	seen := func(list *[]fs.FileInfo, fi fs.FileInfo) bool {
		for _, x := range *list {
			if os.SameFile(x, fi) {
				return true
			}
		}
		*list = append(*list, fi)
		return false
	}
	isRuleFile := func(name string) bool {
		ext := path.Ext(name)
		return ext == ".yaml" || ext == ".yml"
	}
	var walk func(root string) error
	walk = func(root string) error {
		return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if p != root && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			isLink := d.Type()&fs.ModeSymlink != 0
			if !d.IsDir() && !isLink {
				if !isRuleFile(name) {
					return nil
				}
				if fi, err := d.Info(); err == nil && seen(&files, fi) {
					return nil
				}
				paths = append(paths, p)
				return nil
			}
			fi, err := fs.Stat(fsys, p) // follows a link
			if err != nil {
				if isLink && isRuleFile(name) {
					return fmt.Errorf("%s links to a file that does not exist", p)
				}
				if isLink {
					return nil // a dangling link to something else
				}
				return err
			}
			switch {
			case fi.IsDir() && isLink:
				return walk(p) // which skips it when it was read already
			case fi.IsDir() && seen(&dirs, fi):
				return fs.SkipDir
			case fi.IsDir():
				return nil
			case isRuleFile(name) && !seen(&files, fi):
				paths = append(paths, p)
			}
			return nil
		})
	}
	if err := walk("."); err != nil {
		return nil, fmt.Errorf("rules: reading the rules directory: %w", err)
	}
	sort.Strings(paths)
	return paths, nil
}

// LoadFS is Load on a file system; paths in errors are relative to its root.
func LoadFS(fsys fs.FS) (*Ruleset, error) {
	paths, err := ruleFiles(fsys)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, ErrNoRuleFiles
	}
	l := newLoader()
	var s sections
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("rules: reading %s: %w", p, err)
		}
		for _, root := range l.parseFile(p, data) {
			l.gather(&s, p, root)
		}
	}
	return l.build(&s, paths)
}

// build compiles the gathered sections into a Ruleset.
func (l *loader) build(s *sections, paths []string) (*Ruleset, error) {
	schema := l.compileSchema(s.profile)
	segDecls := l.declareSegments(s.segments)
	segIDs := make([]string, len(segDecls))
	for i, d := range segDecls {
		segIDs[i] = d.id
	}
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
	fallback := map[string]bool{}
	for _, id := range arb.Fallback {
		fallback[id] = true
		byID[id].Fallback = true
	}
	exps := l.compileExperiments(c, s.experiments, byID, decls, fallback)
	tests := l.compileTests(c, s.tests, byID, exps)
	if l.overBudget() {
		l.errAt(Pos{File: paths[0], Line: 1, Col: 1}, "write the values out instead of through many aliases",
			"the rules expand to more than %d YAML nodes through aliases", maxAliasExpansion)
	}
	if len(l.errs) > 0 {
		return nil, sortErrors(l.errs)
	}
	version := l.version(s, segDecls, offerDecls)
	if l.overBudget() {
		return nil, Errors{{Pos: Pos{File: paths[0], Line: 1, Col: 1}, Msg: fmt.Sprintf("the rules expand to more than %d YAML nodes through aliases", maxAliasExpansion)}}
	}
	return &Ruleset{
		Version:     version,
		Env:         c.finish(segs),
		Schema:      schema,
		Segments:    segs,
		Offers:      offers,
		Experiments: exps,
		Arbitration: arb,
		Files:       paths,
		Tests:       tests,
		offers:      byID,
	}, nil
}
