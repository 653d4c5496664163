// Command load is Arbiter's load harness: it builds and starts `arbiter
// serve` in each scenario, measures its saturation throughput (closed loop)
// and its latency at half of it (open loop, no coordinated omission),
// alternating with a "ceiling" server that answers the same requests with a
// fixed answer of the same size, and writes a Markdown and a JSON report.
//
//	go run ./bench/load -scenarios a,b,c,d -out bench/out
//
// See bench/README.md. Linux only (CPU time from /proc). Loopback only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

// config is the command line.
type config struct {
	scenarios    string
	out          string
	arbiter      string
	rules        string
	rounds       int
	duration     time.Duration
	openDuration time.Duration
	openShare    float64
	warmup       time.Duration
	conns        int
	openWorkers  int
	profiles     int
	profilesReal int
	anon         float64
	unknown      float64
	capShare     float64
	redisURL     string
	natsURL      string
	seed         int64
	timeout      time.Duration
	maxTotal     time.Duration
	keep         bool
	pprof        time.Duration
	trace        time.Duration
	openCSV      bool
	serveArgs    string

	ceilingServe string
	ceilingSize  int
	hold         string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.scenarios, "scenarios", "a,b,c,d", "scenarios to run, comma-separated: a, b, c, d (and nocaps); see bench/README.md")
	fs.StringVar(&c.out, "out", "bench/out", "`DIR` for results.md, results.json and the servers' logs")
	fs.StringVar(&c.arbiter, "arbiter", "", "a built arbiter `BINARY` (default: go build ./cmd/arbiter into a temporary directory)")
	fs.StringVar(&c.rules, "rules", "examples/checkout", "the rules `DIR` of the scenarios (c and d derive theirs from it)")
	fs.IntVar(&c.rounds, "rounds", 3, "closed-loop alternations Arbiter, ceiling per scenario")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each closed-loop run")
	fs.DurationVar(&c.openDuration, "open-duration", 10*time.Second, "length of each open-loop run")
	fs.Float64Var(&c.openShare, "open-share", 0.5, "open-loop rate as a share of the saturation throughput")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "closed-loop warm-up before measuring (after the cache warm-up of a, c, d)")
	fs.IntVar(&c.conns, "conns", 32, "connections of the closed loop (in total, split over replicas)")
	fs.IntVar(&c.openWorkers, "open-workers", 256, "concurrent senders (and connections) of the open loop")
	fs.IntVar(&c.profiles, "profiles", 10000, "generated profiles of the cache-hit scenarios (a, c, d)")
	fs.IntVar(&c.profilesReal, "profiles-new", 100000, "generated profiles of scenario b (every request a new customer)")
	fs.Float64Var(&c.anon, "anonymous", 0.10, "share of requests without customer_id")
	fs.Float64Var(&c.unknown, "unknown", 0.10, "share of requests with an id that has no profile")
	fs.Float64Var(&c.capShare, "cap-share", 0.10, "share of the offers given a total cap and a budget in scenarios c and d")
	fs.StringVar(&c.hold, "hold", "", "`DURATION` written as caps.hold of the offers capped in c and d (every such grant a hold and a grant record); empty: no hold")
	fs.StringVar(&c.redisURL, "redis", "redis://127.0.0.1:6379/9", "the real Redis of b and d (loopback; keys under a prefix of their own, deleted afterwards)")
	fs.StringVar(&c.natsURL, "nats", "nats://127.0.0.1:4222", "the real NATS with JetStream of b and d (loopback; a subject prefix and stream of their own, deleted afterwards)")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the profiles and of the request mix")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "per-request timeout")
	fs.DurationVar(&c.maxTotal, "max-total", 30*time.Minute, "bound of the whole run")
	fs.DurationVar(&c.pprof, "pprof", 0, "capture a CPU profile of `D` from each scenario's (first) server under closed-loop load, then its live heap, when it serves /debug/pprof/ (0: no)")
	fs.StringVar(&c.serveArgs, "serve-args", "", "extra `FLAGS` for every `arbiter serve` (space-separated), for experiments: the figures are then not the standard ones")
	fs.BoolVar(&c.openCSV, "open-csv", false, "write each scenario's open loop, a line an answered request (when it was meant to go and its latency), and Arbiter's collections meanwhile, as <scenario>-open.csv and <scenario>-open-gc.csv in -out")
	fs.DurationVar(&c.trace, "trace", 0, "capture an execution trace of `D` from each scenario's (first) server during its open loop (0: no; go tool trace)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (built binary, rules, profiles)")
	fs.StringVar(&c.ceilingServe, "ceiling-serve", "", "internal: serve the ceiling on `ADDR` (the harness starts itself so)")
	fs.IntVar(&c.ceilingSize, "ceiling-size", 600, "internal: the ceiling's answer size in bytes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.ceilingServe != "" {
		return serveCeiling(ctx, c.ceilingServe, c.ceilingSize, stdout, stderr)
	}
	if err := c.check(); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		fs.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(ctx, c.maxTotal)
	defer cancel()
	if err := bench(ctx, c, log); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	return 0
}

func (c *config) check() error {
	for _, s := range strings.Split(c.scenarios, ",") {
		if _, ok := scenarioDefs()[strings.TrimSpace(s)]; !ok {
			return fmt.Errorf("unknown scenario %q (want a, b, c, d or nocaps)", s)
		}
	}
	switch {
	case c.rounds < 1 || c.rounds > 20:
		return fmt.Errorf("-rounds %d: want 1 to 20", c.rounds)
	case c.duration <= 0 || c.duration > 5*time.Minute:
		return fmt.Errorf("-duration %s: want up to 5m", c.duration)
	case c.openDuration <= 0 || c.openDuration > 5*time.Minute:
		return fmt.Errorf("-open-duration %s: want up to 5m", c.openDuration)
	case c.openShare <= 0 || c.openShare > 1:
		return fmt.Errorf("-open-share %g: want 0 < share <= 1", c.openShare)
	case c.conns < 1 || c.conns > 4096:
		return fmt.Errorf("-conns %d: want 1 to 4096", c.conns)
	case c.openWorkers < 1 || c.openWorkers > 8192:
		return fmt.Errorf("-open-workers %d: want 1 to 8192", c.openWorkers)
	case c.pprof < 0 || c.pprof > time.Minute:
		return fmt.Errorf("-pprof %s: want 0 to 1m", c.pprof)
	case c.trace < 0 || c.trace > c.openDuration:
		return fmt.Errorf("-trace %s: want 0 to the open loop's length (-open-duration %s)", c.trace, c.openDuration)
	case c.profiles < 1 || c.profilesReal < 1:
		return errors.New("-profiles and -profiles-new must be positive")
	}
	for _, u := range []string{c.redisURL, c.natsURL} {
		if err := checkLoopbackURL(u); err != nil {
			return err
		}
	}
	return nil
}

// scenario describes one scenario's set-up.
type scenarioDef struct {
	title      string
	replicas   int
	realDeps   bool // the real Redis and NATS instead of the embedded ones
	sequential bool // every request a new customer
	capped     bool // derived ruleset with caps and budgets on a share of the offers
	noCaps     bool // derived ruleset without any caps
	cacheTTL   string
}

func scenarioDefs() map[string]scenarioDef {
	return map[string]scenarioDef{
		"a":      {title: "cache hit, embedded Redis and NATS", replicas: 1, cacheTTL: "1h"},
		"b":      {title: "new customer every request, real Redis and NATS", replicas: 1, realDeps: true, sequential: true, cacheTTL: "0s"},
		"c":      {title: "as a, with total caps and budgets on ~10% of offers", replicas: 1, capped: true, cacheTTL: "1h"},
		"d":      {title: "two replicas on one real Redis and NATS, caps as c", replicas: 2, realDeps: true, capped: true, cacheTTL: "1h"},
		"nocaps": {title: "as a, every caps block removed (no ledger work)", replicas: 1, noCaps: true, cacheTTL: "1h"},
	}
}

// bench runs every scenario and writes the report.
func bench(ctx context.Context, c config, log *slog.Logger) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(c.rules) {
		c.rules = filepath.Join(root, c.rules)
	}
	if !filepath.IsAbs(c.out) {
		c.out = filepath.Join(root, c.out)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "arbiter-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		log.Info("keeping the temporary directory", "dir", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := c.arbiter
	if bin == "" {
		bin = filepath.Join(tmp, "arbiter")
		log.Info("building arbiter", "out", bin)
		if err := goBuild(ctx, root, bin); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep := &loadgen.Report{
		Date: time.Now().UTC(),
		Machine: loadgen.Machine{
			Cores: runtime.NumCPU(), CPUModel: loadgen.ReadCPUModel(), GoVersion: runtime.Version(),
			Commit: gitCommit(ctx, root), OS: runtime.GOOS + "/" + runtime.GOARCH,
		},
		Settings: fmt.Sprintf("%d rounds of %s closed loop with %d connections, open loop %s at %.0f%% of saturation with %d senders, "+
			"warm-up %s; %d profiles (b: %d); %.0f%% anonymous, %.0f%% unknown ids; seed %d",
			c.rounds, c.duration, c.conns, c.openDuration, 100*c.openShare, c.openWorkers, c.warmup,
			c.profiles, c.profilesReal, 100*c.anon, 100*c.unknown, c.seed),
	}
	runID := time.Now().UTC().Format("20060102T150405")
	for _, name := range strings.Split(c.scenarios, ",") {
		name = strings.TrimSpace(name)
		if ctx.Err() != nil {
			break
		}
		def := scenarioDefs()[name]
		log.Info("scenario", "name", name, "what", def.title)
		env := &scenarioEnv{cfg: c, def: def, name: name, bin: bin, self: self, root: root,
			tmp: filepath.Join(tmp, name), runID: runID, log: log}
		s, err := env.run(ctx)
		if err != nil {
			log.Error("scenario failed", "name", name, "error", err.Error())
			s.Error = err.Error()
		}
		rep.Scenarios = append(rep.Scenarios, s)
		if err := writeReport(c.out, rep); err != nil { // after each scenario: a partial run still reports
			return err
		}
	}
	log.Info("report written", "markdown", filepath.Join(c.out, "results.md"), "json", filepath.Join(c.out, "results.json"))
	return ctx.Err()
}

func writeReport(dir string, rep *loadgen.Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "results.md"))
	if err != nil {
		return err
	}
	if err := rep.WriteMarkdown(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serveCeiling is the child mode: serve the ceiling until told to stop.
func serveCeiling(ctx context.Context, addr string, size int, stdout, stderr io.Writer) int {
	c, err := loadgen.StartCeiling(addr, size)
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ceiling listening on %s\n", c.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(sctx)
	return 0
}
