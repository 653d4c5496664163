// Command replay measures `arbiter replay`'s throughput and peak memory:
// it records N decisions of the example shop (and their outcomes) through
// the real engine and wire encoder (replay/replaygen) into a JSON lines
// file, then replays the file in a child process of its own, as `arbiter
// replay --events` does (decode and decide pipelined), and prints the
// decisions replayed per second, the CPU per decision and the child's
// peak resident memory (its maximum RSS, from the kernel).
//
//	go run ./bench/replay -decisions 1000000
//	go run ./bench/replay -decisions 1000000 -candidate DIR -baseline examples/checkout
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/rules"
)

type result struct {
	Decisions   int64   `json:"decisions"`
	Events      int64   `json:"events"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"decisions_per_second"`
	CPUPerDecUS float64 `json:"cpu_us_per_decision"`
	Changed     int64   `json:"changed"`
	PeakRSSMB   float64 `json:"peak_rss_mb,omitempty"`
}

func main() {
	decisions := flag.Int("decisions", 1_000_000, "decisions to record (their outcomes come on top)")
	customers := flag.Int("customers", 100_000, "generated customers")
	file := flag.String("file", "", "the events file (default: a temporary file, removed at the end)")
	reuse := flag.Bool("reuse", false, "replay -file as it is, without recording it again")
	candidate := flag.String("candidate", "", "the candidate rules directory (default: the example shop, as recorded)")
	baseline := flag.String("baseline", "", "the rules that recorded the events, for the estimate (default: none)")
	child := flag.Bool("child", false, "internal: replay -file and print the result as JSON")
	cpuprofile := flag.String("cpuprofile", "", "write the replay's CPU profile to this file")
	flag.Parse()
	if *child {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err == nil {
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
		}
		if err := replayFile(*file, *candidate, *baseline); err != nil {
			fmt.Fprintln(os.Stderr, "bench/replay:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*decisions, *customers, *file, *reuse, *candidate, *baseline, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/replay:", err)
		os.Exit(1)
	}
}

func loadRules(dir string) (*rules.Ruleset, error) {
	if dir != "" {
		return rulefiles.Load(dir)
	}
	sub, err := fs.Sub(examples.Checkout, "checkout")
	if err != nil {
		return nil, err
	}
	return rulefiles.LoadFS(sub)
}

func run(decisions, customers int, file string, reuse bool, candidate, baseline, cpuprofile string) error {
	if file == "" {
		dir, err := os.MkdirTemp("", "arbiter-replay-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		file = filepath.Join(dir, "events.jsonl")
	}
	if !reuse {
		rs, err := loadRules("")
		if err != nil {
			return err
		}
		start := time.Now()
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		sum, err := replaygen.Generate(context.Background(), rs, replaygen.Options{Decisions: decisions, Customers: customers, Step: 2 * time.Second},
			func(line []byte) error {
				w.Write(line)
				return w.WriteByte('\n')
			})
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		st, _ := os.Stat(file)
		fmt.Printf("recorded %d decisions and %d outcomes (%.0f MB) in %s\n", sum.Decisions, sum.Outcomes, float64(st.Size())/1e6, time.Since(start).Round(time.Second))
	}
	cmd := exec.Command(os.Args[0], "-child", "-file", file, "-candidate", candidate, "-baseline", baseline, "-cpuprofile", cpuprofile)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("replay's result %q: %w", out, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	fmt.Printf("replayed %d decisions (%d events) in %.1f s: %.0f decisions/s, %.1f µs of CPU per decision, peak RSS %.0f MB, %d changed\n",
		res.Decisions, res.Events, res.Seconds, res.PerSecond, res.CPUPerDecUS, res.PeakRSSMB, res.Changed)
	return nil
}

func replayFile(file, candidate, baseline string) error {
	rs, err := loadRules(candidate)
	if err != nil {
		return err
	}
	var base *rules.Ruleset
	if baseline != "" {
		if base, err = loadRules(baseline); err != nil {
			return err
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	next := func() ([]byte, error) {
		if sc.Scan() {
			return sc.Bytes(), nil
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	debug.SetGCPercent(200) // as arbiter replay does
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	ctx := context.Background()
	rep, err := replay.Run(ctx, rs, replay.Pipeline(ctx, next, rs, base), replay.Options{Baseline: base})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if p := os.Getenv("REPLAY_HEAPPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	n := rep.Decisions.Replayed
	return json.NewEncoder(os.Stdout).Encode(result{Decisions: n, Events: rep.Decisions.Events, Seconds: secs,
		PerSecond: float64(n) / secs, CPUPerDecUS: float64(cpu.Microseconds()) / float64(max(n, 1)), Changed: rep.Changed.Count})
}
