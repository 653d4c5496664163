package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestParseGCTrace(t *testing.T) {
	log := strings.Join([]string{
		`time=2026-12-06T14:19:39.673Z level=INFO msg=serving addr=127.0.0.1:8080`,
		`gc 11 @34.894s 0%: 0.21+115+0.10 ms clock, 0.43+43/100/46+0.21 ms cpu, 752->759->158 MB, 767 MB goal, 0 MB stacks, 0 MB globals, 4 P`,
		// A line another writer broke into is skipped, not misread.
		`gc 12 @40.1s 0%: 0.1+12time=2026-12-06T14:20:20Z level=INFO msg=reload`,
		`gc 13 @41.500s 1%: 1.5+2.25+0.5 ms clock, 3.0+0/1.5/0.25+1.0 ms cpu, 8->9->4 MB, 10 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)`,
		`gcd is not a cycle`,
	}, "\n")
	got, err := ParseGCTrace(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []GCCycle{
		{N: 11, At: 34894 * time.Millisecond, Clock: 115310 * time.Microsecond, Mark: 115 * time.Millisecond,
			AssistCPU: 43 * time.Millisecond, BackgroundCPU: 100 * time.Millisecond, IdleCPU: 46 * time.Millisecond,
			HeapStartMB: 752, HeapEndMB: 759, LiveMB: 158, Procs: 4},
		{N: 13, At: 41500 * time.Millisecond, Clock: 4250 * time.Microsecond, Mark: 2250 * time.Microsecond,
			AssistCPU: 0, BackgroundCPU: 1500 * time.Microsecond, IdleCPU: 250 * time.Microsecond,
			HeapStartMB: 8, HeapEndMB: 9, LiveMB: 4, Procs: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d cycles %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("cycle %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if c := got[0].CPU(); c != 189*time.Millisecond {
		t.Errorf("CPU() = %v, want 189ms", c)
	}
}

// near compares cycles up to a microsecond (the trace's decimals go
// through float64).
func near(a, b GCCycle) bool {
	d := func(x, y time.Duration) bool { return (x - y).Abs() <= time.Microsecond }
	return a.N == b.N && d(a.At, b.At) && d(a.Clock, b.Clock) && d(a.Mark, b.Mark) &&
		d(a.AssistCPU, b.AssistCPU) && d(a.BackgroundCPU, b.BackgroundCPU) && d(a.IdleCPU, b.IdleCPU) &&
		a.HeapStartMB == b.HeapStartMB && a.HeapEndMB == b.HeapEndMB && a.LiveMB == b.LiveMB && a.Procs == b.Procs
}

func TestDuring(t *testing.T) {
	start := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// An open loop of 1 s: 100 requests, one every 10 ms, each answered in
	// 1 ms, but those meant to start within the collection (300-400 ms)
	// answered 50 ms late.
	r := &Result{Start: start, Elapsed: time.Second, OK: 100}
	for i := range 100 {
		at := time.Duration(i) * 10 * ms
		lat := ms
		if at >= 300*ms && at < 400*ms {
			lat = 50 * ms
		}
		r.Samples = append(r.Samples, Answered{At: at, Done: at + lat})
	}
	h := NewHistogram()
	for _, s := range r.Samples {
		Record(h, s.Done-s.At)
	}
	r.Latency = Summarize(h)

	proc := start.Add(-30 * time.Second) // the process started 30 s before the loop
	cycles := []GCCycle{
		{N: 1, At: 10 * time.Second, Clock: 80 * ms, Mark: 80 * ms},        // long before the loop
		{N: 2, At: 30*time.Second + 300*ms, Clock: 95 * ms, Mark: 95 * ms}, // in it
		{N: 3, At: 32 * time.Second, Clock: 50 * ms, Mark: 50 * ms},        // after it
	}
	g := During(r, cycles, GCWindows(proc, cycles))
	if len(g.Cycles) != 1 || g.Cycles[0].N != 2 {
		t.Fatalf("cycles during the loop = %+v, want only cycle 2", g.Cycles)
	}
	// In flight during 300-395 ms or twice its length after it (to 585 ms):
	// the 29 requests meant for 300-580 ms, and none other (290 ms was
	// answered at 291, 590 ms went after it).
	if g.InFlight != 29 {
		t.Errorf("InFlight = %d, want 29", g.InFlight)
	}
	// The p99 of 100 requests is the slowest of the ten 50 ms ones: all ten
	// at or above it were in the collection.
	if g.Slowest == 0 || g.SlowestInFlight != g.Slowest {
		t.Errorf("slowest %d, of them in flight %d: want all of them", g.Slowest, g.SlowestInFlight)
	}
	note := g.Note(r)
	for _, w := range []string{"1 cycle(s)", "mark 95 ms", "29.0% of the answered requests", "and 100% of the slowest 1%", "p99 of the others 1.00 ms",
		"with fewer than 3 collections in a loop of 1s its p99 depends on where they fell"} {
		if !strings.Contains(note, w) {
			t.Errorf("note %q lacks %q", note, w)
		}
	}

	none := During(r, cycles[:1], GCWindows(proc, cycles[:1]))
	if len(none.Cycles) != 0 || none.InFlight != 0 || none.Outside.P99 != r.Latency.P99 {
		t.Errorf("no cycle in the loop: %+v (all p99 %d)", none, r.Latency.P99)
	}
	if n := none.Note(r); !strings.Contains(n, "did not run during the open loop of 1s") || !strings.Contains(n, "says whether collections come at all") ||
		strings.Contains(n, "depends on where they fell") {
		t.Errorf("note %q", n)
	}

	// Three collections in the loop: its p99 is taken as the tail over
	// several, without the caveat.
	three := []GCCycle{
		{N: 1, At: 30*time.Second + 100*ms, Clock: 20 * ms, Mark: 20 * ms},
		{N: 2, At: 30*time.Second + 300*ms, Clock: 95 * ms, Mark: 95 * ms},
		{N: 3, At: 30*time.Second + 700*ms, Clock: 20 * ms, Mark: 20 * ms},
	}
	g3 := During(r, three, GCWindows(proc, three))
	if n := g3.Note(r); len(g3.Cycles) != 3 || strings.Contains(n, "depends on where they fell") {
		t.Errorf("three cycles in the loop: %d, note %q", len(g3.Cycles), n)
	}
}
