package ledger

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// awkwardIDs are customer ids the API accepts that upset a hash tag, or
// nearly: braces anywhere, empty tags, '%' (the escape's own character),
// and text outside ASCII.
var awkwardIDs = []string{
	"}x", "{a}", "a}b{", "{}", "}", "{", "a{b}c", "{{a}}", "%7B", "%", "50%off{",
	"ümlaut", "客户-42", "😀{x}", "plain-c-1",
}

// capPlan is a plan with two per-customer caps (one windowed, one not), a
// total and a budget: every slot of the split walk.
func capPlan(customer string, now time.Time) *engine.Plan {
	return &engine.Plan{Now: now, CustomerID: customer, Currency: "USD", Limit: 3, Guardrail: 1e6,
		Items: []engine.PlanItem{
			{OfferID: "once", PerCustomer: 1},
			{OfferID: "daily", PerCustomer: 1, Window: 24 * time.Hour},
			{OfferID: "fleet", PerCustomer: 1, Total: 1000, Amount: 100, Budget: 1e6},
		}}
}

// TestCustomerIDsOnCluster: on a Redis Cluster, every customer id the API
// accepts gets its capped offers once, then is refused by its caps; no
// CROSSSLOT error. Before the customer part of the keys was escaped, an id
// such as "}x" made the customer's keys hash to different slots.
func TestCustomerIDsOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.StartCluster(t)
	c, err := redisconnOpen(cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prefix := redistest.UniquePrefix(t)
	var logs bytes.Buffer
	l := NewWithOptions(c, Options{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !l.Split() {
		t.Fatal("not ModeSplit on a cluster")
	}
	checkCustomerIDs(t, l, c, prefix, true)
	if logs.Len() > 0 {
		t.Errorf("errors logged: %s", logs.String())
	}
}

// TestCustomerIDsOnOneRedis: the same ids on one Redis (ModeScript).
func TestCustomerIDsOnOneRedis(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	l := NewWithOptions(c, Options{Prefix: prefix, Mode: ModeScript})
	checkCustomerIDs(t, l, c, prefix, false)
}

func checkCustomerIDs(t *testing.T, l *Redis, c redis.UniversalClient, prefix string, cluster bool) {
	t.Helper()
	ctx := context.Background()
	now := time.Unix(1.9e9, 0)
	for _, id := range awkwardIDs {
		for round, want := range []engine.Result{engine.Granted, engine.SkippedCapPerCustomer} {
			res, err := l.Reserve(ctx, capPlan(id, now.Add(time.Duration(round)*time.Second)))
			if err != nil {
				t.Errorf("customer %q, round %d: %v", id, round, err)
				continue
			}
			for i, r := range res {
				if r != want {
					t.Errorf("customer %q, round %d, item %d: %v, want %v", id, round, i, r, want)
				}
			}
		}
		// The counter is where CustomerKey says, in the slot of the
		// customer's tag.
		k := CustomerKey(prefix, id, "once", false)
		if n, err := c.Get(ctx, k).Int64(); err != nil || n != 1 {
			t.Errorf("customer %q: %s = %d, %v; want 1", id, k, n, err)
		}
		if cluster {
			tag := hashTag(k)
			if tag == "" || strings.ContainsAny(tag, "{}") {
				t.Errorf("customer %q: key %q has hash tag %q", id, k, tag)
			}
			if hashTag(CustomerKey(prefix, id, "daily", true)) != tag {
				t.Errorf("customer %q: its keys have different tags", id)
			}
		}
	}
	// Distinct ids never share keys.
	seen := map[string]string{}
	for _, id := range awkwardIDs {
		k := CustomerKey(prefix, id, "o", false)
		if other, ok := seen[k]; ok {
			t.Errorf("customers %q and %q share the key %q", id, other, k)
		}
		seen[k] = id
	}
	l.Wait()
}

// hashTag is Redis Cluster's hash tag of a key: what lies between the
// first '{' and the first '}' after it, when not empty; else "".
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}

// TestReserveErrorsLogged: a failing ledger call is logged (with what
// failed), and a storm of failures is logged a bounded number of times.
func TestReserveErrorsLogged(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	var logs bytes.Buffer
	l := NewWithOptions(c, Options{Prefix: prefix, Mode: ModeSplit, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	// A key of the wrong type makes the customer's script fail.
	if err := c.HSet(ctx, CustomerKey(prefix, "c1", "once", false), "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := l.Reserve(ctx, capPlan("c1", time.Unix(1.9e9, 0))); err == nil {
			t.Fatal("no error with a broken customer key")
		}
	}
	l.Wait()
	out := logs.String()
	if n := strings.Count(out, "ledger call failed"); n < 1 || n > 2 {
		t.Errorf("%d log lines for 100 failures, want 1 or 2 (rate-limited):\n%s", n, out)
	}
	if !strings.Contains(out, "WRONGTYPE") {
		t.Errorf("the log does not say what failed:\n%s", out)
	}
}
