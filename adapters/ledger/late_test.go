package ledger

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// latePlan is a decision with one of each kind of cap, for customer k.
func latePlan(k int) *engine.Plan {
	return &engine.Plan{Now: time.Now(), Ref: fmt.Sprintf("%026d", k), CustomerID: "cust-" + strconv.Itoa(k),
		Currency: "USD", Limit: 4, Guardrail: 1 << 40,
		Items: []engine.PlanItem{
			{OfferID: "once", PerCustomer: 1},
			{OfferID: "first1000", Total: 1000},
			{OfferID: "budget", Amount: 925, Budget: 1 << 40},
			{OfferID: "held", Amount: 100, Total: 1000, Hold: time.Hour, Record: true, Cell: "all"},
		}}
}

// unitsUsed counts the units of latePlan's caps used for customers 0..n.
// Every read must succeed (read them with a client whose timeout suits a
// loaded machine): a failed read is not a zero.
func unitsUsed(t *testing.T, c redis.UniversalClient, prefix string, n int) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	val := func(v int64, err error) int64 {
		t.Helper()
		if err != nil && err != redis.Nil {
			t.Fatalf("reading the units used: %v", err)
		}
		return v
	}
	get := func(k string) int64 { return val(c.Get(ctx, k).Int64()) }
	used := map[string]int64{
		"total":      get(TotalKey(prefix, "first1000")),
		"budget":     get(BudgetKey(prefix, "budget", "USD")) / 925,
		"hold":       get(TotalKey(prefix, "held")),
		"trials":     val(c.HGet(ctx, LearnKey(prefix, "held"), "all|t|"+day(time.Now())).Int64()),
		"percust":    0,
		"records":    0,
		"held (set)": val(c.ZCard(ctx, HeldKey(prefix, "held")).Result()),
	}
	for k := 0; k <= n; k++ {
		used["percust"] += get(CustomerKey(prefix, "cust-"+strconv.Itoa(k), "once", false))
	}
	for _, k := range scanKeys(t, c, prefix+"rec:{held}:*") {
		used["records"] += val(c.HLen(ctx, k).Result())
	}
	return used
}

// TestLateReplyUsesNoUnit (issue 13, item 4): a ledger call that the
// server runs after the caller's deadline (Redis busy for 100 ms, the
// caller waiting 20 ms) grants nothing, so it must use nothing: at the end
// no unit of a total, a budget, a hold, a per-customer cap, a record or a
// learning trial is used without a grant. Whether the call runs before its
// undo or after it (both happen here), the result is the same.
func TestLateReplyUsesNoUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	srv := redistest.StartServer(t)
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			ctx := context.Background()
			c, err := redisconn.Open("redis://"+srv.Addr, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			busy := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 2 * time.Second})
			defer busy.Close()
			probe := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Millisecond, MaxRetries: -1})
			defer probe.Close()
			prefix := redistest.UniquePrefix(t)
			l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
			// granted counts the grants answered on time, per item of latePlan.
			var granted [4]int64
			reserve := func(k int) error {
				ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				defer cancel()
				res, err := l.Reserve(ctx, latePlan(k))
				for i, r := range res {
					if r == engine.Granted {
						granted[i]++
					}
				}
				return err
			}
			// One call on time: one unit of each (a call that times out on a
			// loaded machine is undone like the late ones: try again).
			for start := time.Now(); reserve(0) != nil; {
				if time.Since(start) > 5*time.Second {
					t.Fatal("no call on time in 5 s")
				}
			}
			late, onTime := 0, 1
			for k := 1; k <= 20; k++ {
				// A pooled connection ready (a ping may time out on a loaded
				// machine: try again).
				for start := time.Now(); c.Ping(ctx).Err() != nil; {
					if time.Since(start) > 5*time.Second {
						t.Fatal("no ping answered in 5 s")
					}
				}
				slept := make(chan error, 1)
				go func() { slept <- busy.Eval(ctx, busyScript, nil, 100).Err() }()
				// Wait until the server is busy (a 1 ms probe times out).
				deadline := time.Now().Add(2 * time.Second)
				for probe.Ping(ctx).Err() == nil {
					if time.Now().After(deadline) {
						t.Fatal("the server never got busy")
					}
				}
				if err := reserve(k); err != nil {
					late++
				} else {
					onTime++ // the machine was too slow to send it while the server was busy
				}
				if err := <-slept; err != nil {
					t.Fatal(err)
				}
			}
			if late < 10 {
				t.Fatalf("only %d of 20 calls timed out: the test did not test", late)
			}
			l.Wait()
			used := unitsUsed(t, busy, prefix, 20) // c's 20 ms would fail reads on a loaded machine
			item := map[string]int{"percust": 0, "total": 1, "budget": 2, "hold": 3, "held (set)": 3, "records": 3, "trials": 3}
			for what, n := range used {
				if want := granted[item[what]]; n != want {
					t.Errorf("%s: %d used, %d granted (%d without a grant)", what, n, want, n-want)
				}
			}
			t.Logf("%d calls on time, %d given up on: units used %v; stats %+v", onTime, late, used, l.Stats())
		})
	}
}

// busyScript keeps the server busy for ARGV[1] ms (as a slow command or a
// stalled server would).
const busyScript = `
local function ms() local t = redis.call('TIME') return t[1] * 1000 + t[2] / 1000 end
local stop = ms() + tonumber(ARGV[1])
while ms() < stop do end
return 1
`

// TestWalkAfterItsUndoDoesNothing: a call that reaches the server only
// after the caller gave up and undid it (a request held up in the network)
// finds the tomb its undo left and reserves nothing.
func TestWalkAfterItsUndoDoesNothing(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
		// A call on time, then a call "given up on" whose undo runs first:
		// a ledger whose tokens repeat shows it (the undo and the late call
		// share the token).
		if _, err := l.Reserve(context.Background(), latePlan(0)); err != nil {
			t.Fatal(err)
		}
		token := l.tokenPrefix + strconv.FormatUint(l.seq.Load()+1, 36)
		p := latePlan(1)
		if mode == ModeScript {
			tomb, journal := prefix+"tomb:{"+token+"}", prefix+"jrnl:{"+token+"}"
			l.undo(&call{script: scriptReleaseWalk, keys: []string{tomb, journal, tomb}, args: l.walkArgs(p, token)})
		} else {
			var us []*call
			for _, tag := range []string{"{cust-1}", "{first1000}", "{budget}", "{held}"} {
				us = append(us, &call{script: redis.NewScript("return redis.call('SET', KEYS[1], '1', 'PX', 600000)"),
					keys: []string{prefix + "tomb:" + tag + ":" + token}})
			}
			l.undo(us...)
		}
		l.Wait()
		_, err := l.Reserve(context.Background(), p) // the late call, same token
		if err == nil {
			t.Fatalf("mode %d: a call after its undo answered", mode)
		}
		l.Wait()
		if used := unitsUsed(t, c, prefix, 1); used["total"] != 1 || used["budget"] != 1 || used["hold"] != 1 || used["percust"] != 1 || used["records"] != 1 {
			t.Errorf("mode %d: units used %v, want 1 each", mode, used)
		}
		redistest.DeletePrefix(t, c, prefix)
	}
}
