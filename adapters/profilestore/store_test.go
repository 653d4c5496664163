package profilestore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

func TestRedisStore(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	s := NewRedisStore(c, StoreOptions{Prefix: prefix, Timeout: time.Second})
	if got := s.Key("c-1"); got != prefix+"profile:{c-1}" {
		t.Fatalf("key %q", got)
	}
	if err := c.HSet(ctx, s.Key("c-1"), "ltv", "1500", "orders", "seven", "tier", "gold", "extra", "x").Err(); err != nil {
		t.Fatal(err)
	}
	p, err := s.Get(ctx, testSchema(), "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Known || p.Value("ltv") != 1500.0 || p.Value("orders") != 0 || p.Value("tier") != "gold" {
		t.Fatalf("%#v", p.AttrMap())
	}
	p, err = s.Get(ctx, testSchema(), "nobody")
	if err != nil || p.Known || p.ID != "nobody" || p.Value("tier") != "basic" {
		t.Fatalf("unknown: %#v %v", p, err)
	}
	p, err = s.Get(ctx, testSchema(), "")
	if err != nil || p.Known {
		t.Fatalf("anonymous: %#v %v", p, err)
	}
	st := s.Stats()
	if st.Gets != 2 || st.Unknown != 1 || st.BadFields != 1 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Through the cache: the same answers, one fetch.
	cache := NewCache(s, CacheOptions{})
	for i := 0; i < 3; i++ {
		if p, err := cache.Get(ctx, testSchema(), "c-1"); err != nil || p.Value("tier") != "gold" {
			t.Fatalf("cache: %v %v", p, err)
		}
	}
	if st := s.Stats(); st.Gets != 3 {
		t.Fatalf("cache fetched %d times", st.Gets-2)
	}
}

// TestRedisStoreDown: with Redis stopped the store answers an error fast;
// once it is back, profiles come back; through the client and through its
// autopipeliner (what serve uses).
func TestRedisStoreDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("autopipelined=%v", auto), func(t *testing.T) { testRedisStoreDown(t, auto) })
	}
}

func testRedisStoreDown(t *testing.T, auto bool) {
	srv := redistest.StartServer(t)
	c, err := redisconn.Open("redis://"+srv.Addr, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var reader redis.Cmdable = c
	if auto {
		reader = redisconn.AutoPipelined(c)
	}
	s := NewRedisStore(reader, StoreOptions{})
	ctx := context.Background()
	if err := c.HSet(ctx, s.Key("c1"), "tier", "gold").Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for i := 0; i < 50; i++ {
		start := time.Now()
		if _, err := s.Get(ctx, testSchema(), "c1"); err == nil {
			t.Fatal("no error with Redis down")
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("call %d took %v", i, d)
		}
	}
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := s.Get(ctx, testSchema(), "c1")
		if err == nil {
			if p.Known {
				t.Fatal("a restarted server without persistence still has the profile")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// TestRedisStoreCluster reads a profile through a Redis Cluster client.
func TestRedisStoreCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.StartCluster(t)
	c, err := redisconn.OpenWith(cl.URL(), redisconn.Options{Timeout: redistest.TestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := NewRedisStore(c, StoreOptions{})
	auto := NewRedisStore(redisconn.AutoPipelined(c), StoreOptions{})
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		id := fmt.Sprint("cust-", i)
		if err := c.HSet(ctx, s.Key(id), "orders", fmt.Sprint(i)).Err(); err != nil {
			t.Fatal(err)
		}
		p, err := s.Get(ctx, testSchema(), id)
		if err != nil || p.Value("orders") != i {
			t.Fatalf("%s: %v %v", id, p, err)
		}
		p, err = auto.Get(ctx, testSchema(), id)
		if err != nil || p.Value("orders") != i {
			t.Fatalf("%s auto-pipelined: %v %v", id, p, err)
		}
	}
}

// TestRedisStoreExists: with StoreOptions.Exists an unknown customer costs
// no HGETALL; a profile written after an unknown answer is found by the
// next fetch, and through the cache once the negative entry has expired.
// Exists is the embedded miniredis's own, or with the real Redis an EXISTS
// (the same contract, over the network).
func TestRedisStoreExists(t *testing.T) {
	c, srv, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: redistest.TestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	prefix := redistest.UniquePrefix(t)
	var client redis.UniversalClient = c
	exists := srv.Exists
	if real, _, isReal := redistest.Client(t); isReal {
		client = real
		exists = func(key string) bool {
			n, err := real.Exists(context.Background(), key).Result()
			return err != nil || n > 0 // an error: ask with HGETALL
		}
	}
	ctx := context.Background()
	tests := []struct {
		name   string
		reader redis.Cmdable
	}{{"client", client}, {"autopipelined", redisconn.AutoPipelined(client)}}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewRedisStore(tc.reader, StoreOptions{Prefix: prefix, Exists: exists})
			id := "c-new-" + strconv.Itoa(i)
			clk := &clock{t: time.Unix(1e9, 0)}
			cache := NewCache(s, CacheOptions{TTL: time.Minute, NegativeTTL: 5 * time.Second, Now: clk.Now})
			if p, err := cache.Get(ctx, testSchema(), id); err != nil || p.Known {
				t.Fatalf("before the write: %#v %v", p, err)
			}
			if st := s.Stats(); st.Gets != 0 || st.Unknown != 1 {
				t.Fatalf("an unknown customer: stats %+v, want no HGETALL and 1 unknown", st)
			}
			if err := client.HSet(ctx, s.Key(id), "tier", "gold").Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Del(context.Background(), s.Key(id)) })
			if _, found, err := s.Fetch(ctx, id); err != nil || !found {
				t.Fatalf("the store right after the write: found %v, %v", found, err)
			}
			clk.Add(5*time.Second - time.Millisecond)
			if p, err := cache.Get(ctx, testSchema(), id); err != nil || p.Known {
				t.Fatalf("the cache within the negative TTL: %#v %v (want the negative answer)", p, err)
			}
			clk.Add(time.Millisecond)
			if p, err := cache.Get(ctx, testSchema(), id); err != nil || !p.Known || p.Value("tier") != "gold" {
				t.Fatalf("the cache after the negative TTL: %#v %v", p, err)
			}
			if st := s.Stats(); st.Gets != 2 || st.Unknown != 1 {
				t.Fatalf("stats %+v, want 2 HGETALLs and 1 unknown", st)
			}
		})
	}
}

// TestCacheMissing: with StoreOptions.Exists the cache's Cached answers an
// unknown customer itself (no deadline, no fetch), as a miss, and keeps no
// answer: a profile written afterwards is found by the next lookup.
func TestCacheMissing(t *testing.T) {
	client, srv, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: redistest.TestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	ctx := context.Background()
	tests := []struct {
		name   string
		exists func(string) bool
		cached bool // Cached answers the unknown customer
	}{
		{"with Exists", srv.Exists, true},
		{"without", nil, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewRedisStore(client, StoreOptions{Prefix: "t" + strconv.Itoa(i) + ":", Exists: tc.exists})
			c := NewCache(s, CacheOptions{})
			p, ok := c.Cached(testSchema(), "c-later")
			if ok != tc.cached || (ok && (p.Known || p.ID != "c-later" || p.Value("tier") != "basic")) {
				t.Fatalf("Cached: %#v, %v; want answered %v with the defaults", p, ok, tc.cached)
			}
			if hits, misses := c.Stats(); hits != 0 || misses != 1 && tc.cached {
				t.Errorf("stats %d hits %d misses, want the unknown customer a miss", hits, misses)
			}
			if st := s.Stats(); st.Gets != 0 {
				t.Errorf("%d HGETALLs", st.Gets)
			}
			if err := client.HSet(ctx, s.Key("c-later"), "tier", "gold").Err(); err != nil {
				t.Fatal(err)
			}
			if _, ok := c.Cached(testSchema(), "c-later"); ok {
				t.Fatal("Cached answered a customer now known, without fetching")
			}
			if p, err := c.Get(ctx, testSchema(), "c-later"); err != nil || !p.Known || p.Value("tier") != "gold" {
				t.Fatalf("after the write: %#v %v", p, err)
			}
		})
	}
}
