package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestRedisDownAndBack stops a redis-server the test started: while it is
// down every Reserve fails fast (no hang, no wait on reconnects); once it is
// back, Reserve works again.
func TestRedisDownAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	srv := redistest.StartServer(t)
	c, err := redisconn.Open("redis://"+srv.Addr, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := NewWithOptions(c, Options{AutoPipeline: redisconn.AutoPipelined(c)}) // as serve's
	plan := func() *engine.Plan {
		return &engine.Plan{Now: time.Now(), CustomerID: "c1", Currency: "USD", Limit: 1, Guardrail: 1e6,
			Items: []engine.PlanItem{{OfferID: "x", Total: 1000}}}
	}
	reserve := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := l.Reserve(ctx, plan())
		return time.Since(start), err
	}
	if _, err := reserve(); err != nil {
		t.Fatalf("up: %v", err)
	}
	srv.Stop()
	for i := 0; i < 100; i++ {
		d, err := reserve()
		if err == nil {
			t.Fatal("Reserve succeeded with Redis down")
		}
		if d > 300*time.Millisecond {
			t.Fatalf("call %d with Redis down took %v (%v)", i, d, err)
		}
	}
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := reserve()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 10s after the restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	// The restarted server has no scripts loaded: EVALSHA fell back to EVAL.
	if res, err := l.Reserve(context.Background(), plan()); err != nil || res[0] != engine.Granted {
		t.Fatalf("after recovery: %v %v", res, err)
	}
}
