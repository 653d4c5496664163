package ledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
)

// TestPacingExactUnderConcurrency: 32 deciders (replicas, for the Redis
// ledger: two clients) decide a paced offer at the same moment, 640
// decisions in all, far above its pace. The spend before a grant must be
// at most the paced share (25.00 of a 100.00 budget, 1.00 a grant), so 26
// grants (25.00 spent before the last), never 27; and a paced total (its
// share 10 of 100, on a second offer) allows 10 grants, never 11. The
// ledgers that check and reserve an offer at once (memledger, the one
// script) grant exactly that; ModeSplit, whose tentative reservations may
// refuse a grant another decision gives back, at most that.
func TestPacingExactUnderConcurrency(t *testing.T) {
	type ledger interface {
		Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error)
	}
	cases := map[string]func(t *testing.T) ([]ledger, bool){
		"memledger": func(t *testing.T) ([]ledger, bool) { l := memledger.New(); return []ledger{l, l}, true },
	}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		cases[fmt.Sprint("redis mode=", mode)] = func(t *testing.T) ([]ledger, bool) {
			// The second client must reach the same server: without
			// ARBITER_TEST_REDIS_URL, another redistest.Client is another
			// miniredis, and each counted its own share (52 grants of 26).
			c1, prefix, real := redistest.Client(t)
			c2 := c1
			if real {
				c2, _, _ = redistest.Client(t)
			} else if cl, ok := c1.(*redis.Client); ok {
				c2 = redis.NewClient(cl.Options())
				t.Cleanup(func() { c2.Close() })
			}
			return []ledger{NewWithOptions(c1, Options{Prefix: prefix, Mode: mode}), NewWithOptions(c2, Options{Prefix: prefix, Mode: mode})},
				mode == ModeScript
		}
	}
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			ls, exact := open(t)
			const workers, per = 32, 20
			var money, count atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := ls[w%len(ls)]
					for k := range per {
						p := &engine.Plan{Now: now, CustomerID: fmt.Sprint("c-", w, "-", k), Currency: "USD", Limit: 2, Guardrail: 1 << 40,
							Items: []engine.PlanItem{
								{OfferID: "paced_money", Amount: 100, Budget: 10000, Paced: true, PaceBudget: 2500},
								{OfferID: "paced_count", Total: 100, Paced: true, PaceTotal: 10},
							}}
						res, err := l.Reserve(context.Background(), p)
						if err != nil {
							errs <- err
							return
						}
						if res[0] == engine.Granted {
							money.Add(1)
						}
						if res[1] == engine.Granted {
							count.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for _, l := range ls {
				if r, ok := l.(*Redis); ok {
					r.Wait()
				}
			}
			if g := money.Load(); g > 26 || exact && g != 26 {
				t.Errorf("paced budget: %d grants of 1.00, want 26 (25.00 spent before the last)", g)
			}
			if g := count.Load(); g > 10 || exact && g != 10 {
				t.Errorf("paced total: %d grants, want 10", g)
			}
		})
	}
}
