package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"
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

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// A decision allocates a few kilobytes that die at once, and the live heap
// is small (the ruleset, the profile cache, the event buffer), so the Go
// default of 100 runs the collector several times a second under load:
// 15-20% of the server's CPU in the benchmarks (BENCHMARKS.md). 400 trades
// memory (up to five times the live heap) for it.
const defaultGCPercent = 400

// tuneGC sets the collector's target unless the operator set GOGC; a
// memory limit (GOMEMLIMIT) still bounds the heap when one is set.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	log.Debug("garbage collector target set", "gogc", defaultGCPercent)
}
