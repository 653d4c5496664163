package exprenv

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
)

// Time zones. hourIn, weekdayIn and expr's timezone and date read a zone
// by name. No zone is read from the database during a decision, since a
// name that comes from data (`hourIn(profile.tz)`) would let a request
// make the decision read the file system: a zone named by a constant is
// resolved when the expression is compiled, and when any expression takes
// its zone from data, the whole database is loaded then, once per
// compiler, so that a name from data is a map lookup. A name the database
// does not hold (or "Local": the machine's own zone never decides) is a
// run-time error of the rule, which then does not match; "" and "UTC" are
// UTC, as for time.LoadLocation.

// Zones is a time-zone database, read at compile time only.
type Zones interface {
	// Load returns the zone of an IANA name ("Europe/Paris").
	Load(name string) (*time.Location, error)
	// All returns every zone of the database, by name.
	All() (map[string]*time.Location, error)
}

// SystemZones is the database time.LoadLocation reads: the zoneinfo
// directory or zip named by $ZONEINFO, else the system's zoneinfo
// directory (/usr/share/zoneinfo, ...), else Go's lib/time/zoneinfo.zip.
func SystemZones() Zones { return systemZones{} }

type systemZones struct{}

func (systemZones) Load(name string) (*time.Location, error) { return time.LoadLocation(name) }

// All reads every zone of the first source that holds any, skipping the
// posix/ and right/ copies of the database and the machine's localtime.
func (systemZones) All() (map[string]*time.Location, error) {
	var sources []string
	if z := os.Getenv("ZONEINFO"); z != "" {
		sources = append(sources, z)
	}
	sources = append(sources, "/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo")
	if root := runtime.GOROOT(); root != "" {
		sources = append(sources, filepath.Join(root, "lib", "time", "zoneinfo.zip"))
	}
	var errs []error
	for _, src := range sources {
		m, err := readZones(src)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if len(m) > 0 {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no time-zone database found in %s: %w", strings.Join(sources, ", "), errors.Join(errs...))
}

// readZones reads a zoneinfo directory, or a zip of one.
func readZones(src string) (map[string]*time.Location, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	out := map[string]*time.Location{}
	add := func(name string, data []byte) {
		if !bytes.HasPrefix(data, []byte("TZif")) || name == "localtime" ||
			strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/") {
			return
		}
		if loc, err := time.LoadLocationFromTZData(name, data); err == nil {
			out[name] = loc
		}
	}
	if !st.IsDir() {
		z, err := zip.OpenReader(src)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", src, err)
		}
		defer z.Close()
		for _, f := range z.File {
			r, err := f.Open()
			if err != nil {
				continue
			}
			data, err := io.ReadAll(r)
			r.Close()
			if err == nil {
				add(f.Name, data)
			}
		}
		return out, nil
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // an unreadable part of the tree: the rest still counts
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil {
			add(path.Clean(filepath.ToSlash(rel)), data)
		}
		return nil
	})
	return out, err
}

// zoneTable holds the zones the expressions of one compiler may read. It
// is written while compiling only; a decision only looks names up.
type zoneTable struct {
	src   Zones
	named map[string]*time.Location
	all   bool  // every zone of src is in named
	err   error // why loading every zone failed
}

func newZoneTable(src Zones) *zoneTable {
	return &zoneTable{src: src, named: map[string]*time.Location{}}
}

// constant resolves a zone named by a constant, at compile time.
func (z *zoneTable) constant(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	if loc, ok := z.named[name]; ok {
		return loc, nil
	}
	if z.all {
		return nil, fmt.Errorf("unknown time zone %s", name)
	}
	loc, err := z.src.Load(name)
	if err != nil {
		return nil, err
	}
	z.named[name] = loc
	return loc, nil
}

// loadAll loads every zone, at compile time, for an expression that
// takes its zone from data.
func (z *zoneTable) loadAll() error {
	if z.all || z.err != nil {
		return z.err
	}
	m, err := z.src.All()
	if err != nil {
		z.err = err
		return err
	}
	for name, loc := range m {
		if name != "" && name != "Local" {
			z.named[name] = loc
		}
	}
	z.all = true
	return nil
}

// lookup is the zone of a name at run time: from the table only.
func (z *zoneTable) lookup(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := z.named[name]; ok {
		return loc, nil
	}
	return nil, fmt.Errorf("unknown time zone %s", name)
}

// location is a zone argument at run time: resolved at compile time, or
// a name.
func (z *zoneTable) location(p any) (*time.Location, error) {
	switch v := p.(type) {
	case *time.Location:
		return v, nil
	case string:
		return z.lookup(v)
	default:
		return nil, fmt.Errorf("time zone must be a string, got %T", p)
	}
}

// checkWeekdays fails a comparison of weekdayIn with a text it never
// gives (`weekdayIn("UTC") == "monday"`, `in ["Sat"]`): the rule would
// never match, in silence. It reports false when it failed.
func (c *Compiler) checkWeekdays(src string, root ast.Node) bool {
	v := &weekdayChecker{}
	ast.Walk(&root, v)
	for _, s := range v.bad {
		hint := `weekdayIn gives "mon", "tue", "wed", "thu", "fri", "sat" or "sun"`
		if low := strings.ToLower(s.Value); len(low) >= 3 && slices.Contains(weekdayNames[:], low[:3]) {
			hint = `write "` + low[:3] + `": ` + hint
		}
		c.fail(s.Location().From, hint, "weekdayIn never gives %q, so this comparison never holds, in %s", s.Value, shorten(src))
	}
	return len(v.bad) == 0
}

type weekdayChecker struct{ bad []*ast.StringNode }

func (v *weekdayChecker) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok {
		return
	}
	isWeekday := func(n ast.Node) bool {
		call, ok := n.(*ast.CallNode)
		if !ok {
			return false
		}
		id, ok := call.Callee.(*ast.IdentifierNode)
		return ok && id.Value == "weekdayIn"
	}
	check := func(n ast.Node) {
		if s, ok := n.(*ast.StringNode); ok && !slices.Contains(weekdayNames[:], s.Value) {
			v.bad = append(v.bad, s)
		}
	}
	switch b.Operator {
	case "==", "!=":
		if isWeekday(b.Left) {
			check(b.Right)
		} else if isWeekday(b.Right) {
			check(b.Left)
		}
	case "in", "not in":
		if a, ok := b.Right.(*ast.ArrayNode); ok && isWeekday(b.Left) {
			for _, n := range a.Nodes {
				check(n)
			}
		}
	}
}
