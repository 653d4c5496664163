package arbiter_test

// The layout of docs/architecture.md, checked: every package sits on a
// level, imports only packages on lower levels ("a decision never goes
// back up"), and the core packages (levels 0 to 4) do no I/O of their own.
// A new package must be given its level here, with docs/architecture.md.

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/arbiterhq/arbiter/"

// levels of the project's packages (directories relative to the module).
var levels = map[string]int{
	// 0: leaves, pure: the expression environment, decision ids, currency
	// codes, the console's assets, the example rulesets and customers
	"exprenv":             0,
	"decisionid":          0,
	"currency":            0,
	"redact":              0,
	"console":             0,
	"examples":            0,
	"examples/profilegen": 0,
	"examples/rulegen":    0,
	// 1: the rule model, and learning's statistics (what the engine reads
	// to score with propensity)
	"rules":    1,
	"learning": 1,
	// 2: the decision
	"engine": 2,
	// 3: pure models around the decision: its JSON, profiles, the ledger in
	// memory, what an outcome is about
	"wire":        3,
	"profiles":    3,
	"memledger":   3,
	"attribution": 3,
	// 4: pure tools built on them: rule tests, reports, simulation, replay
	"ruletest": 4,
	"report":   4,
	"simulate": 4,
	"replay":   4,
	// replay's recorded traffic, for its tests and benchmark
	"replay/replaygen": 4,
	// 5: adapters, the outside world
	"adapters/metrics":      5,
	"adapters/gctune":       5,
	"adapters/redisconn":    5,
	"adapters/rulefiles":    5,
	"adapters/ledger":       5,
	"adapters/profilestore": 5,
	"adapters/events":       5,
	"report/reporttest":     5,
	"bench/loadgen":         5,
	// 6: adapters built on other adapters
	"adapters/redisconn/redistest": 6,
	"adapters/events/eventstest":   6,
	"adapters/feedback":            6,
	"adapters/expcounters":         6,
	"adapters/httpapi":             6,
	// 7: commands: wiring, flags, exit codes
	"examples/profilegen/cmd/profilegen": 7,
	"bench/load":                         7,
	"bench/faults":                       7,
	"bench/replay":                       7,
	"bench/tracestat":                    7,
	"cmd/arbiter":                        7,
}

// corePure are the imports a core package (level ≤ 4) may not have: the
// network, processes, and the clients of the outside world. The file
// system is allowed only where noted in allowFS (reading at load time,
// never during a decision).
var forbiddenInCore = []string{
	"net", "net/http", "os/exec", "os/signal", "syscall",
	"github.com/redis/go-redis/v9", "github.com/nats-io/nats.go", "github.com/nats-io/nats-server/v2/server",
	"github.com/valyala/fasthttp", "github.com/fsnotify/fsnotify", "github.com/alicebob/miniredis/v2",
}

var allowFS = map[string]string{
	"exprenv": "reads the time-zone database at compile time, when the rules take a zone from data",
	"console": "gives its assets as an fs.FS over the embed.FS compiled into the binary; it never reads the disk",
}

// eachGoFile calls fn with every non-test Go file of the module (hidden
// and testdata directories left out) and its package's directory.
func eachGoFile(fn func(path, dir string) error) error {
	return filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		return fn(path, filepath.ToSlash(filepath.Dir(path)))
	})
}

func TestLayout(t *testing.T) {
	seen := map[string]bool{}
	err := eachGoFile(func(path, dir string) error {
		if dir == "." {
			return nil
		}
		seen[dir] = true
		level, ok := levels[dir]
		if !ok {
			t.Errorf("%s: package %s has no level: add it to levels in arch_test.go and to docs/architecture.md", path, dir)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok {
				dl, known := levels[dep]
				switch {
				case !known:
					t.Errorf("%s imports %s, which has no level", path, dep)
				case dl >= level && dep != dir:
					t.Errorf("%s (level %d) imports %s (level %d): a package imports only packages below it", path, level, dep, dl)
				}
				continue
			}
			if level > 4 {
				continue
			}
			for _, bad := range forbiddenInCore {
				if p == bad {
					t.Errorf("%s: the core package %s imports %s; I/O belongs in adapters/", path, dir, p)
				}
			}
			if (p == "os" || p == "io/fs" || p == "path/filepath") && allowFS[dir] == "" && !strings.HasPrefix(dir, "examples") {
				t.Errorf("%s: the core package %s imports %s; reading files belongs in adapters/ (or say why in allowFS)", path, dir, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for dir := range levels {
		if !seen[dir] {
			stale = append(stale, dir)
		}
	}
	sort.Strings(stale)
	t.Logf("levels of packages not in the tree (yet): %v", stale)
}

// TestLayoutDocumented checks docs/architecture.md's table of packages
// against the tree: every package with a level here has a row there, at
// that level (or a range that holds it), every row names a package with a
// level, and the packages of the project a package imports are among those
// its row says it may import ("—": none; "everything", "everything below"
// or an empty cell: not checked). A row of several packages gives each its
// own list, separated by ";", or one list for all of them.
func TestLayoutDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	imports := projectImports(t)
	documented := map[string]bool{}
	for n, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.Contains(cells[2], "`") {
			continue // not a row of the table of packages
		}
		where := fmt.Sprintf("docs/architecture.md:%d", n+1)
		lo, hi, ok := levelRange(strings.TrimSpace(cells[1]))
		if !ok {
			continue // the header, the separator
		}
		var pkgs []string
		for i, f := range strings.Split(cells[2], "`") {
			if i%2 == 1 {
				pkgs = append(pkgs, f)
			}
		}
		may := strings.TrimSpace(cells[4])
		groups := strings.Split(may, ";")
		for i, pkg := range pkgs {
			documented[pkg] = true
			level, known := levels[pkg]
			switch {
			case !known:
				t.Errorf("%s: the package %s has a row but no level in arch_test.go (or does not exist)", where, pkg)
				continue
			case level < lo || level > hi:
				t.Errorf("%s: %s is at level %d in arch_test.go, its row says %s", where, pkg, level, strings.TrimSpace(cells[1]))
			}
			if may == "" || strings.HasPrefix(may, "everything") {
				continue
			}
			list := may
			if len(groups) == len(pkgs) {
				list = groups[i]
			}
			allowed := map[string]bool{}
			for _, name := range strings.Split(list, ",") {
				if name = strings.TrimSpace(name); name != "" && name != "—" {
					dep, ok := resolvePackage(name)
					if !ok {
						t.Errorf("%s: %s may import %q, which names no package (or more than one)", where, pkg, name)
					}
					allowed[dep] = true
				}
			}
			for _, dep := range imports[pkg] {
				if !allowed[dep] {
					t.Errorf("%s: %s imports %s, which its row does not list among the packages it may import", where, pkg, dep)
				}
			}
		}
	}
	for pkg := range levels {
		if !documented[pkg] {
			t.Errorf("docs/architecture.md: the package %s (level %d in arch_test.go) has no row in the table of packages", pkg, levels[pkg])
		}
	}
}

// levelRange reads a level cell: "3", or "5–7" (an en dash or a hyphen).
func levelRange(cell string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(strings.ReplaceAll(cell, "–", "-"), "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	if !found {
		return lo, lo, true
	}
	hi, err = strconv.Atoi(b)
	return lo, hi, err == nil
}

// resolvePackage reads a name of the "may import" column: a package's
// directory, or its last elements when they name one package only
// ("events" is adapters/events).
func resolvePackage(name string) (string, bool) {
	if _, ok := levels[name]; ok {
		return name, true
	}
	var found []string
	for dir := range levels {
		if strings.HasSuffix(dir, "/"+name) {
			found = append(found, dir)
		}
	}
	if len(found) != 1 {
		return name, false
	}
	return found[0], true
}

// projectImports gives, per package directory, the project's packages that
// its non-test files import.
func projectImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	seen := map[string]bool{}
	err := eachGoFile(func(path, dir string) error {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !seen[dir+" "+dep] {
				seen[dir+" "+dep] = true
				out[dir] = append(out[dir], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPackageDocs checks that every package says what it holds: one of its
// files opens with a "// Package x ..." comment ("// Command x ..." for a
// main package), as go doc shows it.
func TestPackageDocs(t *testing.T) {
	documented := map[string]bool{}
	names := map[string]string{}
	err := eachGoFile(func(path, dir string) error {
		if dir == "." {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		names[dir] = f.Name.Name
		if f.Doc == nil {
			return nil
		}
		want := "Package " + f.Name.Name + " "
		if f.Name.Name == "main" {
			want = "Command "
		}
		if strings.HasPrefix(f.Doc.Text(), want) {
			documented[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, name := range names {
		if !documented[dir] {
			t.Errorf("%s: package %s has no doc comment: write \"// Package %s ...\" (\"// Command NAME ...\" for a command) above the package clause of one file, saying what it holds", dir, name, name)
		}
	}
}
