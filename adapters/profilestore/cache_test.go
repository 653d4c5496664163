package profilestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

// testSchema has one field of every type, some with defaults.
func testSchema() *rules.Schema {
	return &rules.Schema{Fields: []rules.Field{
		{Name: "ltv", Type: rules.TypeNumber},
		{Name: "orders", Type: rules.TypeInt},
		{Name: "last_order_at", Type: rules.TypeTime},
		{Name: "tier", Type: rules.TypeString, Default: "basic"},
		{Name: "tags", Type: rules.TypeStringList},
		{Name: "vip", Type: rules.TypeBool},
		{Name: "scores", Type: rules.TypeNumberList, Default: []float64{1}},
		{Name: "churn_risk", Type: rules.TypeNumber, Default: 0.5},
	}}
}

// fakeRaw is a RawSource over a map, counting fetches; gate, when set,
// holds every fetch until closed.
type fakeRaw struct {
	mu      sync.Mutex
	data    map[string]map[string]string
	fetches atomic.Int64
	gate    chan struct{}
	fail    error
}

func (f *fakeRaw) Fetch(ctx context.Context, id string) (map[string]string, bool, error) {
	f.fetches.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, false, f.fail
	}
	m, ok := f.data[id]
	return m, ok, nil
}

func (f *fakeRaw) Decode(schema *rules.Schema, id string, fields map[string]string, found bool) *engine.Profile {
	if !found {
		return engine.DefaultProfile(schema, id)
	}
	p, _ := profiles.FromHash(schema, id, fields)
	return p
}

func (f *fakeRaw) Get(ctx context.Context, schema *rules.Schema, id string) (*engine.Profile, error) {
	m, found, err := f.Fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	return f.Decode(schema, id, m, found), nil
}

// decodedOnly hides the raw methods.
type decodedOnly struct{ s engine.ProfileSource }

func (d decodedOnly) Get(ctx context.Context, schema *rules.Schema, id string) (*engine.Profile, error) {
	return d.s.Get(ctx, schema, id)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling, not synchronisation
	}
}

func TestCacheTTLAndNegative(t *testing.T) {
	eachSource(t, func(t *testing.T, raw bool, src *fakeRaw, s engine.ProfileSource) {
		clk := &clock{t: time.Unix(1e9, 0)}
		c := NewCache(s, CacheOptions{TTL: time.Minute, NegativeTTL: 10 * time.Second, Now: clk.Now})
		ctx := context.Background()
		schema := testSchema()
		get := func(id string) *engine.Profile {
			t.Helper()
			p, err := c.Get(ctx, schema, id)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := get("c1"); !p.Known || p.Value("ltv") != 5.0 {
			t.Fatalf("%#v", p)
		}
		get("c1")
		if p := get("nobody"); p.Known || p.ID != "nobody" {
			t.Fatalf("%#v", p)
		}
		get("nobody")
		if n := src.fetches.Load(); n != 2 {
			t.Fatalf("fetches %d, want 2", n)
		}
		if h, m := c.Stats(); h != 2 || m != 2 {
			t.Fatalf("hits %d misses %d", h, m)
		}
		clk.Add(11 * time.Second) // the negative entry expires, the positive one not
		get("c1")
		get("nobody")
		if n := src.fetches.Load(); n != 3 {
			t.Fatalf("fetches %d, want 3", n)
		}
		clk.Add(time.Minute)
		get("c1")
		if n := src.fetches.Load(); n != 4 {
			t.Fatalf("fetches %d, want 4", n)
		}
		// Invalidate: the next Get reads the new value.
		src.mu.Lock()
		src.data["c1"] = map[string]string{"ltv": "6"}
		src.mu.Unlock()
		c.Invalidate("c1")
		if p := get("c1"); p.Value("ltv") != 6.0 {
			t.Fatalf("after invalidate: %v", p.Value("ltv"))
		}
		// anonymous: no fetch
		if p := get(""); p.Known || p.ID != "" {
			t.Fatalf("%#v", p)
		}
		if n := src.fetches.Load(); n != 5 {
			t.Fatalf("fetches %d, want 5", n)
		}
	})
}

// TestCacheCached: Cached answers fresh entries only, never fetches, and
// follows the schema as Get does.
func TestCacheCached(t *testing.T) {
	eachSource(t, func(t *testing.T, raw bool, src *fakeRaw, s engine.ProfileSource) {
		clk := &clock{t: time.Unix(1e9, 0)}
		c := NewCache(s, CacheOptions{TTL: time.Minute, Now: clk.Now})
		schema := testSchema()
		if _, ok := c.Cached(schema, "c1"); ok {
			t.Fatal("hit before any Get")
		}
		if _, ok := c.Cached(schema, ""); ok {
			t.Fatal("hit for an anonymous customer")
		}
		want, err := c.Get(context.Background(), schema, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := c.Cached(schema, "c1"); !ok || p != want {
			t.Fatalf("Cached after Get: %v %v", p, ok)
		}
		if h, m := c.Stats(); h != 1 || m != 1 {
			t.Fatalf("hits %d misses %d, want 1 and 1", h, m)
		}
		other := testSchema()
		if p, ok := c.Cached(other, "c1"); raw != ok || ok && (p == want || p.Value("ltv") != 5.0) {
			t.Fatalf("another schema: %v %v (a raw cache decodes again, a decoded one misses)", p, ok)
		}
		clk.Add(time.Minute)
		if _, ok := c.Cached(schema, "c1"); ok {
			t.Fatal("hit after the TTL")
		}
		if n := src.fetches.Load(); n != 1 {
			t.Fatalf("fetches %d, want 1", n)
		}
	})
}

// eachSource runs f with a fake store holding customer c1, once as a
// RawSource (raw) and once as a source of decoded profiles only.
func eachSource(t *testing.T, f func(t *testing.T, raw bool, src *fakeRaw, s engine.ProfileSource)) {
	for _, raw := range []bool{true, false} {
		t.Run(fmt.Sprint("raw=", raw), func(t *testing.T) {
			src := &fakeRaw{data: map[string]map[string]string{"c1": {"ltv": "5"}}}
			var s engine.ProfileSource = src
			if !raw {
				s = decodedOnly{src}
			}
			f(t, raw, src, s)
		})
	}
}

func TestCacheErrorsNotCached(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{}, fail: errors.New("down")}
	c := NewCache(src, CacheOptions{})
	for i := 0; i < 3; i++ {
		if _, err := c.Get(context.Background(), testSchema(), "c1"); err == nil {
			t.Fatal("no error")
		}
	}
	if n := src.fetches.Load(); n != 3 {
		t.Fatalf("fetches %d", n)
	}
}

func TestCacheSingleFlight(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{"c1": {"orders": "3"}}, gate: make(chan struct{})}
	c := NewCache(src, CacheOptions{})
	schema := testSchema()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.Get(context.Background(), schema, "c1")
			if err == nil && p.Value("orders") != 3 {
				err = fmt.Errorf("orders %v", p.Value("orders"))
			}
			errs <- err
		}()
	}
	waitFor(t, "every caller to miss", func() bool { _, m := c.Stats(); return m == n })
	close(src.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if f := src.fetches.Load(); f != 1 {
		t.Fatalf("%d fetches for one customer, want 1", f)
	}
}

// TestCacheWaiterDeadline: a waiter leaves at its own deadline.
func TestCacheWaiterDeadline(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{}, gate: make(chan struct{})}
	c := NewCache(src, CacheOptions{})
	done := make(chan struct{})
	go func() { _, _ = c.Get(context.Background(), testSchema(), "c1"); close(done) }()
	waitFor(t, "the fetch", func() bool { return src.fetches.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, testSchema(), "c1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	close(src.gate)
	<-done
}

func TestCacheInvalidateDuringFetch(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{"c1": {"orders": "1"}}, gate: make(chan struct{})}
	c := NewCache(src, CacheOptions{})
	done := make(chan struct{})
	go func() { _, _ = c.Get(context.Background(), testSchema(), "c1"); close(done) }()
	waitFor(t, "the fetch", func() bool { return src.fetches.Load() == 1 })
	c.Invalidate("c1") // a write landed while the old value was in flight
	close(src.gate)
	<-done
	if n, _ := c.Size(); n != 0 {
		t.Fatalf("the stale read was cached (%d entries)", n)
	}
}

func TestCacheSchemaChange(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{"c1": {"orders": "3", "tier": "gold"}}}
	c := NewCache(src, CacheOptions{})
	s1 := testSchema()
	s2 := &rules.Schema{Fields: []rules.Field{{Name: "orders", Type: rules.TypeString}, {Name: "tier", Type: rules.TypeString}}}
	p1, _ := c.Get(context.Background(), s1, "c1")
	p2, _ := c.Get(context.Background(), s2, "c1")
	if p1.Value("orders") != 3 || p2.Value("orders") != "3" {
		t.Fatalf("p1 %#v p2 %#v", p1.Value("orders"), p2.Value("orders"))
	}
	if _, ok := p2.Lookup("ltv"); ok {
		t.Fatal("a field of the old schema leaked")
	}
	if f := src.fetches.Load(); f != 1 {
		t.Fatalf("fetches %d: a reload should re-decode the kept fields", f)
	}
	p1again, _ := c.Get(context.Background(), s1, "c1")
	if p1again.Value("orders") != 3 {
		t.Fatal("back to the first schema")
	}
}

func TestCacheBounds(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{}}
	for i := 0; i < 1000; i++ {
		src.data[fmt.Sprint("c", i)] = map[string]string{"tier": "gold"}
	}
	c := NewCache(src, CacheOptions{MaxEntries: 160})
	for i := 0; i < 1000; i++ {
		if _, err := c.Get(context.Background(), testSchema(), fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := c.Size(); n > 160 {
		t.Fatalf("%d entries, bound 160", n)
	}
	// (A shard keeps at least its newest entry: 64 KiB is 4 KiB per shard,
	// a few entries of 1.5 KB.)
	c = NewCache(src, CacheOptions{MaxBytes: 64 * 1024})
	for i := 0; i < 1000; i++ {
		_, _ = c.Get(context.Background(), testSchema(), fmt.Sprint("c", i))
	}
	if _, b := c.Size(); b > 64*1024 {
		t.Fatalf("%d bytes, bound 64 KiB", b)
	}
	// LRU: a key used all along survives.
	c = NewCache(src, CacheOptions{MaxEntries: 16 * 4})
	for i := 0; i < 1000; i++ {
		_, _ = c.Get(context.Background(), testSchema(), "c0")
		_, _ = c.Get(context.Background(), testSchema(), fmt.Sprint("c", i))
	}
	before := src.fetches.Load()
	_, _ = c.Get(context.Background(), testSchema(), "c0")
	if src.fetches.Load() != before {
		t.Fatal("the hot key was evicted")
	}
}
