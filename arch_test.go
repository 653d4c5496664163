package arbiter_test

// The layout of docs/architecture.md, checked: every package sits on a
// level, imports only packages on lower levels ("a decision never goes
// back up"), and the core packages (levels 0 to 3) do no I/O of their own.
// A new package must be given its level here, with docs/architecture.md.

import (
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

func TestLayout(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
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
		dir := filepath.ToSlash(filepath.Dir(path))
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
