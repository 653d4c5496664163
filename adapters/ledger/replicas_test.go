package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestReplicasWithOutcomes: three replicas (one walk auto-pipelined, one
// not, one split per slot as on Redis Cluster), each on a client of its
// own, decide for the same held offers at once while the orders of their
// grants come in at random (committed, dismissed, committed then
// cancelled): a total and a budget kept in another currency than the
// carts' are never passed, and at the end every unit counted is a grant
// held or committed, every hold in the held set, every per-customer grant
// the customer's.
func TestReplicasWithOutcomes(t *testing.T) {
	c0, prefix, real := redistest.Client(t)
	clients := []redis.UniversalClient{c0, c0, c0}
	if real {
		for i := 1; i < len(clients); i++ {
			clients[i], _, _ = redistest.Client(t)
		}
	}
	replicas := []*Redis{
		NewWithOptions(clients[0], Options{Prefix: prefix, AutoPipeline: redisconn.AutoPipelined(clients[0])}),
		NewWithOptions(clients[1], Options{Prefix: prefix}),
		NewWithOptions(clients[2], Options{Prefix: prefix, Mode: ModeSplit}),
	}
	const (
		workers   = 12
		decisions = 30
		total     = 40
		spend     = 277 // what one grant of 3.00 USD counts in EUR cents, rounded up
		budget    = 100 * spend
		customers = 60
	)
	offers := []engine.OutcomeOffer{{ID: "first40", Total: total}, {ID: "eur", Budget: budget}}
	type count struct{ granted, dismissed, committed, cancelled atomic.Int64 }
	var counts [2]count
	perCust := make([]atomic.Int64, customers)
	var active, maxActive [2]atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			ctx := context.Background()
			for k := 0; k < decisions; k++ {
				l := replicas[(w+k)%len(replicas)]
				cust := r.IntN(customers)
				p := &engine.Plan{Now: time.Now(), Ref: fmt.Sprintf("%022d%04d", w, k), CustomerID: "c" + strconv.Itoa(cust),
					Currency: "USD", BudgetCurrency: "EUR", Limit: 3, Guardrail: 1 << 40,
					Items: []engine.PlanItem{
						{OfferID: "first40", Total: total, Hold: time.Hour, Record: true},
						{OfferID: "eur", Amount: 300, Spend: spend, Budget: budget, Hold: time.Hour, Record: true},
						{OfferID: "hourly", PerCustomer: 1, Window: time.Hour},
					}}
				res, err := l.Reserve(ctx, p)
				if err != nil {
					errs <- err
					return
				}
				if res[2] == engine.Granted {
					perCust[cust].Add(1)
				}
				for i := range offers {
					if res[i] != engine.Granted {
						continue
					}
					counts[i].granted.Add(1)
					n := active[i].Add(1)
					for m := maxActive[i].Load(); n > m && !maxActive[i].CompareAndSwap(m, n); m = maxActive[i].Load() {
					}
					out := func(typ string) engine.OutcomeResult {
						got, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: p.Ref, DecisionTime: p.Now, Type: typ, Named: true, Offers: offers[i : i+1]}})
						if err != nil {
							errs <- err
							return engine.OutcomeResult{}
						}
						return got[0]
					}
					switch r.IntN(4) {
					case 0: // still held
					case 1:
						if out(engine.OutcomeDismissed).Releases == 1 {
							counts[i].dismissed.Add(1)
							active[i].Add(-1)
						}
					case 2:
						if out(engine.OutcomeConverted).Commits == 1 {
							counts[i].committed.Add(1)
						}
					case 3:
						if out(engine.OutcomeConverted).Commits == 1 {
							counts[i].committed.Add(1)
						}
						if out(engine.OutcomeCancelled).Cancels == 1 {
							counts[i].cancelled.Add(1)
							active[i].Add(-1)
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, l := range replicas {
		l.Wait()
	}
	ctx := context.Background()
	get := func(k string) int64 {
		n, err := c0.Get(ctx, k).Int64()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		return n
	}
	for i, o := range offers {
		c := &counts[i]
		live := c.granted.Load() - c.dismissed.Load() - c.cancelled.Load()
		held := c.granted.Load() - c.dismissed.Load() - c.committed.Load()
		if c.granted.Load() == c.dismissed.Load()+c.cancelled.Load() || c.dismissed.Load() == 0 || c.cancelled.Load() == 0 {
			t.Errorf("%s: %d granted, %d dismissed, %d committed, %d cancelled: the test did not test", o.ID,
				c.granted.Load(), c.dismissed.Load(), c.committed.Load(), c.cancelled.Load())
		}
		if n := get(TotalKey(prefix, o.ID)); n != live {
			t.Errorf("%s: %d units counted, %d grants held or committed", o.ID, n, live)
		}
		if n := get(BudgetKey(prefix, o.ID, "EUR")); o.Budget > 0 && n != live*spend {
			t.Errorf("%s: %d spent, %d grants held or committed of %d", o.ID, n, live, spend)
		}
		if n := c0.ZCard(ctx, HeldKey(prefix, o.ID)).Val(); n != held {
			t.Errorf("%s: %d in the held set, %d grants held", o.ID, n, held)
		}
		if n, _ := c0.HGet(ctx, HoldKey(prefix, o.ID), "n").Int64(); n != held {
			t.Errorf("%s: %d counted held, %d grants held", o.ID, n, held)
		}
		t.Logf("%s: %d granted, %d dismissed, %d committed, %d cancelled; at most %d live at once (as the workers saw it)", o.ID,
			c.granted.Load(), c.dismissed.Load(), c.committed.Load(), c.cancelled.Load(), maxActive[i].Load())
	}
	if n := get(TotalKey(prefix, "first40")); n > total {
		t.Errorf("first40: %d counted, cap %d", n, total)
	}
	if n := get(BudgetKey(prefix, "eur", "EUR")); n > budget {
		t.Errorf("eur: %d spent, budget %d", n, budget)
	}
	for i := range perCust {
		n := c0.ZCard(ctx, CustomerKey(prefix, "c"+strconv.Itoa(i), "hourly", true)).Val()
		if g := perCust[i].Load(); g > 1 || n != g {
			t.Errorf("customer %d: %d grants of a once-an-hour offer, %d counted", i, g, n)
		}
	}
}
