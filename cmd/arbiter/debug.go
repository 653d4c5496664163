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

// defaultGCHeapFloor is --gc-heap-floor's default. A decision allocates a
// few kilobytes that die at once while the live heap stays small, so a
// collector paced by GOGC alone marks several times a second under load, and
// on a machine of few cores each mark phase takes a core from the requests
// for tens of milliseconds: the p99 (BENCHMARKS.md). The floor spaces the
// cycles seconds apart for the price of the memory (package gctune).
const defaultGCHeapFloor = 1 << 30

// newGCTuner paces the collector (package gctune): the operator's GOGC when
// set, else GOGC off under the heap floor and GOGC=400 above it, within
// GOMEMLIMIT or 90% of the container's memory limit.
func newGCTuner(floor int64, log *slog.Logger) *gctune.Tuner {
	t := gctune.New(gctune.Options{GOGC: os.Getenv("GOGC"), Floor: floor, Logger: log})
	log.Debug("garbage collector", "floor", floor, "memory_limit", t.Limit())
	return t
}
