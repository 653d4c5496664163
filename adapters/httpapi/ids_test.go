package httpapi

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// TestIDsConcurrent: ids made at once by many goroutines for one time are
// all of that millisecond, never repeat, and each goroutine's come in
// order.
func TestIDsConcurrent(t *testing.T) {
	var g idGen
	now := time.UnixMilli(1_765_000_000_000)
	const workers, each = 8, 5000
	got := make([][]ulid.ULID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]ulid.ULID, each)
			for i := range ids {
				ids[i] = g.ulid(now)
			}
			got[w] = ids
		}()
	}
	wg.Wait()
	seen := make(map[ulid.ULID]bool, workers*each)
	for w, ids := range got {
		for i, id := range ids {
			if id.Time() != uint64(now.UnixMilli()) {
				t.Fatalf("worker %d id %d: time %d, want %d", w, i, id.Time(), now.UnixMilli())
			}
			if seen[id] {
				t.Fatalf("worker %d id %d: %s made twice", w, i, id)
			}
			seen[id] = true
			if i > 0 && id.Compare(ids[i-1]) <= 0 {
				t.Fatalf("worker %d id %d: %s not after %s", w, i, id, ids[i-1])
			}
		}
	}
}

// TestIDsEachMillisecondOneBase: goroutines making ids at once, one
// millisecond after another (each millisecond's first ids race to install
// its epoch): every millisecond's ids are one run base+1 ... base+n of the
// 80-bit entropy (one epoch a millisecond, no id lost or repeated), and the
// base's top bit is clear (so no sum overflows the 80 bits).
func TestIDsEachMillisecondOneBase(t *testing.T) {
	var g idGen
	const workers, each, millis = 8, 50, 200
	t0 := time.UnixMilli(1_765_000_000_000)
	for m := range millis {
		at := t0.Add(time.Duration(m) * time.Millisecond)
		got := make([][]ulid.ULID, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					got[w] = append(got[w], g.ulid(at))
				}
			}()
		}
		wg.Wait()
		var all []ulid.ULID
		for _, ids := range got {
			all = append(all, ids...)
		}
		slices.SortFunc(all, func(a, b ulid.ULID) int { return a.Compare(b) })
		for i, id := range all {
			if id.Time() != uint64(at.UnixMilli()) {
				t.Fatalf("millisecond %d: id %s of time %d", m, id, id.Time())
			}
			if i == 0 {
				if id[6]&0x80 != 0 {
					t.Fatalf("millisecond %d: the base's top bit is set: %s", m, id)
				}
				continue
			}
			if next := plusOne(all[i-1]); id != next {
				t.Fatalf("millisecond %d: %s follows %s, want %s (one base, no gap, no repeat)", m, id, all[i-1], next)
			}
		}
	}
}

// plusOne is id with its 80-bit entropy one more.
func plusOne(id ulid.ULID) ulid.ULID {
	for i := 15; i >= 6; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

// TestIDsOutOfRangeTimes: a time ULIDs cannot hold (the zero time, before
// 1970, after the year 10889) gives an id at the nearest end, not a panic.
func TestIDsOutOfRangeTimes(t *testing.T) {
	var g idGen
	for _, c := range []struct {
		at   time.Time
		want uint64
	}{
		{time.Time{}, 0},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), ulid.MaxTime()},
		{time.UnixMilli(1_765_000_000_123), 1_765_000_000_123},
	} {
		if got := g.ulid(c.at).Time(); got != c.want {
			t.Errorf("%v: id of time %d, want %d", c.at, got, c.want)
		}
	}
}

// TestIDsAcrossMilliseconds: a later millisecond's ids sort after the
// earlier's; a time behind the newest gets an id of its own millisecond,
// new and not repeated.
func TestIDsAcrossMilliseconds(t *testing.T) {
	var g idGen
	t0 := time.UnixMilli(1_765_000_000_000)
	a := g.ulid(t0)
	b := g.ulid(t0.Add(time.Millisecond))
	late := g.ulid(t0)
	c := g.ulid(t0.Add(time.Millisecond))
	if b.Compare(a) <= 0 || c.Compare(b) <= 0 {
		t.Errorf("not in order: %s %s %s", a, b, c)
	}
	if late.Time() != uint64(t0.UnixMilli()) || late == a {
		t.Errorf("late id %s (time %d), first %s", late, late.Time(), a)
	}
	if c.Compare(late) <= 0 {
		t.Errorf("a later millisecond's id %s not after the late one %s", c, late)
	}
}

// TestIDsCarry: the counter's sum carries into the base's top 16 bits and
// the ids stay in order across it.
func TestIDsCarry(t *testing.T) {
	var g idGen
	now := time.UnixMilli(1_765_000_000_000)
	g.cur.Store(&idEpoch{ms: uint64(now.UnixMilli()), hi: 0x7ffe, lo: ^uint64(0) - 2})
	prev := g.ulid(now)
	for i := 0; i < 5; i++ {
		id := g.ulid(now)
		if id.Compare(prev) <= 0 {
			t.Fatalf("id %d: %s not after %s", i, id, prev)
		}
		prev = id
	}
	if prev[6] != 0x7f || prev[7] != 0xff {
		t.Errorf("no carry into the top bits: %x", prev[6:8])
	}
}

// mutexIDs is the generator idGen replaced: a mutex around ulid's
// monotonic entropy. BenchmarkIDsParallel measures both.
type mutexIDs struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
	buf     [10]byte
}

func (g *mutexIDs) ulid(t time.Time) ulid.ULID {
	ms := ulid.Timestamp(t)
	var id ulid.ULID
	_ = id.SetTime(ms)
	g.mu.Lock()
	err := g.entropy.MonotonicRead(ms, g.buf[:])
	copy(id[6:], g.buf[:])
	g.mu.Unlock()
	if err != nil {
		id = ulid.MustNew(ms, rand.Reader)
	}
	return id
}

// BenchmarkIDsParallel: an id per decision from every processor at once,
// with a lock (the old generator) and without (idGen), each for a
// request's arrival time (read once per 64 ids: a decision reads the
// clock anyway). Run it with -cpu 1,2,4.
func BenchmarkIDsParallel(b *testing.B) {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	old := &mutexIDs{entropy: ulid.Monotonic(mrand.NewChaCha8(seed), 0)}
	var g idGen
	for _, gen := range []struct {
		name string
		ulid func(time.Time) ulid.ULID
	}{{"mutex", old.ulid}, {"lock-free", g.ulid}} {
		b.Run(gen.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				now, n := time.Now(), 0
				for pb.Next() {
					if n++; n%64 == 0 {
						now = time.Now()
					}
					_ = gen.ulid(now)
				}
			})
		})
	}
}
