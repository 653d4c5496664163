// Command tracestat reads a Go execution trace of a server under load (the
// open-loop trace bench/load writes with -trace) and tells where the slow
// requests spent their time: each request's time in the server, from the
// poller waking its connection's goroutine to that goroutine's next wait
// on the network, split into running, runnable (waiting for a processor)
// and waiting (on a lock, a channel, a system call), and whether it
// overlapped a collection's concurrent mark. It prints the percentiles of
// all requests and of those outside the marks, what the slowest 1% waited
// on, which goroutines ran while the slowest 1% outside the marks were in
// the server, and the longest gaps between two requests' wake-ups (a
// poller that did not run).
//
//	go run . -frames fasthttp ../out/a-open.trace
//
// It is a module of its own so that the trace parser it uses
// (golang.org/x/exp/trace) stays out of Arbiter's dependencies.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

func main() {
	frames := flag.String("frames", "fasthttp", "a request's goroutine waits on the network in a function whose name contains `TEXT`")
	long := flag.Duration("long", 2*time.Millisecond, "list the waits longer than `D` (at most -list)")
	list := flag.Int("list", 20, "list at most `N` long waits and long gaps")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tracestat [-frames TEXT] TRACE")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracestat:", err)
		os.Exit(1)
	}
	defer f.Close()
	st, err := Read(f, *frames, *long)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracestat:", err)
		os.Exit(1)
	}
	st.Print(os.Stdout, *list)
}

// Request is one request's time in the server.
type Request struct {
	Start, End trace.Time
	Running    time.Duration
	Runnable   time.Duration
	Waiting    time.Duration
	// WaitedOn is the waiting time by what was waited on: the reason and
	// the first function outside the runtime, sync and internal packages.
	WaitedOn map[string]time.Duration
	InMark   bool
}

// Took is the request's time in the server.
func (r *Request) Took() time.Duration { return time.Duration(r.End - r.Start) }

// Stats is what Read found.
type Stats struct {
	Span     time.Duration
	Requests []*Request // sorted by Took
	Marks    [][2]trace.Time
	Gaps     []time.Duration // between consecutive wake-ups, sorted
	Long     []string        // waits longer than the threshold, in time order
	LongGaps []string
	// Ran is, by goroutine (its start function), the processor time it
	// had while one of the slowest 1% of the requests outside the marks
	// was in the server: who ran while they waited.
	Ran   map[string]time.Duration
	runs  []run
	first trace.Time
}

// run is a goroutine's stretch on a processor.
type run struct {
	start, end trace.Time
	g          *goroutine
}

type goroutine struct {
	state   trace.GoState
	since   trace.Time
	why     string
	isConn  bool
	current *Request
	// maybeConn: it was waiting when the trace began, which the trace
	// gives without a reason or a stack; its first wake-up starts a
	// request that counts if it ends on a connection's network wait.
	maybeConn bool
	// label names it: its start function, or for one that existed when
	// the trace began, the function it first waited in.
	label string
}

// markRange is the name of a collection's concurrent mark in a trace.
const markRange = "GC concurrent mark phase"

// Read reads a trace. A goroutine is a connection's when it waits on the
// network in a function whose name contains frames.
func Read(r io.Reader, frames string, long time.Duration) (*Stats, error) {
	rd, err := trace.NewReader(r)
	if err != nil {
		return nil, err
	}
	st := &Stats{}
	gs := map[trace.GoID]*goroutine{}
	var last, lastWake trace.Time
	markStart := trace.Time(-1)
	for {
		ev, err := rd.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if st.first == 0 {
			st.first = ev.Time()
		}
		last = ev.Time()
		switch ev.Kind() {
		case trace.EventRangeBegin:
			if ev.Range().Name == markRange {
				markStart = ev.Time()
			}
		case trace.EventRangeActive:
			// A mark under way when the trace began (the reader says so
			// again at each of the trace's generations while it lasts).
			if ev.Range().Name == markRange && markStart < 0 {
				markStart = ev.Time()
			}
		case trace.EventRangeEnd:
			if ev.Range().Name == markRange && markStart >= 0 {
				st.Marks = append(st.Marks, [2]trace.Time{markStart, ev.Time()})
				markStart = -1
			}
		case trace.EventStateTransition:
			tr := ev.StateTransition()
			if tr.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			from, to := tr.Goroutine()
			g := gs[tr.Resource.Goroutine()]
			if g == nil {
				g = &goroutine{state: from, since: ev.Time(), maybeConn: from == trace.GoUndetermined && to == trace.GoWaiting}
				gs[tr.Resource.Goroutine()] = g
			}
			if from == trace.GoNotExist {
				g.label = ownOrTopFrame(tr.Stack)
			}
			if g.state == trace.GoRunning {
				st.runs = append(st.runs, run{g.since, ev.Time(), g})
			}
			if req := g.current; req != nil {
				d := time.Duration(ev.Time() - g.since)
				switch g.state {
				case trace.GoRunnable:
					req.Runnable += d
				case trace.GoRunning:
					req.Running += d
				case trace.GoWaiting, trace.GoSyscall:
					req.Waiting += d
					req.WaitedOn[g.why] += d
					if d > long {
						st.Long = append(st.Long, fmt.Sprintf("%9.4fs %10v %s", st.seconds(g.since), d, g.why))
					}
				}
			}
			if to == trace.GoWaiting || to == trace.GoSyscall {
				if tr.Reason == "network" && inStack(tr.Stack, frames) {
					if g.current != nil {
						g.current.End = ev.Time()
						st.Requests = append(st.Requests, g.current)
						g.current = nil
					}
					g.isConn = true
				}
				g.why = tr.Reason
				if to == trace.GoSyscall {
					g.why = "syscall"
				}
				g.why += " " + firstOwnFrame(tr.Stack)
				if f := ownOrTopFrame(tr.Stack); g.label == "" && f != "" {
					g.label = "(waited in) " + f
				}
			}
			if from == trace.GoWaiting && to == trace.GoRunnable && (g.isConn || g.maybeConn) && g.current == nil {
				g.current = &Request{Start: ev.Time(), WaitedOn: map[string]time.Duration{}}
				g.maybeConn = false // one tentative request at most
				if g.isConn && lastWake != 0 {
					gap := time.Duration(ev.Time() - lastWake)
					st.Gaps = append(st.Gaps, gap)
					if gap > long {
						st.LongGaps = append(st.LongGaps, fmt.Sprintf("%9.4fs %10v", st.seconds(lastWake), gap))
					}
				}
				if g.isConn {
					lastWake = ev.Time()
				}
			}
			g.state, g.since = to, ev.Time()
		}
	}
	if markStart >= 0 { // a mark still under way when the trace ended
		st.Marks = append(st.Marks, [2]trace.Time{markStart, last})
	}
	st.Span = time.Duration(last - st.first)
	for _, r := range st.Requests {
		for _, m := range st.Marks {
			if r.Start < m[1] && r.End > m[0] {
				r.InMark = true
				break
			}
		}
	}
	sort.Slice(st.Requests, func(i, j int) bool { return st.Requests[i].Took() < st.Requests[j].Took() })
	sort.Slice(st.Gaps, func(i, j int) bool { return st.Gaps[i] < st.Gaps[j] })
	st.Ran = ranDuring(st.runs, slowOutside(st.Requests))
	st.runs = nil
	return st, nil
}

// slowOutside returns the slowest 1% of the requests (sorted by Took)
// that overlapped no mark.
func slowOutside(rs []*Request) []*Request {
	var outside []*Request
	for _, r := range rs {
		if !r.InMark {
			outside = append(outside, r)
		}
	}
	return outside[len(outside)*99/100:]
}

// ranDuring sums, by label, the time of runs within the union of the
// requests' stretches in the server.
func ranDuring(runs []run, rs []*Request) map[string]time.Duration {
	spans := make([][2]trace.Time, 0, len(rs))
	for _, r := range rs {
		spans = append(spans, [2]trace.Time{r.Start, r.End})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var merged [][2]trace.Time
	for _, s := range spans {
		if n := len(merged); n > 0 && s[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], s[1])
			continue
		}
		merged = append(merged, s)
	}
	out := map[string]time.Duration{}
	for _, r := range runs {
		// The first span that ends after the run starts.
		i := sort.Search(len(merged), func(i int) bool { return merged[i][1] > r.start })
		for ; i < len(merged) && merged[i][0] < r.end; i++ {
			if d := min(r.end, merged[i][1]) - max(r.start, merged[i][0]); d > 0 {
				label := r.g.label
				if label == "" {
					label = "(no stack in the trace: a runtime worker)"
				}
				out[label] += time.Duration(d)
			}
		}
	}
	return out
}

func (st *Stats) seconds(t trace.Time) float64 { return float64(t-st.first) / 1e9 }

func inStack(s trace.Stack, text string) bool {
	for fr := range s.Frames() {
		if strings.Contains(fr.Func, text) {
			return true
		}
	}
	return false
}

func firstOwnFrame(s trace.Stack) string {
	for fr := range s.Frames() {
		if !strings.HasPrefix(fr.Func, "runtime.") && !strings.HasPrefix(fr.Func, "sync.") && !strings.HasPrefix(fr.Func, "internal/") {
			return fr.Func
		}
	}
	return ""
}

// ownOrTopFrame is firstOwnFrame, or the stack's top frame when all of it
// is the runtime's (a collector's worker).
func ownOrTopFrame(s trace.Stack) string {
	if f := firstOwnFrame(s); f != "" {
		return f
	}
	for fr := range s.Frames() {
		return fr.Func
	}
	return ""
}

// percentile is the p-quantile of the requests rs, sorted by Took.
func percentile(rs []*Request, p float64) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	return rs[int(p*float64(len(rs)-1))].Took()
}

// Print writes the report.
func (st *Stats) Print(w io.Writer, list int) {
	var markTime time.Duration
	for _, m := range st.Marks {
		markTime += time.Duration(m[1] - m[0])
	}
	fmt.Fprintf(w, "trace of %v: %d requests, %d collections marking %v (%.2f%% of the trace)\n",
		st.Span.Round(time.Millisecond), len(st.Requests), len(st.Marks), markTime.Round(time.Millisecond), 100*float64(markTime)/float64(max(st.Span, 1)))
	for _, m := range st.Marks {
		fmt.Fprintf(w, "  mark at %.3fs for %v\n", st.seconds(m[0]), time.Duration(m[1]-m[0]).Round(time.Microsecond))
	}
	n := len(st.Requests)
	if n == 0 {
		fmt.Fprintln(w, "no request found: check -frames")
		return
	}
	var outside []*Request
	for _, r := range st.Requests {
		if !r.InMark {
			outside = append(outside, r)
		}
	}
	fmt.Fprintf(w, "time in the server: p50 %v p90 %v p99 %v p99.9 %v\n", percentile(st.Requests, .5), percentile(st.Requests, .9), percentile(st.Requests, .99), percentile(st.Requests, .999))
	fmt.Fprintf(w, "outside the marks (%d): p50 %v p90 %v p99 %v p99.9 %v\n", len(outside), percentile(outside, .5), percentile(outside, .9), percentile(outside, .99), percentile(outside, .999))
	fmt.Fprintf(w, "requests overlapping a mark: %d (%.2f%%)\n", n-len(outside), 100*float64(n-len(outside))/float64(n))
	slow := st.Requests[n*99/100:]
	var run, runnable, wait time.Duration
	inMark := 0
	on := map[string]time.Duration{}
	for _, r := range slow {
		run += r.Running
		runnable += r.Runnable
		wait += r.Waiting
		if r.InMark {
			inMark++
		}
		for k, v := range r.WaitedOn {
			on[k] += v
		}
	}
	k := time.Duration(len(slow))
	fmt.Fprintf(w, "the slowest 1%% (%d, %d of them in a mark), on average: running %v, runnable %v, waiting %v\n", len(slow), inMark, run/k, runnable/k, wait/k)
	type kv struct {
		k string
		v time.Duration
	}
	var waits []kv
	for a, b := range on {
		waits = append(waits, kv{a, b})
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i].v > waits[j].v })
	for i, x := range waits {
		if i == 8 {
			break
		}
		fmt.Fprintf(w, "  waiting %v on %s\n", x.v/k, x.k)
	}
	var ran []kv
	var total time.Duration
	for a, b := range st.Ran {
		ran = append(ran, kv{a, b})
		total += b
	}
	sort.Slice(ran, func(i, j int) bool { return ran[i].v > ran[j].v })
	if total > 0 {
		fmt.Fprintf(w, "while the slowest 1%% outside the marks were in the server, the processors ran (%v in all):\n", total.Round(time.Millisecond))
		for i, x := range ran {
			if i == 10 {
				break
			}
			fmt.Fprintf(w, "  %5.1f%% %s\n", 100*float64(x.v)/float64(total), x.k)
		}
	}
	if len(st.Gaps) > 0 {
		g := func(p float64) time.Duration { return st.Gaps[int(p*float64(len(st.Gaps)-1))] }
		fmt.Fprintf(w, "gaps between wake-ups: p50 %v p99 %v p99.9 %v max %v\n", g(.5), g(.99), g(.999), st.Gaps[len(st.Gaps)-1])
	}
	for i, l := range st.Long {
		if i == list {
			fmt.Fprintf(w, "  ... %d long waits in all\n", len(st.Long))
			break
		}
		fmt.Fprintln(w, "  long wait", l)
	}
	for i, l := range st.LongGaps {
		if i == list {
			fmt.Fprintf(w, "  ... %d long gaps in all\n", len(st.LongGaps))
			break
		}
		fmt.Fprintln(w, "  long gap ", l)
	}
}
