package main

import (
	"bufio"
	"bytes"
	"net"
	"runtime"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveLines answers each line read on c with "ok", taking mu first for a
// line "lock": a connection's goroutine that waits on the network between
// requests, as a keep-alive HTTP server's does.
func serveLines(c net.Conn, mu *sync.Mutex) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "lock\n" {
			mu.Lock()
			mu.Unlock() //nolint:staticcheck // an empty critical section: the wait is the point
		}
		if _, err := c.Write([]byte("ok\n")); err != nil {
			return
		}
	}
}

// waitServer waits until serveLines's goroutine is in state (as
// runtime.Stack writes it: "IO wait", "sync.Mutex.Lock").
func waitServer(t *testing.T, state string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "["+state) && strings.Contains(g, "serveLines") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serveLines was not in %q within 10 s:\n%s", state, stacks)
		}
		runtime.Gosched()
	}
}

// TestReadFindsEachRequest: a trace of a server answering 40 requests on
// one connection, 20 of which wait at least 3 ms on a lock held elsewhere,
// shows the 40 requests, and the 20 that waited (and only they) with the
// lock's wait and a time of at least 3 ms.
func TestReadFindsEachRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	go func() {
		c, err := ln.Accept()
		if err == nil {
			serveLines(c, &mu)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	send := func(line string) {
		// A line sent before the server waits on the network for it would
		// be read with the one before, as one request.
		waitServer(t, "IO wait")
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	answer := func() {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	send("hello\n") // the server's goroutine waits on the network before the trace
	answer()

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if i%2 == 0 {
			send("plain\n")
			answer()
			continue
		}
		mu.Lock()
		send("lock\n")
		waitServer(t, "sync.Mutex.Lock")
		time.Sleep(3 * time.Millisecond) // the workload: the lock held 3 ms more while the request waits
		mu.Unlock()
		answer()
	}
	waitServer(t, "IO wait") // the last request ends in the trace
	trace.Stop()

	st, err := Read(&buf, "serveLines", 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Requests); n != 40 {
		t.Fatalf("%d requests found, want 40", n)
	}
	const lockWait = "sync github.com/arbiterhq/arbiter/bench/tracestat.serveLines"
	waited := 0
	for _, q := range st.Requests {
		if q.WaitedOn[lockWait] > 0 {
			waited++
			if q.Took() < 3*time.Millisecond {
				t.Errorf("a request that waited on the lock took %v, want at least the 3 ms it was held", q.Took())
			}
		}
	}
	if waited != 20 {
		t.Errorf("%d requests waited on the lock, want 20", waited)
	}
	var out strings.Builder
	st.Print(&out, 5)
	if !strings.Contains(out.String(), " 40 requests, ") {
		t.Errorf("the report does not count the requests:\n%s", out.String())
	}
}

// TestRanDuring: the runs' time is summed by goroutine within the union of
// the requests' stretches, each overlapping part once.
func TestRanDuring(t *testing.T) {
	a, b := &goroutine{label: "a"}, &goroutine{label: "b"}
	rs := []*Request{{Start: 100, End: 200}, {Start: 150, End: 250}, {Start: 400, End: 500}}
	runs := []run{
		{0, 120, a},   // 20 inside [100, 250]
		{120, 300, b}, // 130 inside
		{300, 450, a}, // 50 inside [400, 500]
		{450, 460, b}, // 10
		{600, 700, a}, // none
	}
	got := ranDuring(runs, rs)
	want := map[string]time.Duration{"a": 70, "b": 140}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Errorf("ranDuring = %v, want %v", got, want)
	}
}
