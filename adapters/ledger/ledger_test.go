package ledger

import (
	"context"
	"fmt"
	"reflect"
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

func TestDryRunWritesNothing(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
		p := &engine.Plan{Now: time.Unix(1e9, 0), CustomerID: "c1", Currency: "USD", DryRun: true, Limit: 3, Guardrail: 1e6,
			Items: []engine.PlanItem{{OfferID: "x", Amount: 100, PerCustomer: 1, Window: time.Hour, Total: 5, Budget: 1000}}}
		got, err := l.Reserve(context.Background(), p)
		if err != nil || !reflect.DeepEqual(got, []engine.Result{engine.Granted}) {
			t.Fatalf("%v %v", got, err)
		}
		l.Wait()
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) != 0 {
			t.Fatalf("mode %d: a dry run wrote %v", mode, keys)
		}
	}
}

func TestAnonymousNeverGetsPerCustomerCapped(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
		p := &engine.Plan{Now: time.Unix(1e9, 0), Currency: "USD", Limit: 3, Guardrail: 1e6,
			Items: []engine.PlanItem{{OfferID: "x", PerCustomer: 5}, {OfferID: "y", Total: 5}}}
		got, err := l.Reserve(context.Background(), p)
		if err != nil || !reflect.DeepEqual(got, []engine.Result{engine.SkippedCapPerCustomer, engine.Granted}) {
			t.Fatalf("mode %d: %v %v", mode, got, err)
		}
		l.Wait()
	}
}

func TestWindowRolls(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	l := NewWithOptions(c, Options{Prefix: prefix, Clock: ClockPlan})
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	plan := func(at time.Time) *engine.Plan {
		return &engine.Plan{Now: at, CustomerID: "c1", Currency: "USD", Limit: 1, Guardrail: 0,
			Items: []engine.PlanItem{{OfferID: "daily", PerCustomer: 1, Window: 24 * time.Hour}}}
	}
	for _, tc := range []struct {
		at   time.Time
		want engine.Result
	}{
		{t0, engine.Granted},
		{t0.Add(23 * time.Hour), engine.SkippedCapPerCustomer},
		{t0.Add(24*time.Hour - time.Millisecond), engine.SkippedCapPerCustomer},
		{t0.Add(24 * time.Hour), engine.Granted},
	} {
		got, err := l.Reserve(context.Background(), plan(tc.at))
		if err != nil || got[0] != tc.want {
			t.Fatalf("at %v: %v %v, want %v", tc.at, got, err, tc.want)
		}
	}
	ttl, _ := c.PTTL(context.Background(), CustomerKey(prefix, "c1", "daily", true)).Result()
	if ttl <= 0 || ttl > 24*time.Hour {
		t.Errorf("window key TTL %v", ttl)
	}
}

// TestExactUnderConcurrency: 64 goroutines over two clients (two replicas)
// never grant past a total, a per-customer cap or a budget, and in
// ModeScript grant exactly up to them; also with the walks auto-pipelined
// (what serve does on one server).
func TestExactUnderConcurrency(t *testing.T) {
	for _, v := range []struct {
		mode Mode
		auto bool
	}{{ModeScript, false}, {ModeSplit, false}, {ModeScript, true}} {
		mode := v.mode
		t.Run(fmt.Sprint("mode=", mode, ",autopipelined=", v.auto), func(t *testing.T) {
			c1, prefix, real := redistest.Client(t)
			c2 := c1
			if real {
				c2, _, _ = redistest.Client(t)
			} else if cl, ok := c1.(*redis.Client); ok {
				c2 = redis.NewClient(cl.Options())
				defer c2.Close()
			}
			o1, o2 := Options{Prefix: prefix, Mode: mode}, Options{Prefix: prefix, Mode: mode}
			if v.auto {
				o1.AutoPipeline, o2.AutoPipeline = redisconn.AutoPipelined(c1), redisconn.AutoPipelined(c2)
			}
			exactness(t, []*Redis{NewWithOptions(c1, o1), NewWithOptions(c2, o2)}, c1, prefix, mode == ModeScript)
		})
	}
}

func exactness(t *testing.T, replicas []*Redis, c redis.UniversalClient, prefix string, exact bool) {
	const (
		workers   = 64
		perWorker = 40
		total     = 100
		budget    = 5000 // 50 grants of 100
		perCust   = 2
		customers = 30
	)
	var grantsTotal, grantsBudget atomic.Int64
	perCustomer := make([]atomic.Int64, customers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			l := replicas[w%len(replicas)]
			for k := 0; k < perWorker; k++ {
				cust := (w*perWorker + k) % customers
				p := &engine.Plan{Now: now, CustomerID: "cust-" + strconv.Itoa(cust), Currency: "USD", Limit: 3, Guardrail: 1e9,
					Items: []engine.PlanItem{
						{OfferID: "first100", Group: "g", Total: total},
						{OfferID: "budgeted", Amount: 100, Budget: budget},
						{OfferID: "twice", PerCustomer: perCust, Window: time.Hour},
					}}
				res, err := l.Reserve(context.Background(), p)
				if err != nil {
					errs <- err
					return
				}
				if res[0] == engine.Granted {
					grantsTotal.Add(1)
				}
				if res[1] == engine.Granted {
					grantsBudget.Add(1)
				}
				if res[2] == engine.Granted {
					perCustomer[cust].Add(1)
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
	if g := grantsTotal.Load(); g > total || (exact && g != total) {
		t.Errorf("total: %d grants, cap %d", g, total)
	}
	if g := grantsBudget.Load(); g*100 > budget || (exact && g*100 != budget) {
		t.Errorf("budget: %d grants of 100, budget %d", g, budget)
	}
	for i := range perCustomer {
		if g := perCustomer[i].Load(); g > perCust || (exact && g != perCust) {
			t.Errorf("customer %d: %d grants, cap %d", i, g, perCust)
		}
	}
	ctx := context.Background()
	if n, _ := c.Get(ctx, TotalKey(prefix, "first100")).Int64(); n != grantsTotal.Load() {
		t.Errorf("total counter %d, grants %d", n, grantsTotal.Load())
	}
	if n, _ := c.Get(ctx, BudgetKey(prefix, "budgeted", "USD")).Int64(); n != 100*grantsBudget.Load() {
		t.Errorf("spent counter %d, grants %d", n, grantsBudget.Load())
	}
	t.Logf("granted: total %d/%d, budget %d/%d", grantsTotal.Load(), total, grantsBudget.Load()*100, budget)
}

func TestBadPlan(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	l := New(c, prefix)
	if _, err := l.Reserve(context.Background(), &engine.Plan{Items: []engine.PlanItem{{OfferID: "x", Amount: -1, Total: 1}}}); err == nil {
		t.Fatal("negative amount accepted")
	}
}

// TestCluster runs the ledger on a three-node Redis Cluster the test starts:
// it must pick ModeSplit, agree with the model, and stay exact under
// concurrency from two replicas.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.StartCluster(t)
	open := func() redis.UniversalClient {
		c, err := redisconnOpen(cl.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c1, c2 := open(), open()
	prefix := redistest.UniquePrefix(t)
	l1 := New(c1, prefix)
	if !l1.Split() {
		t.Fatal("ModeAuto on a cluster client is not ModeSplit")
	}
	agreeWithReference(t, []*Redis{NewWithOptions(c1, Options{Prefix: prefix, Clock: ClockPlan, ClaimLease: refClaimLease})}, c1, prefix, 7, 250)
	prefix2 := redistest.UniquePrefix(t)
	exactness(t, []*Redis{New(c1, prefix2), New(c2, prefix2)}, c1, prefix2, false)
}

// TestSplitReleasesOnError: in ModeSplit, when the customer's script fails
// (here a key of the wrong type) but the offer's succeeded, Reserve answers
// an error and the offer's tentative reservation is given back.
func TestSplitReleasesOnError(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	var released atomic.Int64
	l := NewWithOptions(c, Options{Prefix: prefix, Mode: ModeSplit, OnReleaseError: func(error) { released.Add(-1000) }})
	if err := c.HSet(ctx, CustomerKey(prefix, "c1", "x", true), "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	p := &engine.Plan{Now: time.Unix(1e9, 0), CustomerID: "c1", Currency: "USD", Limit: 3, Guardrail: 1e6,
		Items: []engine.PlanItem{{OfferID: "x", PerCustomer: 1, Window: time.Hour}, {OfferID: "y", Amount: 100, Total: 5, Budget: 500}}}
	if _, err := l.Reserve(ctx, p); err == nil {
		t.Fatal("no error with a broken customer key")
	}
	l.Wait()
	if n, _ := c.Get(ctx, TotalKey(prefix, "y")).Int64(); n != 0 {
		t.Errorf("total counter %d after release, want 0", n)
	}
	if n, _ := c.Get(ctx, BudgetKey(prefix, "y", "USD")).Int64(); n != 0 {
		t.Errorf("spent %d after release, want 0", n)
	}
	if st := l.Stats(); st.Errors != 1 || st.ReleaseErrors != 0 || released.Load() != 0 {
		t.Errorf("stats %+v", st)
	}
}
