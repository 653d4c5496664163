package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestErrKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&url.Error{Op: "Post", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, "refused"},
		// a reset in the handshake: no request was sent
		{&url.Error{Op: "Post", Err: &net.OpError{Op: "dial", Err: syscall.ECONNRESET}}, "refused"},
		{&url.Error{Op: "Post", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, "reset"},
		{&url.Error{Op: "Post", Err: io.EOF}, "reset"},
		{errors.New("http: server closed idle connection"), "reset"},
		{fmt.Errorf("answer not JSON: %w", errors.New("x")), "bad answer"},
		{&url.Error{Op: "Post", Err: errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")}, "timeout"},
	} {
		if got := errKind(c.err); got != c.want {
			t.Errorf("errKind(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestWindowCovers(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	at := func(s, e int) *sample {
		return &sample{start: t0.Add(time.Duration(s) * time.Second), end: t0.Add(time.Duration(e) * time.Second)}
	}
	w := window{from: t0.Add(10 * time.Second), to: t0.Add(20 * time.Second)}
	for _, c := range []struct {
		s    *sample
		want bool
	}{
		{at(11, 12), true},
		{at(9, 12), false},  // sent before Redis went away
		{at(19, 21), false}, // answered after it came back
		{at(21, 22), false},
	} {
		if got := w.covers(c.s); got != c.want {
			t.Errorf("covers(%v..%v) = %v", c.s.start, c.s.end, got)
		}
	}
	if (window{}).covers(at(11, 12)) {
		t.Error("an empty window covers a sample")
	}
	open := window{from: t0.Add(10 * time.Second)}
	if !open.covers(at(30, 31)) {
		t.Error("a window not closed yet does not cover a later sample")
	}
}

// A load that sent nothing, or got anything but 200 for one request, is
// not "every request answered 200".
func TestStatsAllOK(t *testing.T) {
	ok := func(code int) *sample { return &sample{status: code} }
	for _, c := range []struct {
		name    string
		samples []*sample
		want    bool
	}{
		{"nothing sent", nil, false},
		{"all 200", []*sample{ok(200), ok(200)}, true},
		{"one 503", []*sample{ok(200), ok(503)}, false},
		{"one transport error", []*sample{ok(200), {err: io.EOF}}, false},
	} {
		st := newStats()
		for _, s := range c.samples {
			st.add(s)
		}
		if got := st.allOK(); got != c.want {
			t.Errorf("%s: allOK = %v, want %v", c.name, got, c.want)
		}
	}
}
