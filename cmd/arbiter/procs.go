package main

import "fmt"

// embeddedProcsPerCPU is how many Go processors (GOMAXPROCS) serve runs
// with for each CPU Go finds when the embedded NATS server is in the
// process and neither --procs nor GOMAXPROCS says otherwise.
//
// Why: every decision's event goes through a chain of goroutines in the
// process (the publisher, the in-process connection, the server's stream
// and consumer, the live counters), each woken by the one before and run
// ahead of the requests. When both processors are busy with them, above
// all while the collector marks (it takes a quarter of them), neither
// waits in the network poller; the requests that arrive meanwhile are
// found by the runtime's monitor only after up to 10 ms, then wait in the
// global run queue. Extra processors keep one of them polling, and the
// operating system shares the CPUs between their threads. Scenario a of
// bench/load, back to back on 2 CPUs: the server's p99 (poller to answer,
// from traces) 10.6 and 20.6 ms with 2 processors, 1.1 and 3.1 ms with 4;
// the harness's p99 19.4 and 27.4 against 7.6 and 7.2 ms, 3-5% more CPU a
// decision (BENCHMARKS.md, issue 19).
const embeddedProcsPerCPU = 2

// chooseProcs returns the GOMAXPROCS serve sets (0: leave Go's choice) and
// why: --procs when given (procs > 0); else the GOMAXPROCS environment
// variable, which Go has applied already; else, with the embedded NATS
// server, embeddedProcsPerCPU times what Go chose (goProcs: the CPUs or the
// container's CPU limit).
func chooseProcs(procs int, embeddedNATS bool, env string, goProcs int) (int, string) {
	switch {
	case procs > 0:
		return procs, "--procs"
	case env != "":
		return 0, "GOMAXPROCS=" + env
	case embeddedNATS && goProcs > 0:
		return embeddedProcsPerCPU * goProcs, fmt.Sprintf("embedded NATS: %d per CPU (%d CPUs)", embeddedProcsPerCPU, goProcs)
	}
	return 0, "Go's choice"
}
