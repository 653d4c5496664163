package profilestore

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/rules"
)

func benchFields() map[string]string {
	return map[string]string{"ltv": "1500.25", "orders": "7", "last_order_at": "2026-11-01T00:00:00Z", "tier": "gold",
		"tags": `["a","b"]`, "vip": "true", "scores": "[1,2]", "churn_risk": "0.3"}
}

// BenchmarkCacheHit: a profile served from the cache.
func BenchmarkCacheHit(b *testing.B) {
	src := &fakeRaw{data: map[string]map[string]string{"c1": benchFields()}}
	c := NewCache(src, CacheOptions{})
	schema := testSchema()
	ctx := context.Background()
	if _, err := c.Get(ctx, schema, "c1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Get(ctx, schema, "c1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGet: a cache miss: one HGETALL and the decode, against the
// real Redis when ARBITER_TEST_REDIS_URL is set, else miniredis.
func BenchmarkStoreGet(b *testing.B) {
	client, prefix, real := redistest.Client(b)
	b.Logf("real redis: %v", real)
	s := NewRedisStore(client, StoreOptions{Prefix: prefix})
	ctx := context.Background()
	const n = 100
	for i := 0; i < n; i++ {
		args := []any{}
		for k, v := range benchFields() {
			args = append(args, k, v)
		}
		if err := client.HSet(ctx, s.Key("c"+strconv.Itoa(i)), args...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	schema := testSchema()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "c" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.Get(ctx, schema, ids[i%n])
		if err != nil || !p.Known {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGetConcurrent: cache misses from 32 concurrent decisions,
// through the client (a round trip each) and through its autopipeliner
// (what serve uses: concurrent fetches share round trips). Against the real
// Redis when ARBITER_TEST_REDIS_URL is set, else miniredis.
func BenchmarkStoreGetConcurrent(b *testing.B) {
	client, prefix, real := redistest.Client(b)
	b.Logf("real redis: %v", real)
	ctx := context.Background()
	const n = 100
	for i := 0; i < n; i++ {
		args := []any{}
		for k, v := range benchFields() {
			args = append(args, k, v)
		}
		if err := client.HSet(ctx, prefix+"profile:{c"+strconv.Itoa(i)+"}", args...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	schema := testSchema()
	for _, c := range []struct {
		name   string
		reader redis.Cmdable
	}{{"client", client}, {"autopipelined", redisconn.AutoPipelined(client)}} {
		b.Run(c.name, func(b *testing.B) {
			s := NewRedisStore(c.reader, StoreOptions{Prefix: prefix})
			b.SetParallelism(16) // 32 goroutines on 2 CPUs, as the benchmark's connections
			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := "c" + strconv.Itoa(int(next.Add(1)%n))
					p, err := s.Get(ctx, schema, id)
					if err != nil || !p.Known {
						b.Error(id, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStoreGetUnknown: an unknown customer's fetch from the embedded
// miniredis: an HGETALL over its socket, or StoreOptions.Exists in process
// (what serve does with the embedded Redis).
func BenchmarkStoreGetUnknown(b *testing.B) {
	client, srv, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: redistest.TestTimeout})
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	schema := testSchema()
	for _, c := range []struct {
		name   string
		exists func(string) bool
	}{{"hgetall", nil}, {"exists", srv.Exists}} {
		b.Run(c.name, func(b *testing.B) {
			s := NewRedisStore(redisconn.AutoPipelined(client), StoreOptions{Prefix: "bench:", Exists: c.exists})
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = "c-9" + strconv.Itoa(100000+i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuNanos()
			for i := 0; i < b.N; i++ {
				p, err := s.Get(ctx, schema, ids[i%len(ids)])
				if err != nil || p.Known {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuNanos is the process's user and system CPU time so far (miniredis's
// included: it runs in the process).
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCacheUnknown: unknown customers through the cache, with a
// source that costs nothing (what is measured is the cache's own work and
// memory): "new" ids never seen (each one fetched, its negative answer
// stored), "again" ids answered from their negative entry. live-B/entry
// is the heap the negative entries of 100,000 unknown ids hold.
func BenchmarkCacheUnknown(b *testing.B) {
	schema := checkoutSchema(b)
	ctx := context.Background()
	b.Run("new", func(b *testing.B) {
		c := NewCache(&fakeRaw{}, CacheOptions{})
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = "c-9" + strconv.Itoa(1e8+i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if p, err := c.Get(ctx, schema, ids[i]); err != nil || p.Known {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		c := NewCache(&fakeRaw{}, CacheOptions{})
		ids := make([]string, 1000)
		for i := range ids {
			ids[i] = "c-9" + strconv.Itoa(1e8+i)
			_, _ = c.Get(ctx, schema, ids[i])
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if p, ok := c.Cached(schema, ids[i%len(ids)]); !ok || p.Known {
				b.Fatal("not cached")
			}
		}
	})
	b.Run("held", func(b *testing.B) {
		const n = 100_000
		ids := make([]string, n)
		for i := range ids {
			ids[i] = "c-9" + strconv.Itoa(1e8+i)
		}
		for i := 0; i < b.N; i++ {
			before := heapAfterGC().HeapAlloc
			c := NewCache(&fakeRaw{}, CacheOptions{})
			for _, id := range ids {
				_, _ = c.Get(ctx, schema, strings.Clone(id))
			}
			b.ReportMetric(float64(int64(heapAfterGC().HeapAlloc)-int64(before))/n, "live-B/entry")
			runtime.KeepAlive(c)
		}
	})
}

// BenchmarkCacheGC: a full collection with 100,000 of the example shop's
// customers cached (the default bound), as fetched from Redis (a map and
// strings of their own per fetch): what the cache adds to every cycle's
// marking. Reports the cache's objects an entry and the collection's time.
func BenchmarkCacheGC(b *testing.B) {
	const n = 100_000
	schema := checkoutSchema(b)
	c, ids, objects, live := fillCache(b, schema, n)
	heapAfterGC() // the source's fields are gone: only the cache is left to mark
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	b.StopTimer()
	b.ReportMetric(objects, "objects/entry")
	b.ReportMetric(live, "live-B/entry")
	runtime.KeepAlive(c)
	runtime.KeepAlive(ids)
}

// fillCache caches n of the example shop's customers (profilegen), each
// fetched as go-redis gives it, and returns the cache with what an entry
// holds on the heap: objects and bytes.
func fillCache(b *testing.B, schema *rules.Schema, n int) (c *Cache, ids []string, objects, live float64) {
	data := shopHashes(b, schema, n)
	for id := range data {
		ids = append(ids, id)
	}
	src := &freshRaw{data: data}
	before := heapAfterGC()
	c = NewCache(src, CacheOptions{MaxBytes: 1 << 30, TTL: time.Hour})
	for _, id := range ids {
		if _, err := c.Get(context.Background(), schema, strings.Clone(id)); err != nil {
			b.Fatal(err)
		}
	}
	after := heapAfterGC()
	src.data = nil
	return c, ids, float64(int64(after.HeapObjects)-int64(before.HeapObjects)) / float64(n),
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// BenchmarkEngineLookupUnknown: an unknown customer's lookup as the engine
// makes it (engine/profile.go: Cached, and on a miss Get within a
// deadline), through the cache in front of the embedded miniredis with
// StoreOptions.Exists: serve's set-up for scenario a's unknown ids (new
// ones each time).
func BenchmarkEngineLookupUnknown(b *testing.B) {
	client, srv, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: redistest.TestTimeout})
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	schema := checkoutSchema(b)
	s := NewRedisStore(redisconn.AutoPipelined(client), StoreOptions{Prefix: "bench:", Exists: srv.Exists})
	c := NewCache(s, CacheOptions{})
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "c-9" + strconv.Itoa(1e8+i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, id := range ids {
		p, ok := c.Cached(schema, id)
		if !ok {
			pctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			p, err = c.Get(pctx, schema, id)
			cancel()
		}
		if err != nil || p.Known {
			b.Fatal(err)
		}
	}
}
