package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

func TestWithGCTrace(t *testing.T) {
	for in, want := range map[string]string{"": "gctrace=1", "madvdontneed=1": "madvdontneed=1,gctrace=1"} {
		if got := withGCTrace(in); got != want {
			t.Errorf("withGCTrace(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenLoopGC reads two replicas' logs for the collections that
// overlapped an open loop, as the report's note and the CSV files say them.
func TestOpenLoopGC(t *testing.T) {
	dir := t.TempDir()
	started := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	logs := []string{
		"time=2026-12-06T14:00:00Z level=INFO msg=serving\n" +
			"gc 7 @2.000s 0%: 0.1+50+0.1 ms clock, 0.2+1/40/5+0.2 ms cpu, 600->605->150 MB, 610 MB goal, 0 MB stacks, 0 MB globals, 4 P\n" +
			"gc 8 @30.500s 0%: 0.1+100+0.1 ms clock, 0.2+1/80/5+0.2 ms cpu, 700->705->155 MB, 710 MB goal, 0 MB stacks, 0 MB globals, 4 P\n",
		"gc 3 @31.000s 0%: 0.5+20+0.5 ms clock, 0.2+1/15/5+0.2 ms cpu, 100->101->40 MB, 120 MB goal, 0 MB stacks, 0 MB globals, 4 P\n",
	}
	var ps []*proc
	for i, l := range logs {
		path := filepath.Join(dir, "arbiter-"+string(rune('1'+i))+".log")
		if err := os.WriteFile(path, []byte(l), 0o644); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, &proc{log: path, started: started})
	}
	// The loop ran from 30 s to 32 s of the processes' life: a request every
	// 100 ms, each 2 ms.
	r := &loadgen.Result{Start: started.Add(30 * time.Second), Elapsed: 2 * time.Second, OK: 20}
	for i := range 20 {
		at := time.Duration(i) * 100 * time.Millisecond
		r.Samples = append(r.Samples, loadgen.Answered{At: at, Done: at + 2*time.Millisecond})
	}
	g, err := gcDuring(ps, r, dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Cycles) != 2 || g.Cycles[0].N != 8 || g.Cycles[1].N != 3 {
		t.Fatalf("cycles = %+v, want replica 1's 8 and replica 2's 3", g.Cycles)
	}
	// 8 runs 500-600.2 ms of the loop, 3 1,000-1,021 ms: with twice their
	// length after them, the requests of 500 to 800 ms and of 1,000 ms.
	if g.InFlight != 5 {
		t.Errorf("InFlight = %d, want 5", g.InFlight)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "a-open.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 21 || lines[0] != "at_us,latency_us" || lines[2] != "100000,2000" {
		t.Errorf("a-open.csv: %d lines, starting %q", len(lines), lines[:3])
	}
	gc, err := os.ReadFile(filepath.Join(dir, "a-open-gc.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "replica,n,start_us,end_us,mark_ms\n1,8,500000,600200,100.0\n2,3,1000000,1021000,20.0\n"; string(gc) != want {
		t.Errorf("a-open-gc.csv:\n%s\nwant:\n%s", gc, want)
	}
}

// TestOpenLoopsReadTheCollectionsLast: the runtime writes a cycle's gctrace
// line when its mark ends, so a collection still marking when Arbiter's
// open loop ended is in the log only later. Read right after the loop, it
// was missed: its requests counted among "the others" (their p99), and
// the loop's collections and the requests they held read low. The
// collections are read after the ceiling's loop, as long as Arbiter's and
// longer than any mark.
func TestOpenLoopsReadTheCollectionsLast(t *testing.T) {
	dir := t.TempDir()
	started := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	log := filepath.Join(dir, "arbiter-1.log")
	first := "gc 7 @30.500s 0%: 0.1+100+0.1 ms clock, 0.2+1/80/5+0.2 ms cpu, 700->705->155 MB, 710 MB goal, 0 MB stacks, 0 MB globals, 4 P\n"
	if err := os.WriteFile(log, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := []*proc{{log: log, started: started}}
	// The loop ran from 30 s to 32 s of the process's life; a collection
	// began at 31.9 s and was still marking when its last answer came.
	arbiter := func() (loadgen.Result, error) {
		r := loadgen.Result{Start: started.Add(30 * time.Second), Elapsed: 2 * time.Second, OK: 20}
		for i := range 20 {
			at := time.Duration(i) * 100 * time.Millisecond
			r.Samples = append(r.Samples, loadgen.Answered{At: at, Done: at + 2*time.Millisecond})
		}
		return r, nil
	}
	ceiling := func() (loadgen.Result, error) {
		// Meanwhile, the mark ended and the runtime wrote its line.
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return loadgen.Result{}, err
		}
		defer f.Close()
		_, err = f.WriteString("gc 8 @31.900s 0%: 0.1+150+0.1 ms clock, 0.2+1/80/5+0.2 ms cpu, 700->705->155 MB, 710 MB goal, 0 MB stacks, 0 MB globals, 4 P\n")
		return loadgen.Result{OK: 20}, err
	}
	o, err := openLoops(arbiter, ceiling, func(r *loadgen.Result) (*loadgen.GCDuring, error) {
		return gcDuring(ps, r, "", "a")
	})
	if err != nil || o.gcErr != nil {
		t.Fatal(err, o.gcErr)
	}
	if o.arbiter.OK != 20 || o.ceiling.OK != 20 {
		t.Errorf("answers %d and %d, want both loops'", o.arbiter.OK, o.ceiling.OK)
	}
	if n := len(o.gc.Cycles); n != 2 {
		t.Fatalf("%d collections in the loop, want 2 (the one still marking at its end too)", n)
	}
}
