package profilestore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

func TestNegTable(t *testing.T) {
	const size = 64
	// Hashes whose place (h>>8) is the same slot: one probe window.
	same := func(i int) uint64 { return uint64(i)<<56 | 5<<8 }
	type op struct {
		put    bool
		h      uint64
		exp    int64
		now    int64
		remove bool
	}
	tests := []struct {
		name string
		ops  []op
		now  int64
		has  map[uint64]bool
		live int
	}{
		{"an answer until it expires", []op{{put: true, h: 7, exp: 100, now: 0}}, 99, map[uint64]bool{7: true, 8: false}, 1},
		{"expired", []op{{put: true, h: 7, exp: 100, now: 0}}, 100, map[uint64]bool{7: false}, 1},
		{"renewed", []op{{put: true, h: 7, exp: 100, now: 0}, {put: true, h: 7, exp: 200, now: 50}}, 150, map[uint64]bool{7: true}, 1},
		{"removed", []op{{put: true, h: 7, exp: 100, now: 0}, {remove: true, h: 7}}, 10, map[uint64]bool{7: false}, 0},
		{"hash 0 is a hash", []op{{put: true, h: 0, exp: 100, now: 0}}, 10, map[uint64]bool{0: true}, 1},
		{"a full window: the answer expiring first makes room", []op{
			{put: true, h: same(1), exp: 105, now: 0}, {put: true, h: same(2), exp: 101, now: 0}, {put: true, h: same(3), exp: 107, now: 0},
			{put: true, h: same(4), exp: 104, now: 0}, {put: true, h: same(5), exp: 106, now: 0}, {put: true, h: same(6), exp: 108, now: 0},
			{put: true, h: same(7), exp: 103, now: 0}, {put: true, h: same(8), exp: 109, now: 0},
			{put: true, h: same(9), exp: 110, now: 1},
		}, 2, map[uint64]bool{same(2): false, same(1): true, same(7): true, same(9): true}, 8},
		{"a full window: an expired slot is taken first", []op{
			{put: true, h: same(1), exp: 105, now: 0}, {put: true, h: same(2), exp: 101, now: 0}, {put: true, h: same(3), exp: 50, now: 0},
			{put: true, h: same(4), exp: 104, now: 0}, {put: true, h: same(5), exp: 106, now: 0}, {put: true, h: same(6), exp: 108, now: 0},
			{put: true, h: same(7), exp: 103, now: 0}, {put: true, h: same(8), exp: 109, now: 0},
			{put: true, h: same(9), exp: 110, now: 60},
		}, 61, map[uint64]bool{same(2): true, same(3): false, same(9): true}, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tb negTable
			for _, o := range tc.ops {
				if o.remove {
					tb.remove(o.h)
				} else {
					tb.put(o.h, o.exp, o.now, size)
				}
			}
			for h, want := range tc.has {
				if got := tb.has(h, tc.now); got != want {
					t.Errorf("has(%#x) at %d = %v, want %v", h, tc.now, got, want)
				}
			}
			if tb.live != tc.live {
				t.Errorf("live %d, want %d", tb.live, tc.live)
			}
			if len(tb.slots) != size {
				t.Errorf("table of %d slots, want %d", len(tb.slots), size)
			}
		})
	}
}

// TestCacheUnknownFlood: more unknown customers than the negative tables
// hold, within the negative TTL, keep the tables' size; the answers that
// made room are fetched again, the others are not; a customer whose
// profile was written meanwhile is found once the answer has expired, and
// at once after Invalidate.
func TestCacheUnknownFlood(t *testing.T) {
	src := &fakeRaw{data: map[string]map[string]string{}}
	clk := &clock{t: time.Unix(1e9, 0)}
	c := NewCache(src, CacheOptions{MaxEntries: 16 * 256, TTL: time.Minute, NegativeTTL: 5 * time.Second, Now: clk.Now})
	ctx := context.Background()
	schema := testSchema()
	const n = 16 * 64 * 8 // far more than the 16 tables of 64 slots
	for i := range n {
		if p, err := c.Get(ctx, schema, "u-"+strconv.Itoa(i)); err != nil || p.Known {
			t.Fatalf("unknown %d: %v %v", i, p, err)
		}
	}
	_, bytes := c.Size()
	if want := int64(16 * 64 * negSlotBytes); bytes != want {
		t.Errorf("negative tables take %d B, want %d", bytes, want)
	}
	fetched := src.fetches.Load()
	again := 0
	for i := range n {
		if _, ok := c.Cached(schema, "u-"+strconv.Itoa(i)); ok {
			again++
		}
	}
	if again == 0 || again > 16*64 {
		t.Errorf("%d of %d unknown customers answered from the tables of %d slots", again, n, 16*64)
	}
	if src.fetches.Load() != fetched {
		t.Error("Cached fetched")
	}

	// A profile written after the negative answer.
	id := "u-" + strconv.Itoa(n-1) // the last answer: still held
	if _, ok := c.Cached(schema, id); !ok {
		t.Fatal("the last unknown customer is not held")
	}
	src.mu.Lock()
	src.data[id] = map[string]string{"tier": "gold"}
	src.mu.Unlock()
	clk.Add(5*time.Second - time.Nanosecond)
	if p, err := c.Get(ctx, schema, id); err != nil || p.Known {
		t.Fatalf("within the negative TTL: %#v %v, want the negative answer", p, err)
	}
	clk.Add(time.Nanosecond)
	if p, err := c.Get(ctx, schema, id); err != nil || !p.Known || p.Value("tier") != "gold" {
		t.Fatalf("after the negative TTL: %#v %v", p, err)
	}

	// Invalidate forgets a negative answer at once.
	id2 := "u-new"
	if p, _ := c.Get(ctx, schema, id2); p.Known {
		t.Fatal("u-new known")
	}
	src.mu.Lock()
	src.data[id2] = map[string]string{"tier": "silver"}
	src.mu.Unlock()
	c.Invalidate(id2)
	if p, err := c.Get(ctx, schema, id2); err != nil || !p.Known {
		t.Fatalf("after Invalidate: %#v %v", p, err)
	}
	c.InvalidateAll()
	if _, b := c.Size(); b != bytes {
		t.Errorf("after InvalidateAll the cache counts %d B, want the tables' %d", b, bytes)
	}
}

// TestNegativeExpiresByTheCacheClock: an unknown customer's answer is kept
// by the cache's clock (CacheOptions.Now), as a found profile is: it holds
// until the clock has moved NegativeTTL past the fetch, and expires exactly
// then, whatever the wall clock says (the fake clock starts in 2001 and
// moves in nanoseconds), for Get and Cached, from the negative table of a
// RawSource and from an entry of a source of decoded profiles.
func TestNegativeExpiresByTheCacheClock(t *testing.T) {
	const ttl = 5 * time.Second
	eachSource(t, func(t *testing.T, raw bool, src *fakeRaw, s engine.ProfileSource) {
		tests := []struct {
			name   string
			after  time.Duration // since the fetch
			cached bool          // Cached answers it, and Get does not fetch
		}{
			{"at once", 0, true},
			{"a nanosecond before the TTL", ttl - time.Nanosecond, true},
			{"at the TTL", ttl, false},
			{"long after", time.Hour, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				clk := &clock{t: time.Unix(1e9, 0)}
				c := NewCache(s, CacheOptions{TTL: time.Minute, NegativeTTL: ttl, Now: clk.Now})
				schema := testSchema()
				ctx := context.Background()
				if p, err := c.Get(ctx, schema, "nobody"); err != nil || p.Known {
					t.Fatalf("first Get: %#v %v", p, err)
				}
				clk.Add(tc.after)
				if p, ok := c.Cached(schema, "nobody"); ok != tc.cached || ok && p.Known {
					t.Errorf("Cached %v after %v (known %v), want %v", ok, tc.after, ok && p.Known, tc.cached)
				}
				before := src.fetches.Load()
				if p, err := c.Get(ctx, schema, "nobody"); err != nil || p.Known {
					t.Fatalf("Get: %#v %v", p, err)
				}
				if fetched := src.fetches.Load() > before; fetched == tc.cached {
					t.Errorf("Get after %v fetched %v, want %v", tc.after, fetched, !tc.cached)
				}
			})
		}
	})
}
