package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GCCycle is one garbage collection of a Go server, as the runtime reports
// it on standard error under GODEBUG=gctrace=1 (runtime package
// documentation, "gctrace"):
//
//	gc 11 @34.894s 0%: 0.21+115+0.10 ms clock, 0.43+43/100/46+0.21 ms cpu, 752->759->158 MB, 767 MB goal, 0 MB stacks, 0 MB globals, 4 P
type GCCycle struct {
	N int `json:"n"`
	// At is when the cycle started, from the process's start.
	At time.Duration `json:"at_ns"`
	// Clock is its wall time: the stop that starts it, the concurrent mark,
	// the stop that ends it. Mark is the concurrent mark alone.
	Clock time.Duration `json:"clock_ns"`
	Mark  time.Duration `json:"mark_ns"`
	// The mark's work, as the time each kind of worker held a Go processor
	// (gctrace's "cpu"): the requests' goroutines made to help (assists),
	// the collector's own workers (background: dedicated and fractional),
	// its workers on processors that had nothing else to run (idle). It is
	// not CPU time: with more processors than CPUs it counts the time the
	// operating system gave the CPUs to other threads too.
	AssistCPU     time.Duration `json:"assist_cpu_ns"`
	BackgroundCPU time.Duration `json:"background_cpu_ns"`
	IdleCPU       time.Duration `json:"idle_cpu_ns"`
	// Heap at the start and end of the mark and live after it, in MB.
	HeapStartMB int `json:"heap_start_mb"`
	HeapEndMB   int `json:"heap_end_mb"`
	LiveMB      int `json:"live_mb"`
	Procs       int `json:"procs"`
}

// CPU is the mark's worker time in all: assists, background and idle.
func (c GCCycle) CPU() time.Duration { return c.AssistCPU + c.BackgroundCPU + c.IdleCPU }

var gcLine = regexp.MustCompile(`^gc (\d+) @([0-9.]+)s \d+%: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock, ` +
	`[0-9.]+\+([0-9.]+)/([0-9.]+)/([0-9.]+)\+[0-9.]+ ms cpu, (\d+)->(\d+)->(\d+) MB.*, (\d+) P`)

// ParseGCTrace returns the cycles of a gctrace in r (a server's log: other
// lines, and lines another writer broke into, are skipped), in their
// order.
func ParseGCTrace(r io.Reader) ([]GCCycle, error) {
	var out []GCCycle
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		if c, ok := parseGCLine(line); ok {
			out = append(out, c)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading a gctrace: %w", err)
	}
	return out, nil
}

func parseGCLine(line string) (GCCycle, bool) {
	m := gcLine.FindStringSubmatch(line)
	if m == nil {
		return GCCycle{}, false
	}
	var c GCCycle
	var err error
	num := func(s string) int {
		v, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	dur := func(s string, unit time.Duration) time.Duration {
		v, e := strconv.ParseFloat(s, 64)
		if e != nil && err == nil {
			err = e
		}
		return time.Duration(v * float64(unit))
	}
	c.N = num(m[1])
	c.At = dur(m[2], time.Second)
	stw1, mark, stw2 := dur(m[3], time.Millisecond), dur(m[4], time.Millisecond), dur(m[5], time.Millisecond)
	c.Clock, c.Mark = stw1+mark+stw2, mark
	c.AssistCPU = dur(m[6], time.Millisecond)
	c.BackgroundCPU = dur(m[7], time.Millisecond)
	c.IdleCPU = dur(m[8], time.Millisecond)
	c.HeapStartMB, c.HeapEndMB, c.LiveMB = num(m[9]), num(m[10]), num(m[11])
	c.Procs = num(m[12])
	return c, err == nil
}

// Window is a span of wall time.
type Window struct{ Start, End time.Time }

// Overlaps reports whether w and the span from a to b share a moment.
func (w Window) Overlaps(a, b time.Time) bool { return w.End.After(a) && w.Start.Before(b) }

// GCWindows returns the wall time of each cycle of a process that started
// at start (the runtime counts from its own start, a few milliseconds
// after the process's: the windows are that much early).
func GCWindows(start time.Time, cycles []GCCycle) []Window {
	out := make([]Window, len(cycles))
	for i, c := range cycles {
		s := start.Add(c.At)
		out[i] = Window{Start: s, End: s.Add(c.Clock)}
	}
	return out
}

// GCSettle is how long after a collection, as a multiple of its wall time,
// the requests are still counted as its: at half of saturation the backlog
// that built up while it took the processors takes about as long to clear
// (in one run of BENCHMARKS.md's twelfth pass the slow answers went on
// 1.6 times the mark's length after it).
const GCSettle = 2

// GCDuring is what a server's collector did while an open loop ran, and
// what its requests saw meanwhile.
type GCDuring struct {
	// Cycles are the collections that overlapped the open loop, of every
	// replica.
	Cycles []GCCycle `json:"cycles"`
	// InFlight counts the open loop's answered requests that were sent or
	// waiting while one of them ran or in the GCSettle times its length
	// after it; Outside is the latency of the others.
	InFlight int64       `json:"in_flight"`
	Outside  Percentiles `json:"outside"`
	// Slowest counts the requests at or above the open loop's p99, and
	// SlowestInFlight those of them in flight during a cycle or the time
	// after it: how much of the tail is the collector's.
	Slowest         int64 `json:"slowest"`
	SlowestInFlight int64 `json:"slowest_in_flight"`
}

// FewCycles is the number of collections below which an open loop's p99
// is not the server's steady tail: with one or two marks in the loop, the
// share of requests they delay (and so whether they reach the p99) depends
// on where they fell: a's ten-second loops gave p99s 1.6-27× the
// ceiling's (BENCHMARKS.md, twelfth pass), its minute-long ones, with 5-9
// collections each, 2.8-14.5× (thirteenth pass).
const FewCycles = 3

// Note says it in a sentence for a report's notes; r is the open loop.
// With one to FewCycles-1 collections in the loop it says that the p99
// depends on where they fell; with none, that a longer loop says whether
// they come at all.
func (g *GCDuring) Note(r *Result) string {
	few := ""
	if len(g.Cycles) < FewCycles {
		few = fmt.Sprintf("; with fewer than %d collections in a loop of %s its p99 depends on where they fell: a longer -open-duration gives the tail over several", FewCycles, r.Elapsed.Round(time.Second))
	}
	if len(g.Cycles) == 0 {
		// No mark fell in the loop: whether that is the server's steady
		// state (the collector rare at this rate) or a loop shorter than
		// the time between two collections, only a longer loop says.
		return fmt.Sprintf("Arbiter's collector did not run during the open loop of %s (p99 %s); a longer -open-duration says whether collections come at all at this rate",
			r.Elapsed.Round(time.Second), us(r.Latency.P99))
	}
	parts := make([]string, len(g.Cycles))
	for i, c := range g.Cycles {
		parts[i] = fmt.Sprintf("mark %.0f ms with %.0f ms of worker time (assists %.0f, background %.0f, idle %.0f), heap %d→%d MB, %d MB live, %d P",
			ms(c.Mark), ms(c.CPU()), ms(c.AssistCPU), ms(c.BackgroundCPU), ms(c.IdleCPU), c.HeapStartMB, c.HeapEndMB, c.LiveMB, c.Procs)
	}
	share := 0.0
	if r.OK > 0 {
		share = 100 * float64(g.InFlight) / float64(r.OK)
	}
	slow := 0.0
	if g.Slowest > 0 {
		slow = 100 * float64(g.SlowestInFlight) / float64(g.Slowest)
	}
	return fmt.Sprintf("Arbiter's collector in the open loop: %d cycle(s): %s; %.1f%% of the answered requests were in flight during one or within %d× its length after it, and %.0f%% of the slowest 1%%; p99 of the others %s (of all %s)%s",
		len(g.Cycles), strings.Join(parts, "; "), share, GCSettle, slow, us(g.Outside.P99), us(r.Latency.P99), few)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// During returns the cycles of windows (ws[i] is cycles[i]'s) that
// overlapped the open loop r, and the latency of r's requests outside them.
// r must hold its samples (an open loop's Result).
func During(r *Result, cycles []GCCycle, ws []Window) *GCDuring {
	g := &GCDuring{}
	end := r.Start.Add(r.Elapsed)
	var in []Window
	for i, w := range ws {
		if w.Overlaps(r.Start, end) {
			g.Cycles = append(g.Cycles, cycles[i])
			in = append(in, w)
		}
	}
	// The slowest 1%: at or above the samples' own 99th percentile (the
	// histogram's p99 is rounded to its precision).
	var p99 time.Duration
	if n := len(r.Samples); n > 0 {
		lat := make([]time.Duration, n)
		for i, s := range r.Samples {
			lat[i] = s.Done - s.At
		}
		slices.Sort(lat)
		p99 = lat[min(n-1, n*99/100)]
	}
	h := NewHistogram()
	for _, s := range r.Samples {
		from, to := r.Start.Add(s.At), r.Start.Add(s.Done)
		hit := false
		for _, w := range in {
			if (Window{w.Start, w.End.Add(GCSettle * w.End.Sub(w.Start))}).Overlaps(from, to) {
				hit = true
				break
			}
		}
		slow := s.Done-s.At >= p99
		if slow {
			g.Slowest++
		}
		if hit {
			g.InFlight++
			if slow {
				g.SlowestInFlight++
			}
			continue
		}
		Record(h, s.Done-s.At)
	}
	g.Outside = Summarize(h)
	return g
}
