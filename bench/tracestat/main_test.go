package main

import (
	"bufio"
	"bytes"
	"net"
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

// TestReadFindsEachRequest: a trace of a server answering 40 requests on
// one connection, 20 of which wait on a lock held elsewhere for 3 ms, shows
// the requests, the slowest at least 3 ms and the fastest less, and the
// lock's wait in what the slowest waited on.
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
	ask := func(line string) {
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	ask("hello\n") // the server's goroutine waits on the network before the trace

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		// Spacing, so that the server's goroutine is back waiting on the
		// network when the next request comes: a request that arrives
		// before it waits is read with the one before, as one (the
		// tolerance below).
		time.Sleep(time.Millisecond)
		if i%2 == 0 {
			ask("plain\n")
			continue
		}
		mu.Lock()
		if _, err := c.Write([]byte("lock\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond) // the lock held while the request waits: the wait measured
		mu.Unlock()
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	trace.Stop()

	st, err := Read(&buf, "serveLines", 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Requests); n < 36 || n > 40 {
		t.Fatalf("%d requests found, want 40 (at least 36: two read at once count as one)", n)
	}
	if took := st.Requests[len(st.Requests)-1].Took(); took < 3*time.Millisecond {
		t.Errorf("the slowest request took %v, want at least the 3 ms it waited", took)
	}
	if took := st.Requests[0].Took(); took >= 3*time.Millisecond {
		t.Errorf("the fastest request took %v: the plain ones wait for nothing", took)
	}
	var out strings.Builder
	st.Print(&out, 5)
	for _, want := range []string{" requests, ", "on sync github.com/arbiterhq/arbiter/bench/tracestat.serveLines"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
