package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

// proc is a server process the harness started.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string
	// debug is the address of the server's profiler (--debug-addr).
	debug string
	log   string
	// started is when the process was started: its gctrace counts from
	// about then.
	started time.Time
	done    chan struct{}
	err     error
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to timeout, then kills.
func (p *proc) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s after SIGTERM: killed", p.name, timeout)
	}
}

func start(cmd *exec.Cmd, name, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = lf
	}
	cmd.Stderr = lf
	setDeathSignal(cmd)
	started := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, started: started, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// freePort returns a loopback address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// startArbiter starts `arbiter serve` on a free loopback port and waits
// until /readyz answers 200.
func startArbiter(ctx context.Context, bin string, args []string, logPath string) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	debug, err := freePort()
	if err != nil {
		return nil, err
	}
	args = append(append([]string(nil), args...), "--addr", addr, "--debug-addr", debug)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GODEBUG="+withGCTrace(os.Getenv("GODEBUG")))
	p, err := start(cmd, "arbiter serve", logPath)
	if err != nil {
		return nil, err
	}
	p.addr, p.debug = addr, debug
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("arbiter serve exited before it was ready (%v): see %s%s", p.err, logPath, tail(logPath))
		default:
		}
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = p.stop(5 * time.Second)
			return nil, fmt.Errorf("arbiter serve on %s not ready after 90 s: see %s", addr, logPath)
		}
		time.Sleep(100 * time.Millisecond) // polling a child process, not synchronising goroutines
	}
}

// withGCTrace adds gctrace=1 to a GODEBUG setting, so that the server's
// log says when its collector ran (gcDuring): a line a cycle, a cost too
// small to see.
func withGCTrace(godebug string) string {
	if godebug == "" {
		return "gctrace=1"
	}
	return godebug + ",gctrace=1"
}

// readGC reads the collections of the servers ps from their logs: each
// cycle, its wall time, and which of ps (an index) it was.
func readGC(ps []*proc) (cycles []loadgen.GCCycle, ws []loadgen.Window, replica []int, err error) {
	for i, p := range ps {
		f, err := os.Open(p.log)
		if err != nil {
			return nil, nil, nil, err
		}
		cs, err := loadgen.ParseGCTrace(f)
		f.Close()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading %s: %w", p.log, err)
		}
		cycles = append(cycles, cs...)
		ws = append(ws, loadgen.GCWindows(p.started, cs)...)
		for range cs {
			replica = append(replica, i)
		}
	}
	return cycles, ws, replica, nil
}

// gcDuring reads the collections of the servers ps from their logs and
// says which ran during the open loop r and what r's requests saw outside
// them; with csvDir, it also writes r and those collections there
// (writeOpenCSV).
func gcDuring(ps []*proc, r *loadgen.Result, csvDir, name string) (*loadgen.GCDuring, error) {
	cycles, ws, replica, err := readGC(ps)
	if err != nil {
		return nil, err
	}
	if csvDir != "" {
		if err := writeOpenCSV(csvDir, name, r, cycles, ws, replica); err != nil {
			return nil, fmt.Errorf("the open loop's CSV: %w", err)
		}
	}
	return loadgen.During(r, cycles, ws), nil
}

// writeOpenCSV writes the open loop r of scenario name as name-open.csv
// in dir (a line an answered request: when it was meant to go, from the
// loop's start, and its latency, in µs) and the collections (readGC's) that
// overlapped it as name-open-gc.csv (start, end from the loop's start, in
// µs; the mark in ms), for plotting the one over the other.
func writeOpenCSV(dir, name string, r *loadgen.Result, cycles []loadgen.GCCycle, ws []loadgen.Window, replica []int) error {
	var b strings.Builder
	b.WriteString("at_us,latency_us\n")
	for _, a := range r.Samples {
		fmt.Fprintf(&b, "%d,%d\n", a.At.Microseconds(), (a.Done - a.At).Microseconds())
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-open.csv"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	b.Reset()
	b.WriteString("replica,n,start_us,end_us,mark_ms\n")
	end := r.Start.Add(r.Elapsed)
	for i, w := range ws {
		if w.Overlaps(r.Start, end) {
			fmt.Fprintf(&b, "%d,%d,%d,%d,%.1f\n", replica[i]+1, cycles[i].N, w.Start.Sub(r.Start).Microseconds(),
				w.End.Sub(r.Start).Microseconds(), float64(cycles[i].Mark)/float64(time.Millisecond))
		}
	}
	return os.WriteFile(filepath.Join(dir, name+"-open-gc.csv"), []byte(b.String()), 0o644)
}

// startCeiling starts the harness itself as a ceiling server and reads the
// address it listens on from its first line of output.
func startCeiling(ctx context.Context, self string, size int, logPath string) (*proc, error) {
	cmd := exec.Command(self, "-ceiling-serve", "127.0.0.1:0", "-ceiling-size", strconv.Itoa(size))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := startPiped(cmd, "ceiling", logPath)
	if err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	select {
	case l, ok := <-lines:
		addr, found := strings.CutPrefix(l, "ceiling listening on ")
		if !ok || !found {
			_ = p.stop(5 * time.Second)
			return nil, fmt.Errorf("the ceiling did not start: see %s", logPath)
		}
		p.addr = addr
		return p, nil
	case <-time.After(30 * time.Second):
		_ = p.stop(5 * time.Second)
		return nil, errors.New("the ceiling did not start within 30 s")
	case <-ctx.Done():
		_ = p.stop(5 * time.Second)
		return nil, ctx.Err()
	}
}

// startPiped is start for a command whose stdout is a pipe already.
func startPiped(cmd *exec.Cmd, name, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = lf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > 1500 {
		data = data[len(data)-1500:]
	}
	return ":\n" + string(data)
}

// runCmd runs a command to completion, its output in logPath.
func runCmd(ctx context.Context, logPath, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w%s", filepath.Base(bin), strings.Join(args[:min(2, len(args))], " "), err, tail(logPath))
	}
	return nil
}

func goBuild(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/arbiter")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/arbiter: %w\n%s", err, b)
	}
	return nil
}

// gitCommit is the commit of the work tree, "+dirty" when it has changes
// (read-only git commands).
func gitCommit(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(b))
	st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = root
	if b, err := st.Output(); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		commit += "+dirty"
	}
	return commit
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
			return "", errors.New("run the harness inside the Arbiter module (go run ./bench/load from its root)")
		}
		dir = parent
	}
}

func fetchMetrics(ctx context.Context, addr string) ([]loadgen.Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics on %s: %s", addr, resp.Status)
	}
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return loadgen.ParsePromText(b.String())
}

func addrs(ps []*proc) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.addr
	}
	return out
}

func pidsOf(ps []*proc) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.pid()
	}
	return out
}

// checkLoopbackURL refuses a Redis or NATS URL whose host is not loopback.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "0")
	}
	if err := loadgen.CheckLoopback(host); err != nil {
		return fmt.Errorf("%s: the harness only uses services on this machine", raw)
	}
	return nil
}

// captureProfile fetches a CPU profile of d from the server at addr while
// load runs, into path. It returns a note for the report: where the profile
// is, or why there is none.
func captureProfile(ctx context.Context, addr string, d time.Duration, path string, load func()) string {
	return capture(ctx, addr, "profile", d, path, load)
}

// capture fetches /debug/pprof/KIND (profile or trace) of d seconds from
// the server at addr into path while load runs.
func capture(ctx context.Context, addr, kind string, d time.Duration, path string, load func()) string {
	client := &http.Client{Timeout: d + 30*time.Second}
	resp, err := client.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		return "CPU profile: " + err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("no CPU profile: the server does not serve /debug/pprof/ (%s)", resp.Status)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		load()
	}()
	u := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, kind, max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		<-done
		return "CPU profile: " + err.Error()
	}
	err = download(client, req, path)
	<-done
	if err != nil {
		return "CPU profile: " + err.Error()
	}
	if kind == "trace" {
		return "execution trace of the open loop: " + path + " (go tool trace " + path + ")"
	}
	return "CPU profile under saturation: " + path + " (go tool pprof -top " + path + ")"
}

// captureHeap fetches the live heap (/debug/pprof/heap, after a garbage
// collection) of the server at addr into path: what every collection
// marks, and so what the tail of the open loop pays for.
func captureHeap(ctx context.Context, addr, path string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	if err == nil {
		err = download(&http.Client{Timeout: 30 * time.Second}, req, path)
	}
	if err != nil {
		return "heap profile: " + err.Error()
	}
	return "live heap after saturation: " + path + " (go tool pprof -sample_index=inuse_space -top " + path + ")"
}

// download writes the body of req's answer into path.
func download(client *http.Client, req *http.Request, path string) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
