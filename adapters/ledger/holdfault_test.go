package ledger

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestHoldsUnderFaults (issue 15's fault test): two replicas (ledgers with
// clients of their own) on a private redis-server with AOF, 64 workers
// granting two held offers (the first 100, and a budget of 500.00 at 0.37
// a grant) with a short hold, each grant converted (committed within its
// hold), dismissed or left silent; one replica abandoned mid-run (its
// connections cut, its holds never reported: as a kill -9), the Redis
// server killed and restarted mid-run. A monitor reads the budgets all
// along. At the end, for every offer: committed ≤ cap, held + committed
// never observed above the cap (beyond conversions that came after their
// hold expired, which always commit and are counted), every hold released
// (by expiry when nobody reported it), and the counters equal the commits
// made: no unit used without a grant.
func TestHoldsUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and runs for seconds")
	}
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	const (
		workers = 64
		hold    = 3 * time.Second
		total   = 100
		budget  = 50000 // 500.00 in cents
		amount  = 37
		runFor  = 6 * time.Second
	)
	open := func() redis.UniversalClient {
		c, err := redisconn.Open("redis://"+srv.Addr, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	prefix := redistest.UniquePrefix(t)
	cA, cB, cMon := open(), open(), open()
	defer cA.Close()
	defer cMon.Close()
	// Replica A's walks are auto-pipelined, as serve's are; B's are not.
	replicas := []*Redis{NewWithOptions(cA, Options{Prefix: prefix, AutoPipeline: redisconn.AutoPipelined(cA)}), NewWithOptions(cB, Options{Prefix: prefix})}
	monitor := NewWithOptions(cMon, Options{Prefix: prefix})
	offers := []engine.OutcomeOffer{{ID: "first100", Total: total}, {ID: "budget500", Budget: budget}}

	var requests, grants, errs, converted, dismissed, silent, abandoned atomic.Int64
	var commits, lateCommits, overCap, releases atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ctxB, killB := context.WithCancel(ctx)
	var wg, outcomes sync.WaitGroup

	// apply posts one outcome, retrying while Redis is down (an order
	// system retries; occurred_at says when it happened).
	apply := func(l *Redis, g engine.GrantOutcome) {
		defer outcomes.Done()
		deadline := time.Now().Add(10 * time.Second)
		var lastErr error
		for time.Now().Before(deadline) {
			actx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			res, err := l.Apply(actx, []engine.GrantOutcome{g})
			lastErr = err
			cancel()
			if err == nil {
				commits.Add(int64(res[0].Commits))
				lateCommits.Add(int64(res[0].LateCommits))
				overCap.Add(int64(res[0].OverCap))
				releases.Add(int64(res[0].Releases))
				return
			}
			time.Sleep(20 * time.Millisecond) // the order system's retry pause
		}
		t.Errorf("an outcome could not be applied in 10 s: %v", lastErr)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 15))
			l, wctx := replicas[w%2], ctx
			if w%2 == 1 {
				wctx = ctxB
			}
			for wctx.Err() == nil {
				now := time.Now()
				ref := ulid.Make().String()
				p := &engine.Plan{Now: now, Ref: ref, CustomerID: "c", Currency: "USD", Limit: 2, Guardrail: 1 << 40,
					Items: []engine.PlanItem{
						{OfferID: "first100", Total: total, Hold: hold, Record: true},
						{OfferID: "budget500", Amount: amount, Budget: budget, Hold: hold, Record: true},
					}}
				requests.Add(1)
				dctx, cancel := context.WithTimeout(wctx, 100*time.Millisecond)
				res, err := l.Reserve(dctx, p)
				cancel()
				if err != nil {
					errs.Add(1)
					time.Sleep(5 * time.Millisecond) // a checkout's pause after an error
					continue
				}
				for i, rr := range res {
					if rr != engine.Granted {
						continue
					}
					grants.Add(1)
					if w%2 == 1 && wctx.Err() == nil && r.IntN(4) == 0 {
						abandoned.Add(1) // the replica will die before reporting it
						continue
					}
					switch k := r.IntN(10); {
					case k < 4:
						converted.Add(1)
						delay := time.Duration(r.IntN(300)) * time.Millisecond
						g := engine.GrantOutcome{Ref: ref, DecisionTime: now, Type: engine.OutcomeConverted, At: now.Add(delay),
							Named: true, Offers: offers[i : i+1]}
						outcomes.Add(1)
						time.AfterFunc(delay, func() { apply(replicas[0], g) })
					case k < 7:
						dismissed.Add(1)
						g := engine.GrantOutcome{Ref: ref, DecisionTime: now, Type: engine.OutcomeDismissed, At: now, Named: true, Offers: offers[i : i+1]}
						outcomes.Add(1)
						go apply(replicas[0], g)
					default:
						silent.Add(1)
					}
				}
			}
		}(w)
	}

	// The monitor: held + committed (Count) and the money, all along.
	type peak struct{ count, spent, over int64 }
	var maxSeen peak
	var violations []string
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		for ctx.Err() == nil {
			mctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			st, err := monitor.Budgets(mctx, time.Time{}, []engine.BudgetQuery{{OfferID: "first100", Currencies: []string{"USD"}},
				{OfferID: "budget500", Currencies: []string{"USD"}}})
			cancel()
			if err == nil {
				maxSeen.count = max(maxSeen.count, st[0].Count)
				maxSeen.spent = max(maxSeen.spent, st[1].Spent)
				maxSeen.over = max(maxSeen.over, st[0].OverCap+st[1].OverCap)
				if st[0].Count > total+st[0].OverCap || st[1].Spent > budget+st[1].OverCap*amount {
					violations = append(violations, time.Now().Format("15:04:05.000"))
				}
			}
			time.Sleep(5 * time.Millisecond) // the monitor's sampling period
		}
	}()

	start := time.Now()
	time.Sleep(runFor / 3) // let the run go
	killB()
	cB.Close() // the replica dies: its connections are cut, its holds never reported
	t.Logf("%5.2fs: replica B abandoned", time.Since(start).Seconds())
	time.Sleep(runFor / 6)
	srv.Stop()
	t.Logf("%5.2fs: redis-server killed", time.Since(start).Seconds())
	time.Sleep(200 * time.Millisecond)
	srv.Start()
	t.Logf("%5.2fs: redis-server back", time.Since(start).Seconds())
	time.Sleep(runFor - time.Since(start))
	stop()
	wg.Wait()
	outcomes.Wait()
	<-monDone
	replicas[0].Wait()
	// Wait until every hold has expired: a read releases what nobody
	// reported (no sweeper runs).
	var end []engine.BudgetState
	deadline := time.Now().Add(hold + 5*time.Second)
	for {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := monitor.Budgets(rctx, time.Time{}, []engine.BudgetQuery{{OfferID: "first100", Currencies: []string{"USD"}},
			{OfferID: "budget500", Currencies: []string{"USD"}}})
		cancel()
		if err == nil {
			end = st
			if st[0].Held == 0 && st[1].Held == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("holds still held %v after their expiry: %+v (%v)", hold, st, err)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	expiries := replicas[0].Stats().Expiries + replicas[1].Stats().Expiries + monitor.Stats().Expiries
	t.Logf("requests %d, errors %d (Redis down, the replica's death), grants %d: converted %d, dismissed %d, silent %d, abandoned with the replica %d",
		requests.Load(), errs.Load(), grants.Load(), converted.Load(), dismissed.Load(), silent.Load(), abandoned.Load())
	t.Logf("as the order system saw them: commits %d (late %d, over the cap %d), releases %d; holds released by expiry in the ledger calls that answered %d; calls given up on and undone %d (A), %d (B)",
		commits.Load(), lateCommits.Load(), overCap.Load(), releases.Load(), expiries, replicas[0].Stats().Undone, replicas[1].Stats().Undone)
	t.Logf("first100: held+committed at most %d (cap %d); at the end committed %d, held %d, over-cap commits %d",
		maxSeen.count, total, end[0].Count-end[0].Held, end[0].Held, end[0].OverCap)
	t.Logf("budget500: spent (held+committed) at most %.2f (budget %.2f); at the end committed %.2f, held %.2f",
		float64(maxSeen.spent)/100, float64(budget)/100, float64(end[1].Spent-end[1].HeldAmount)/100, float64(end[1].HeldAmount)/100)
	if len(violations) > 0 {
		t.Errorf("held + committed observed above the cap %d times (first at %s)", len(violations), violations[0])
	}
	if c := end[0].Count - end[0].Held; c > total+end[0].OverCap {
		t.Errorf("first100: committed %d > cap %d", c, total)
	}
	if s := end[1].Spent - end[1].HeldAmount; s > budget+end[1].OverCap*amount {
		t.Errorf("budget500: committed %d > budget %d", s, budget)
	}
	if end[0].Held != 0 || end[1].Held != 0 || end[1].HeldAmount != 0 {
		t.Errorf("holds not released at the end: %+v", end)
	}
	// No unit used without a grant: what stays counted is exactly what the
	// grant records say was committed (in time or late; an outcome whose
	// reply was lost and that was posted again committed once, and the
	// second post reported nothing). The records also say how each grant
	// ended: committed, released by a dismissal, or expired (held, and no
	// longer in the held set: nobody reported it, or the replica died).
	for k, o := range offers {
		states := map[byte]int64{}
		for _, key := range scanKeys(t, cMon, prefix+"rec:{"+o.ID+"}:*") {
			for _, v := range cMon.HGetAll(context.Background(), key).Val() {
				states[v[0]]++
			}
		}
		t.Logf("%s: %d grants recorded: %d committed, %d released by a dismissal, %d released by expiry",
			o.ID, states['C']+states['R']+states['H'], states['C'], states['R'], states['H'])
		if end[k].Count != states['C'] {
			t.Errorf("%s: %d units counted at the end, %d grants committed: %d used without a grant", o.ID, end[k].Count, states['C'], end[k].Count-states['C'])
		}
	}
	if grants.Load() == 0 || commits.Load() == 0 || expiries == 0 || releases.Load() == 0 {
		t.Errorf("the run did not exercise every transition")
	}
}
