package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/arbiterhq/arbiter/adapters/gctune"
)

// serveDebug serves Go's profiler on addr, apart from the API so that it is
// never reachable through the API's port; the returned func stops it.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiler serving", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// defaultGCHeapFloor is --gc-heap-floor's default: none. The collector is
// paced at GOGC=400 within the memory limit (GOMEMLIMIT, else 90% of the
// container's). A floor (GOGC off under it) spaces the cycles further, but
// in scenario a a 1 GiB floor gave the same throughput and a worse p99 in
// back-to-back runs (54.3 ms against 11.5 ms: a cycle that the limit
// starts makes the allocating requests assist it; BENCHMARKS.md, issue 19),
// so it is the operator's choice, not the default.
const defaultGCHeapFloor = 0

// defaultEmbeddedStreamMemory is --embedded-stream-memory's default: the
// embedded NATS server keeps the event stream in memory, at most 64 MiB
// (about 45,000 decision events of the example shop), the oldest going
// first. The embedded stream never outlived the process (its files were in
// a new temporary directory each time), so files kept nothing that memory
// loses; but the file store held its 8 MB blocks in the heap for 10 s
// after the last read, which no stream setting shortens: in scenario a the
// live heap was 349 MB in files and 194 MB in memory, and a decision cost
// 83 against 72 µs of CPU, back to back (BENCHMARKS.md, issue 19). The
// consumers in the process (live counters, learning) read within
// milliseconds; the bound is what `events tail`, `events export` and
// `replay` can still read of the embedded server's past.
const defaultEmbeddedStreamMemory = 64 << 20

// newGCTuner paces the collector (package gctune): the operator's GOGC when
// set, else GOGC off under the heap floor and GOGC=400 above it, within
// GOMEMLIMIT or 90% of the container's memory limit.
func newGCTuner(floor int64, log *slog.Logger) *gctune.Tuner {
	t := gctune.New(gctune.Options{GOGC: os.Getenv("GOGC"), Floor: floor, Logger: log})
	log.Debug("garbage collector", "floor", floor, "memory_limit", t.Limit())
	return t
}

// defaultEventLinger is --event-linger's default: an event that finds the
// publisher idle waits up to 1 ms for others (a burst of AckEvery goes at
// once). Without it every decision woke the publisher, the connection's
// flusher and, on the embedded server, its read loop, stream and consumer
// goroutines one by one; those wake-ups run before the requests that the
// network poller hands to the scheduler, which then waited. In scenario a,
// back to back: 80 and 79 against 73 and 71 µs of CPU a decision; in a
// trace of the open loop, goroutine wake-ups 327,000 → 141,000 in 4 s and a
// request's wait from the poller to its handler, p50 157 → 12 µs, p99 4.8 →
// 1.7 ms (BENCHMARKS.md, issue 19). Events reach the stream up to 1 ms
// later; decisions never wait for them.
const defaultEventLinger = time.Millisecond
