package learning

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestDayAndWeight(t *testing.T) {
	cases := []struct {
		t    time.Time
		want int
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(1970, 1, 1, 23, 59, 59, 0, time.UTC), 0},
		{time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), -1},
		{time.Date(2026, 11, 27, 23, 30, 0, 0, time.FixedZone("x", -5*3600)), 20785}, // 2026-11-28 04:30 UTC
	}
	for _, c := range cases {
		if got := Day(c.t); got != c.want {
			t.Errorf("Day(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	hl := 14 * 24 * time.Hour
	for _, c := range []struct {
		today, day int
		hl         time.Duration
		want       float64
	}{
		{100, 100, hl, 1}, {100, 86, hl, 0.5}, {100, 72, hl, 0.25}, {100, 93, hl, math.Sqrt(0.5)},
		{100, 50, 0, 1}, {100, 101, hl, 1}, {100, 99, 12 * time.Hour, 0.25},
	} {
		if got := Weight(c.today, c.day, c.hl); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Weight(%d, %d, %v) = %v, want %v", c.today, c.day, c.hl, got, c.want)
		}
	}
}

func TestSnapshotSumsAndDecays(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	today := Day(at)
	counts := []Count{
		{"a", "vip", today, 100, 10},
		{"a", "vip", today - 14, 100, 40},
		{"a", "all", today, 5, 9}, // successes above trials: counted as 5
		{"b", "all", today - 1, -4, -1},
	}
	s := NewSnapshot(counts, at, 14*24*time.Hour)
	if tr, su, ok := s.Counts("a", "vip"); !ok || tr != 150 || su != 30 {
		t.Errorf("a/vip = %v %v %v, want 150 30", tr, su, ok)
	}
	if tr, su, _ := s.Counts("a", "all"); tr != 5 || su != 5 {
		t.Errorf("a/all = %v %v", tr, su)
	}
	if tr, su, ok := s.Counts("b", "all"); !ok || tr != 0 || su != 0 {
		t.Errorf("b/all = %v %v", tr, su)
	}
	if tr, su, ok := s.Counts("nope", "x"); !ok || tr != 0 || su != 0 {
		t.Errorf("unknown = %v %v %v", tr, su, ok)
	}
	flat := NewSnapshot(counts, at, 0)
	if tr, su, _ := flat.Counts("a", "vip"); tr != 200 || su != 50 {
		t.Errorf("no half-life: %v %v", tr, su)
	}
	cells := s.Cells()
	if len(cells) != 3 || cells[0].Offer != "a" || cells[0].Cell != "all" || cells[2].Offer != "b" {
		t.Errorf("cells %+v", cells)
	}
	var nilSnap *Snapshot
	if _, _, ok := nilSnap.Counts("a", "vip"); ok || nilSnap.Cells() != nil {
		t.Error("a nil snapshot is usable")
	}
	if a := testing.AllocsPerRun(100, func() { s.Counts("a", "vip") }); a != 0 {
		t.Errorf("Counts allocates %v", a)
	}
}

// fakeSource is a Source whose counts and errors the test sets.
type fakeSource struct {
	mu     sync.Mutex
	counts []Count
	err    error
	asked  [][]string
	calls  chan struct{}
}

func (f *fakeSource) Counts(ctx context.Context, offers []string) ([]Count, error) {
	f.mu.Lock()
	defer func() {
		f.mu.Unlock()
		if f.calls != nil {
			f.calls <- struct{}{}
		}
	}()
	f.asked = append(f.asked, offers)
	var out []Count
	for _, c := range f.counts {
		for _, o := range offers {
			if o == c.Offer {
				out = append(out, c)
			}
		}
	}
	return out, f.err
}

func (f *fakeSource) set(counts []Count, err error) {
	f.mu.Lock()
	f.counts, f.err = counts, err
	f.mu.Unlock()
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRefresherStaleness(t *testing.T) {
	src := &fakeSource{}
	clk := &clock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	var results []error
	r, err := NewRefresher(RefresherOptions{Source: src, Clock: clk.Now, OnRefresh: func(err error) { results = append(results, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.Counts("a", "all"); ok {
		t.Fatal("usable before the first load")
	}
	if st := r.Status(); st.OK || !st.RefreshedAt.IsZero() {
		t.Fatalf("status before the first load: %+v", st)
	}
	r.Configure(Settings{Offers: []string{"b", "a", "a"}, Refresh: 10 * time.Second})
	day := Day(clk.Now())
	src.set([]Count{{"a", "all", day, 10, 2}}, nil)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := src.asked[len(src.asked)-1]; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("asked for %v, want [a b]", got)
	}
	if tr, su, ok := r.Counts("a", "all"); !ok || tr != 10 || su != 2 {
		t.Fatalf("a/all = %v %v %v", tr, su, ok)
	}
	// Redis goes away: the snapshot serves for three periods, then not.
	src.set(nil, errors.New("connection refused"))
	for i := 1; i <= 3; i++ {
		clk.Add(10 * time.Second)
		if err := r.Refresh(context.Background()); err == nil {
			t.Fatal("no error")
		}
		if _, _, ok := r.Counts("a", "all"); !ok {
			t.Fatalf("stale after %d failed refreshes of 3", i)
		}
	}
	st := r.Status()
	if !st.OK || st.Age != 30*time.Second || st.Err == "" {
		t.Errorf("status at 30 s: %+v", st)
	}
	clk.Add(time.Second)
	if st := r.Status(); st.OK {
		t.Error("Status says OK past the staleness")
	}
	_ = r.Refresh(context.Background())
	if _, _, ok := r.Counts("a", "all"); ok {
		t.Fatal("usable when stale")
	}
	if st := r.Status(); st.OK || st.Snapshot == nil || st.Age != 31*time.Second {
		t.Errorf("status when stale: %+v", st)
	}
	// back
	src.set([]Count{{"a", "all", day, 11, 3}}, nil)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr, _, ok := r.Counts("a", "all"); !ok || tr != 11 {
		t.Error("not back after a good refresh")
	}
	if st := r.Status(); !st.OK || st.Err != "" || st.Age != 0 {
		t.Errorf("status: %+v", st)
	}
	if len(results) != 6 || results[0] != nil || results[1] == nil || results[5] != nil {
		t.Errorf("OnRefresh saw %v", results)
	}
	// no offers learn: nothing is asked, and the empty snapshot is usable
	n := len(src.asked)
	r.Configure(Settings{})
	if err := r.Refresh(context.Background()); err != nil || len(src.asked) != n {
		t.Errorf("asked the source for no offers: %v", err)
	}
	if _, _, ok := r.Counts("a", "all"); !ok {
		t.Error("no offers: not usable")
	}
}

// Run reloads on every tick and at once after a Configure that changes
// the offers; it stops with its context.
func TestRefresherRun(t *testing.T) {
	src := &fakeSource{calls: make(chan struct{}, 10)}
	clk := &clock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	ticks := make(chan time.Time)
	var periods []time.Duration
	var mu sync.Mutex
	r, _ := NewRefresher(RefresherOptions{Source: src, Clock: clk.Now, After: func(d time.Duration) <-chan time.Time {
		mu.Lock()
		periods = append(periods, d)
		mu.Unlock()
		return ticks
	}})
	r.Configure(Settings{Offers: []string{"a"}, Refresh: 7 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-src.calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("no load %s", what)
		}
	}
	wait("at start")
	ticks <- clk.Now()
	wait("after a tick")
	r.Configure(Settings{Offers: []string{"a", "b"}, Refresh: 7 * time.Second})
	wait("after Configure")
	r.Configure(Settings{Offers: []string{"b", "a"}, Refresh: 7 * time.Second}) // the same set: no reload
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	select {
	case <-src.calls:
		t.Error("a reload for the same offers")
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if len(periods) == 0 || periods[0] != 7*time.Second {
		t.Errorf("waited %v", periods)
	}
	if _, err := NewRefresher(RefresherOptions{}); err == nil {
		t.Error("no source: no error")
	}
}

func TestRecentShares(t *testing.T) {
	var r Recent
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		r.Trial("a", "vip", t0)
	}
	r.Trial("b", "vip", t0.Add(30*time.Minute))
	r.Trial("a", "all", t0)
	got := r.Shares("vip", t0.Add(30*time.Minute))
	if got["a"] != 0.75 || got["b"] != 0.25 {
		t.Errorf("shares %v", got)
	}
	// an hour later the first three are gone
	got = r.Shares("vip", t0.Add(60*time.Minute))
	if got["a"] != 0 || got["b"] != 1 {
		t.Errorf("an hour later %v", got)
	}
	// a slot is reused a lap later
	r.Trial("b", "vip", t0.Add(120*time.Minute))
	if got := r.Shares("vip", t0.Add(120*time.Minute)); got["b"] != 1 || len(got) != 1 {
		t.Errorf("two hours later %v", got)
	}
	if r.Shares("nobody", t0) != nil {
		t.Error("an empty cell has shares")
	}
}

// The snapshot does not depend on the order the counts come in: with a
// half-life the weighted sums are not whole numbers, and float addition is
// not associative, so summing in the Source's order (a Go map's in
// arbiter simulate, the ledger's in a server) made the same counts give
// posteriors a last bit apart, and so other Thompson draws: simulate's
// "same seed, same output" and replicas' "same statistics, same draws"
// need the same sums.
func TestSnapshotIndependentOfCountOrder(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	today := Day(at)
	for _, half := range []time.Duration{0, 28 * 24 * time.Hour, 3 * 24 * time.Hour} {
		for trial := int64(0); trial < 200; trial++ {
			var cs []Count
			for d := 0; d < 6; d++ {
				n := (trial*7919 + int64(d)*104729) % 5000
				cs = append(cs, Count{Offer: "o", Cell: "all", Day: today - d, Trials: n, Successes: n / 20})
			}
			at1, as1, _ := NewSnapshot(cs, at, half).Counts("o", "all")
			rev := make([]Count, len(cs))
			for i, c := range cs {
				rev[len(cs)-1-i] = c
			}
			at2, as2, _ := NewSnapshot(rev, at, half).Counts("o", "all")
			if at1 != at2 || as1 != as2 {
				t.Fatalf("half-life %v, counts %v: %v/%v in this order, %v/%v reversed", half, cs, at1, as1, at2, as2)
			}
			if cs[0].Day != today {
				t.Fatal("NewSnapshot reordered its argument")
			}
		}
	}
}

// A snapshot whose reloads fail is dropped when it turns stale, while Run
// waits, not at the end of the next failed reload: with refresh 10s and
// loads that time out after 5 s, decisions read it without
// learning_unavailable until about 45 s, while Status and GET
// /v1/learning said ok: false from 30 s.
func TestRefresherRunDropsAStaleSnapshotOnTime(t *testing.T) {
	day := Day(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	src := &fakeSource{counts: []Count{{"a", "all", day, 10, 2}}, calls: make(chan struct{}, 10)}
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	type waitReq struct {
		d  time.Duration
		ch chan time.Time
	}
	waits := make(chan waitReq, 10)
	r, _ := NewRefresher(RefresherOptions{Source: src, Clock: clk.Now, After: func(d time.Duration) <-chan time.Time {
		ch := make(chan time.Time, 1)
		waits <- waitReq{d, ch}
		return ch
	}})
	r.Configure(Settings{Offers: []string{"a"}, Refresh: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	next := func(what string) waitReq {
		t.Helper()
		select {
		case w := <-waits:
			return w
		case <-time.After(5 * time.Second):
			t.Fatalf("Run asked for no wait %s", what)
		}
		panic("unreachable")
	}
	load := func(what string) {
		t.Helper()
		select {
		case <-src.calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("no load %s", what)
		}
	}
	load("at start")
	tick := next("after the first load")
	if tick.d != 10*time.Second {
		t.Fatalf("waits %v, want the period", tick.d)
	}
	if _, _, ok := r.Counts("a", "all"); !ok {
		t.Fatal("not usable after a good load")
	}
	// Redis goes away; each failed load ends 5 s after its tick.
	src.mu.Lock()
	src.err = errors.New("connection refused")
	src.mu.Unlock()
	for _, at := range []time.Duration{15 * time.Second, 28 * time.Second} {
		clk.Add(at - clk.Now().Sub(t0))
		tick.ch <- clk.Now()
		load("after a tick")
		tick = next("after a failed load")
	}
	// At 28 s the snapshot turns stale within the wait: Run waits for that too.
	stale := next("for the staleness")
	if want := 2*time.Second + time.Millisecond; stale.d != want {
		t.Fatalf("waits %v for the staleness, want %v", stale.d, want)
	}
	if _, _, ok := r.Counts("a", "all"); !ok {
		t.Fatal("dropped before it is stale")
	}
	clk.Add(stale.d)
	stale.ch <- clk.Now()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, _, ok := r.Counts("a", "all"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still usable when stale, with no reload due")
		}
		runtime.Gosched() // Run drops it after the wait fires
	}
	if st := r.Status(); st.OK {
		t.Errorf("status %+v", st)
	}
	select {
	case <-src.calls:
		t.Error("dropped by a reload, not by the wait")
	default:
	}
}
