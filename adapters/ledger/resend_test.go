package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// replyDropper makes connections that lose the reply of the next write
// holding a marker: the command reaches the server and runs, then the
// connection drops before its reply is read (a network blip, CLIENT KILL,
// a proxy that dies), as go-redis sees a read error.
type replyDropper struct {
	mu     sync.Mutex
	marker []byte // armed when non-nil; disarmed by the write it matches
	drops  atomic.Int32
}

func (d *replyDropper) arm(marker string) {
	d.mu.Lock()
	d.marker = []byte(marker)
	d.mu.Unlock()
}

func (d *replyDropper) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, d: d}, nil
}

type dropConn struct {
	net.Conn
	d    *replyDropper
	lose atomic.Bool
}

func (c *dropConn) Write(b []byte) (int, error) {
	c.d.mu.Lock()
	if c.d.marker != nil && bytes.Contains(b, c.d.marker) {
		c.d.marker = nil
		c.lose.Store(true)
	}
	c.d.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *dropConn) Read(b []byte) (int, error) {
	if c.lose.CompareAndSwap(true, false) {
		// The reply arrives (the command ran), and is lost with the connection.
		_, _ = c.Conn.Read(b)
		c.Conn.Close()
		c.d.drops.Add(1)
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

// TestResentCallCountsOnce: on Redis Cluster, go-redis sends a pipeline
// again (up to MaxRedirects times) when a node's reply is lost or times
// out, though the node may have run it; so does any client given
// max_retries in its URL. A ledger call run twice must reserve once and
// answer as its first run did. Before, on Redis Cluster (ModeSplit) the
// offer's script reserved its total, budget and hold again (two units
// counted for one grant, one never given back: "the first 1000" stopped
// short for good); the customer's script found the customer's cap taken
// by its own first run and refused the offer; and the Idempotency-Key's
// script, finding the key claimed by its own first run, answered
// "pending": the decision granted nothing, the checkout was answered 409
// "still being decided", and so was every retry with the key until
// --idempotency-ttl passed.
func TestResentCallCountsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster and a redis-server")
	}
	var d replyDropper
	// The cluster with the serve client's settings (redisconn), its
	// connections able to lose a reply.
	cl := redistest.StartCluster(t)
	clusterBase, err := redisconnOpen(cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer clusterBase.Close()
	opt := *clusterBase.(*redis.ClusterClient).Options()
	opt.Dialer = d.dial
	cluster := redis.NewClusterClient(&opt)
	defer cluster.Close()
	// One server, through a client that resends once (max_retries=1).
	srv := redistest.StartServer(t)
	oneBase := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer oneBase.Close()
	one := redis.NewClient(&redis.Options{Addr: srv.Addr, Dialer: d.dial, MaxRetries: 1, MinRetryBackoff: -1})
	defer one.Close()

	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		split  bool
		claim  bool
		marker func(prefix string, p *engine.Plan) string // what the dropped write holds
	}{
		{"cluster, the offer's script", true, false, func(prefix string, p *engine.Plan) string { return "{" + p.Items[0].OfferID + "}" }},
		{"cluster, the customer's script", true, false, func(prefix string, p *engine.Plan) string { return "jrnl:{" + p.CustomerID + "}" }},
		{"cluster, the customer's script, a claim", true, true, func(prefix string, p *engine.Plan) string { return "jrnl:{" + p.CustomerID + "}" }},
		{"cluster, the offer's script, a claim", true, true, func(prefix string, p *engine.Plan) string { return "{" + p.Items[0].OfferID + "}" }},
		{"cluster, the claim's script", true, true, func(prefix string, p *engine.Plan) string { return ClaimKey(prefix, p.Claim.Key) }},
		{"one server, the walk", false, false, func(prefix string, p *engine.Plan) string { return p.Ref }},
		{"one server, the walk, a claim", false, true, func(prefix string, p *engine.Plan) string { return p.Ref }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, base, mode := redis.UniversalClient(one), redis.UniversalClient(oneBase), ModeScript
			if tc.split {
				c, base, mode = cluster, clusterBase, ModeSplit
			}
			prefix := redistest.UniquePrefix(t)
			defer redistest.DeletePrefix(t, base, prefix)
			l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
			plan := func(cust, ref string) *engine.Plan {
				p := &engine.Plan{Now: time.Now(), Ref: ref, CustomerID: cust, Currency: "USD", Limit: 2, Guardrail: 1 << 40,
					Items: []engine.PlanItem{
						{OfferID: "held", Amount: 100, Total: 10, Budget: 10_000, Hold: time.Hour, Record: true, Cell: "all"},
						{OfferID: "once", PerCustomer: 1},
					}}
				if tc.claim {
					p.Claim = &engine.Claim{Key: "key-" + ref, Body: sha256.Sum256([]byte(ref)), TTL: time.Minute}
				}
				return p
			}
			// A first call loads the scripts (a NOSCRIPT is not a lost reply).
			if res, err := l.Reserve(ctx, plan("warm", "00000000000000000000000001")); err != nil || res[0] != engine.Granted {
				t.Fatalf("first call: %v %v", res, err)
			}
			l.Wait()
			p := plan("cust", "00000000000000000000000002")
			d.arm(tc.marker(prefix, p))
			drops := d.drops.Load()
			res, err := l.Reserve(ctx, p)
			l.Wait()
			if n := d.drops.Load() - drops; n != 1 {
				t.Fatalf("%d replies lost, want 1: the test did not test", n)
			}
			if err != nil {
				t.Fatalf("the call sent again failed: %v", err)
			}
			if res[0] != engine.Granted || res[1] != engine.Granted {
				t.Errorf("the call sent again answered %v, want both granted", res)
			}
			if tc.claim && p.Claim.State != engine.ClaimNew {
				t.Errorf("the call sent again found the key in state %v, want ClaimNew (its own)", p.Claim.State)
			}
			get := func(k string) int64 { n, _ := base.Get(ctx, k).Int64(); return n }
			n, _ := base.HGet(ctx, HoldKey(prefix, "held"), "n").Int64()
			got := map[string]int64{
				"total":        get(TotalKey(prefix, "held")),
				"spent":        get(BudgetKey(prefix, "held", "USD")),
				"held (n)":     n,
				"held (set)":   base.ZCard(ctx, HeldKey(prefix, "held")).Val(),
				"per customer": get(CustomerKey(prefix, "cust", "once", false)),
			}
			want := map[string]int64{"total": 2, "spent": 200, "held (n)": 2, "held (set)": 2, "per customer": 1}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: %d counted for the 2 grants, want %d", k, got[k], w)
				}
			}
		})
	}
}
