package loadgen

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func startTestCeiling(t *testing.T, size int) *Ceiling {
	t.Helper()
	c, err := StartCeiling("127.0.0.1:0", size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func testMix(t *testing.T) *Mix {
	t.Helper()
	m, err := NewMix(MixConfig{KnownIDs: ids(100), AnonymousShare: 0.1, UnknownShare: 0.1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCeilingBody(t *testing.T) {
	for _, size := range []int{200, 731, 2048} {
		b := CeilingBody(size)
		if len(b) != size {
			t.Errorf("CeilingBody(%d) is %d bytes", size, len(b))
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("CeilingBody(%d) is not JSON: %v", size, err)
		}
	}
	if b := CeilingBody(10); len(b) < 150 {
		t.Errorf("CeilingBody(10) = %d bytes; want the whole skeleton", len(b))
	}
}

func TestClosedLoopCountBound(t *testing.T) {
	c := startTestCeiling(t, 500)
	cl, err := NewClient([]string{c.Addr()}, 4, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := ClosedLoop(context.Background(), cl, testMix(t), 4, 30*time.Second, 300)
	if r.Sent != 300 || r.OK != 300 {
		t.Fatalf("sent %d, ok %d (errors %v); want 300, 300", r.Sent, r.OK, r.Errors)
	}
	if r.RespBytes != 500 {
		t.Errorf("mean answer %g bytes, want 500", r.RespBytes)
	}
	if r.Latency.Count != 300 || r.Throughput <= 0 {
		t.Errorf("latency count %d, throughput %g", r.Latency.Count, r.Throughput)
	}
}

func TestClosedLoopTimeBound(t *testing.T) {
	c := startTestCeiling(t, 500)
	cl, err := NewClient([]string{c.Addr()}, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	r := ClosedLoop(context.Background(), cl, testMix(t), 2, 200*time.Millisecond, 0)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 200 ms closed loop took %s", took)
	}
	if r.OK == 0 || r.OK != r.Sent {
		t.Errorf("sent %d, ok %d, errors %v", r.Sent, r.OK, r.Errors)
	}
}

func TestOpenLoopSendsTheSchedule(t *testing.T) {
	c := startTestCeiling(t, 500)
	// Two replicas: the load is split round-robin.
	c2 := startTestCeiling(t, 500)
	cl, err := NewClient([]string{c.Addr(), c2.Addr()}, 8, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	r, err := OpenLoop(context.Background(), cl, testMix(t), 1000, 300*time.Millisecond, 8)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 300 || r.OK != 300 {
		t.Fatalf("sent %d, ok %d (errors %v); want the 300 scheduled", r.Sent, r.OK, r.Errors)
	}
	// The schedule takes 0.3 s; the whole run cannot be much shorter.
	if took := time.Since(start); took < 290*time.Millisecond {
		t.Errorf("300 requests at 1000/s took only %s: not paced", took)
	}
	if r.Latency.Count != 300 || r.Service.Count != 300 || r.Lag.Count != 300 {
		t.Errorf("histogram counts %d, %d, %d; want 300", r.Latency.Count, r.Service.Count, r.Lag.Count)
	}
	// Latency from the intended start includes the service time.
	if r.Latency.Max < r.Service.Max-1 {
		t.Errorf("latency max %d µs < service max %d µs", r.Latency.Max, r.Service.Max)
	}
}

func TestOpenLoopChargesStalls(t *testing.T) {
	// One sender, and a schedule faster than a request can be answered
	// sequentially with the sender stalled: requests go out late and the
	// lateness is part of their latency (no coordinated omission).
	c := startTestCeiling(t, 500)
	cl, err := NewClient([]string{c.Addr()}, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := OpenLoop(context.Background(), cl, testMix(t), 200000, 5*time.Millisecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 1000 {
		t.Fatalf("sent %d, want 1000", r.Sent)
	}
	// 1000 requests on one connection take far longer than the 5 ms they
	// were scheduled in: the last ones are charged for the wait.
	if r.Lag.Max < 1000 || r.Latency.Max < r.Lag.Max {
		t.Errorf("lag max %d µs, latency max %d µs; want the queueing delay charged", r.Lag.Max, r.Latency.Max)
	}
}

func TestCheckLoopback(t *testing.T) {
	ok := []string{"127.0.0.1:8080", "localhost:1", "[::1]:80", "127.1.2.3:9"}
	bad := []string{"10.0.0.1:80", "example.com:80", "0.0.0.0:80", "127.0.0.1", ":8080"}
	for _, a := range ok {
		if err := CheckLoopback(a); err != nil {
			t.Errorf("CheckLoopback(%q) = %v", a, err)
		}
	}
	for _, a := range bad {
		if err := CheckLoopback(a); err == nil {
			t.Errorf("CheckLoopback(%q) = nil, want an error", a)
		}
	}
	if _, err := NewClient([]string{"192.168.1.1:80"}, 1, time.Second); err == nil {
		t.Error("NewClient accepted a non-loopback target")
	}
}

// TestClosedLoopThroughputIsTheDurations: a closed loop's throughput is
// the answers it got within its duration, over that duration. A request
// still in flight at the end (a slow answer, a timeout) kept the run open
// while every other connection had stopped, and its wait went into the
// denominator: one answer of 1.2 s at the end of a 300 ms round made the
// round read a fifth of what the server did.
func TestClosedLoopThroughputIsTheDurations(t *testing.T) {
	var n atomic.Int64
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if n.Add(1) == 50 {
			// The server's own slowness, as a stalled answer would be.
			<-time.After(1200 * time.Millisecond)
		}
		ctx.SetBodyString(`{}`)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	cl, err := NewClient([]string{ln.Addr().String()}, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const d = 300 * time.Millisecond
	r := ClosedLoop(context.Background(), cl, testMix(t), 2, d, 0)
	if r.Elapsed < time.Second {
		t.Fatalf("the run took %s: the stalled answer did not come after the end", r.Elapsed)
	}
	// Every answer but the stalled one came within the 300 ms.
	if want := float64(r.OK-1) / d.Seconds(); r.Throughput < 0.9*want || r.Throughput > 1.1*want {
		t.Errorf("throughput %.0f/s over %s with %d answers; want about %.0f/s (the answers within the duration, over it)",
			r.Throughput, r.Elapsed, r.OK, want)
	}
}

// TestOpenLoopInterrupted: an open loop cut short (the run's -max-total,
// an interrupt) says so. It returned the requests sent so far as if they
// were the whole schedule, and the report showed that loop's percentiles
// and rate without a word.
func TestOpenLoopInterrupted(t *testing.T) {
	c := startTestCeiling(t, 500)
	cl, err := NewClient([]string{c.Addr()}, 4, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r, err := OpenLoop(ctx, cl, testMix(t), 1000, 5*time.Second, 4)
	if err == nil {
		t.Fatalf("an open loop of 5,000 requests stopped after %d: no error", r.Sent)
	}
	if r.Sent == 0 || r.Sent >= 5000 {
		t.Errorf("sent %d; want the part before the interruption", r.Sent)
	}
	t.Log(err)
}
