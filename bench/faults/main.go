// Command faults is Arbiter's fault suite: it builds cmd/arbiter, starts
// its own redis-server and nats-server processes on free loopback ports,
// runs each scenario under load while it kills, stops and breaks them, and
// writes RELIABILITY.md: per scenario its goal, its measured figures and
// whether it passed.
//
//	go run ./bench/faults [-short] [-only NAMES] [-out RELIABILITY.md]
//
// -short runs each scenario for a few seconds (the whole in about three
// minutes, as .ci/run does); without it, each runs as long as its goal
// says (NATS down 30 s, ...). Every scenario is bounded in time and ends
// every process it started. Nothing touches the machine's own Redis or
// NATS: the suite never connects to a port it did not start a server on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

// The suite's secrets: the API key every arbiter accepts, the key that
// signs decision ids (the same on every replica), and the passwords of
// the secured Redis and NATS of the bad-input scenario. The bad-input
// scenario checks that none of them ever shows in an answer or a log.
const (
	apiKey      = "faults-key-5e1c7a9d2b"
	decisionKey = "faults-decision-key-0123456789abcdef"
	redisPass   = "faults-redis-pw-83f1"
	natsPass    = "faults-nats-pw-27c4"
)

// env is what every scenario shares.
type env struct {
	root  string // module root
	bin   string // the arbiter binary
	dir   string // the run's temporary directory
	short bool
	log   *slog.Logger
}

// figure is one measured figure of a scenario.
type figure struct {
	name, value string
	key         bool // in the summary table
}

// result is a scenario's outcome.
type result struct {
	name, goal string
	// status: "pass", "fail", "not run: needs X", or "error: ..." when
	// the scenario could not run to the end.
	status  string
	figures []figure
	notes   []string
	took    time.Duration
}

func (r *result) add(name, format string, a ...any) {
	r.figures = append(r.figures, figure{name: name, value: fmt.Sprintf(format, a...)})
}

// key adds a figure that also goes in the summary table.
func (r *result) key(name, format string, a ...any) {
	r.figures = append(r.figures, figure{name: name, value: fmt.Sprintf(format, a...), key: true})
}

func (r *result) note(format string, a ...any) { r.notes = append(r.notes, fmt.Sprintf(format, a...)) }

// check records a condition of the goal: the scenario fails if it is false.
func (r *result) check(ok bool, format string, a ...any) {
	if !ok {
		r.status = "fail"
		r.notes = append(r.notes, "FAILED: "+fmt.Sprintf(format, a...))
	}
}

// scenario is one fault scenario.
type scenario struct {
	name, goal string
	// bound is the scenario's time limit (full, short).
	bound, shortBound time.Duration
	run               func(ctx context.Context, e *env, ps *procs, r *result) error
}

func scenarios() []scenario {
	return []scenario{
		capsScenario(), redisScenario(), natsScenario(), natsClusterScenario(),
		redisClusterScenario(), shutdownScenario(), reloadScenario(), badInputScenario(),
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "each scenario a few seconds (CI)")
	only := fs.String("only", "", "comma-separated scenario names to run (default: all): "+names())
	out := fs.String("out", "RELIABILITY.md", "the report to write (relative to the module root)")
	arbiterBin := fs.String("arbiter", "", "an arbiter binary already built (default: go build ./cmd/arbiter)")
	keep := fs.Bool("keep", false, "keep the run's directory (logs, rules, data) for inspection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	chosen, err := choose(*only)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	for _, bin := range []string{"redis-server", "redis-cli", "nats-server"} {
		if _, err := exec.LookPath(bin); err != nil {
			fmt.Fprintf(stderr, "faults: %s is not on PATH: install Redis 7 and nats-server 2.9+ (they are started on free loopback ports, never the machine's own)\n", bin)
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "arbiter-faults-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *keep {
		fmt.Fprintln(stderr, "faults: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{root: root, dir: dir, short: *short, log: log, bin: *arbiterBin}
	ctx := context.Background()
	if e.bin == "" {
		e.bin = filepath.Join(dir, "arbiter")
		log.Info("building cmd/arbiter")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/arbiter")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(stderr, "go build ./cmd/arbiter: %v\n%s", err, b)
			return 1
		}
	}
	rep := report{date: time.Now().UTC(), commit: gitCommit(root), machine: machine(), short: *short,
		command: "go run ./bench/faults" + strings.Join(append([]string{""}, args...), " ")}
	failed := false
	for _, s := range chosen {
		r := runScenario(ctx, e, s)
		log.Info("scenario done", "name", r.name, "status", r.status, "took", r.took.Round(time.Millisecond))
		for _, f := range r.figures {
			fmt.Fprintf(stdout, "%-22s %-48s %s\n", r.name, f.name, f.value)
		}
		for _, n := range r.notes {
			fmt.Fprintf(stdout, "%-22s note: %s\n", r.name, n)
		}
		fmt.Fprintf(stdout, "%-22s => %s (%s)\n", r.name, r.status, r.took.Round(time.Second))
		if !passed(r.status) {
			failed = true
		}
		rep.results = append(rep.results, r)
	}
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, []byte(rep.markdown()), 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log.Info("report written", "path", path)
	if failed {
		return 1
	}
	return 0
}

// passed reports whether a scenario's status lets the run pass: only
// "pass". A scenario not run (its feature missing from the binary, or not
// found in serve --help) checked nothing, and CI must not take that for a
// pass.
func passed(status string) bool { return status == "pass" }

// runScenario runs one scenario in its own directory, bounded in time,
// and ends every process it started.
func runScenario(ctx context.Context, e *env, s scenario) result {
	r := result{name: s.name, goal: s.goal, status: "pass"}
	bound := s.bound
	if e.short {
		bound = s.shortBound
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	ps := &procs{dir: filepath.Join(e.dir, s.name)}
	if err := os.MkdirAll(ps.dir, 0o755); err != nil {
		r.status = "error: " + err.Error()
		return r
	}
	defer ps.killAll()
	start := time.Now()
	e.log.Info("scenario", "name", s.name, "bound", bound)
	err := s.run(ctx, e, ps, &r)
	r.took = time.Since(start)
	switch {
	case errors.Is(err, errNotRun):
		r.status = err.Error() // "not run: needs ..."
	case err != nil && ctx.Err() != nil:
		r.status = fmt.Sprintf("error: not done within its bound of %s (%v)", bound, err)
	case err != nil:
		r.status = "error: " + err.Error()
	}
	return r
}

func names() string {
	var n []string
	for _, s := range scenarios() {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

func choose(only string) ([]scenario, error) {
	all := scenarios()
	if only == "" {
		return all, nil
	}
	byName := map[string]scenario{}
	for _, s := range all {
		byName[s.name] = s
	}
	var out []scenario
	for _, n := range strings.Split(only, ",") {
		s, ok := byName[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("faults: no scenario %q: choose among %s", n, names())
		}
		out = append(out, s)
	}
	return out, nil
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("faults: run it inside the Arbiter module (go run ./bench/faults from its root)")
		}
		dir = parent
	}
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short=12", "HEAD")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(b))
	st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = root
	if b, err := st.Output(); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		commit += "+dirty"
	}
	return commit
}

func machine() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	redisV, _ := exec.Command("redis-server", "--version").Output()
	natsV, _ := exec.Command("nats-server", "--version").Output()
	rv := strings.Fields(string(redisV))
	redisVersion := "?"
	if len(rv) > 2 {
		redisVersion = strings.TrimPrefix(rv[2], "v=")
	}
	load, _ := os.ReadFile("/proc/loadavg")
	la := strings.Fields(string(load))
	if len(la) > 3 {
		la = la[:3]
	}
	return fmt.Sprintf("%s, %d cores, Linux %s, %s, Redis %s, %s; load average at the start %s", loadgen.ReadCPUModel(), runtime.NumCPU(),
		strings.TrimSpace(string(kernel)), runtime.Version(), redisVersion, strings.TrimSpace(string(natsV)), strings.Join(la, " "))
}

// getJSON GETs an arbiter route with the suite's key and decodes it.
func getJSON(ctx context.Context, addr, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// postJSON POSTs a body to an arbiter route with the suite's key.
func postJSON(ctx context.Context, client *http.Client, addr, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// budgets is GET /v1/budgets.
type budgets struct {
	Offers []struct {
		OfferID string `json:"offer_id"`
		Count   *struct {
			Limit, Committed, Held, Remaining int64
		} `json:"count"`
		Amount *struct {
			Limit, Committed, Held, Remaining float64
		} `json:"amount"`
		OverCapCommits int64 `json:"over_cap_commits"`
	} `json:"offers"`
}

// count is an offer's counted grants (committed + held) and its limit.
func (b *budgets) count(offer string) (used, held, limit int64) {
	for _, o := range b.Offers {
		if o.OfferID == offer && o.Count != nil {
			return o.Count.Committed + o.Count.Held, o.Count.Held, o.Count.Limit
		}
	}
	return -1, -1, -1
}

// spent is an offer's counted money (committed + held) and its limit.
func (b *budgets) spent(offer string) (used, limit float64) {
	for _, o := range b.Offers {
		if o.OfferID == offer && o.Amount != nil {
			return o.Amount.Committed + o.Amount.Held, o.Amount.Limit
		}
	}
	return -1, -1
}

// metric reads one metric (summed over its series) from an arbiter.
func metric(ctx context.Context, addr, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	samples, err := loadgen.ParsePromText(string(b))
	if err != nil {
		return 0, err
	}
	return loadgen.SumMetric(samples, name, labels...), nil
}

// sleep waits d or until ctx is done (phases of a scenario, not
// synchronisation).
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dur picks the full or the short figure.
func (e *env) dur(full, short time.Duration) time.Duration {
	if e.short {
		return short
	}
	return full
}
