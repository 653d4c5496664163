package rules

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestIndex(t *testing.T) {
	rs, err := Compile([]File{{Path: "r.yaml", Data: []byte(`
profile:
  tier: string
segments:
  - id: gold
    when: profile.tier == "gold"
  - id: vip
    when: '"gold" in segments'
offers:
  - id: a_everywhere
    title: A
  - id: b_checkout
    title: B
    placements: [checkout]
  - id: c_cart_vip
    title: C
    placements: [cart, checkout]
    segments: [vip, gold]
    exclude_segments: [gold]
  - id: d_scheduled
    title: D
    segments: [gold]
    schedule: {start: 2026-11-27T00:00:00Z, end: 2026-11-30T00:00:00Z}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	ix := rs.Index()
	if ix == nil {
		t.Fatal("no index")
	}
	for _, tc := range []struct {
		placement string
		open      []int32
		gold, vip []int32
	}{
		{"checkout", []int32{0, 1}, []int32{2, 3}, []int32{2}},
		{"cart", []int32{0}, []int32{2, 3}, []int32{2}},
		{"product", []int32{0}, []int32{3}, nil},
		{"", []int32{0}, []int32{3}, nil},
	} {
		po := ix.Placement(tc.placement)
		if !slices.Equal(po.Open, tc.open) || !slices.Equal(po.BySegment[0], tc.gold) || !slices.Equal(po.BySegment[1], tc.vip) {
			t.Errorf("%q: open %v gold %v vip %v, want %v %v %v", tc.placement, po.Open, po.BySegment[0], po.BySegment[1], tc.open, tc.gold, tc.vip)
		}
	}
	if anyOf, excl := ix.Segments(2); !slices.Equal(anyOf, []int32{1, 0}) || !slices.Equal(excl, []int32{0}) {
		t.Errorf("offer c's segments %v %v", anyOf, excl)
	}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2026, 11, 26, 23, 59, 59, 0, time.UTC), false},
		{time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 11, 29, 23, 59, 59, 999, time.UTC), true},
		{time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), false},
	} {
		now, ok := WindowTime(tc.now)
		if !ok {
			t.Fatalf("%s out of range", tc.now)
		}
		if got := ix.InWindow(3, now); got != tc.want || rs.Offers[3].Schedule.Active(tc.now) != tc.want {
			t.Errorf("%s: in window %v, want %v", tc.now, got, tc.want)
		}
		if !ix.InWindow(0, now) {
			t.Errorf("%s: an offer without a schedule is out of its window", tc.now)
		}
	}
	for _, far := range []time.Time{time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, ok := WindowTime(far); ok {
			t.Errorf("%s is in range", far)
		}
	}
	if unixNano(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)) != math.MaxInt64 {
		t.Error("a far end is not the largest")
	}
	if g := ix.SegmentGuards(); len(g) != 1 || !slices.Equal(g[0].All, []int32{0}) || !slices.Equal(g[0].ByValue["gold"], []int32{0}) ||
		rs.Env.Flat()[g[0].Flat].Key != "profile.tier" {
		t.Errorf("segment guards %+v", g)
	}
	if u := ix.UnguardedSegments(); !slices.Equal(u, []int32{1}) {
		t.Errorf("unguarded segments %v", u)
	}
	if (&Ruleset{Offers: rs.Offers}).Index() != nil {
		t.Error("a ruleset Compile did not build has an index")
	}
}
