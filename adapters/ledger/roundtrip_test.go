package ledger

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// TestOneRoundTripPerDecision: a decision with a cached profile makes one
// Redis round trip, whatever it holds: a per-customer cap, a total and a
// budget held until an order commits them (with its grant record), a paced
// offer, and an Idempotency-Key claim; on one server (one script) and in
// ModeSplit (one pipeline of per-slot scripts).
func TestOneRoundTripPerDecision(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(`
offers:
  - id: first_1000_app
    discount: {amount: 10}
    priority: 30
    caps: {total: 1000000, budget: 1000000, hold: 30m}
  - id: once_a_day
    kind: action
    priority: 20
    caps: {per_customer: {limit: 1000, per: 24h}}
  - id: paced
    kind: action
    priority: 10
    schedule: {start: 2026-01-01T00:00:00Z, end: 2027-01-01T00:00:00Z}
    caps: {total: 10000000, pacing: even}
arbitration: {max_actions: 3}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			c, prefix, _ := redistest.Client(t)
			counter := &roundTrips{}
			c.AddHook(counter)
			l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
			eng := engine.New(engine.Options{Ledger: l})
			const decisions = 50
			// Decision 0 loads the scripts (EVALSHA, then EVAL once: the
			// server does not know them yet), then every decision counts.
			for k := -1; k < decisions; k++ {
				now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Second)
				req := &engine.Request{CustomerID: "c-" + strconv.Itoa((k+5)%5), Placement: "checkout", Now: now,
					Ref: fmt.Sprintf("%026d", k+1), Cart: engine.Cart{Currency: "USD", Items: []engine.Item{{SKU: "A", Price: 5000, Quantity: 1}}}}
				if k%2 == 0 || k < 0 {
					req.Claim = &engine.Claim{Key: "key-" + strconv.Itoa(k), Body: [32]byte{byte(k)}, TTL: time.Hour}
				}
				if k == 0 {
					counter.n.Store(0)
				}
				before := counter.n.Load()
				d, err := eng.Decide(context.Background(), rs, engine.DefaultProfile(&rs.Schema, req.CustomerID), req)
				if err != nil {
					t.Fatal(err)
				}
				if got := counter.n.Load() - before; got != 1 && k >= 0 {
					t.Fatalf("decision %d: %d round trips (degraded %v)", k, got, d.Degraded)
				}
				if len(d.Actions) != 3 || len(d.Degraded) != 0 {
					t.Fatalf("decision %d: actions %v, degraded %v", k, d.Actions, d.Degraded)
				}
			}
			l.Wait()
			t.Logf("%d decisions (holds with records, a per-customer cap, pacing, an Idempotency-Key on every other one): %d round trips",
				decisions, counter.n.Load())
		})
	}
}
