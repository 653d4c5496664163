package engine

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/quick"
	"time"
)

func TestWalk(t *testing.T) {
	granted := func(int) Result { return Granted }
	cases := []struct {
		name    string
		plan    Plan
		reserve func(int) Result
		want    []Result
	}{
		{"limit", Plan{Limit: 2, Guardrail: 100, Items: []PlanItem{{OfferID: "a"}, {OfferID: "b"}, {OfferID: "c"}}}, granted,
			[]Result{Granted, Granted, SkippedLimit}},
		{"group", Plan{Limit: 3, Guardrail: 100, Items: []PlanItem{{OfferID: "a", Group: "g"}, {OfferID: "b", Group: "g"}, {OfferID: "c", Group: "h"}}}, granted,
			[]Result{Granted, SkippedGroup, Granted}},
		{"guardrail skips, never trims, the next still fits", Plan{Limit: 3, Guardrail: 100, Items: []PlanItem{{OfferID: "a", Amount: 60}, {OfferID: "b", Amount: 50}, {OfferID: "c", Amount: 40}}}, granted,
			[]Result{Granted, SkippedGuardrail, Granted}},
		{"guardrail exactly reached", Plan{Limit: 3, Guardrail: 100, Items: []PlanItem{{OfferID: "a", Amount: 60}, {OfferID: "b", Amount: 40}}}, granted,
			[]Result{Granted, Granted}},
		{"fallback when nothing was granted", Plan{Limit: 3, Guardrail: 0, Items: []PlanItem{{OfferID: "a", Amount: 10}, {OfferID: "f", Fallback: true}}}, granted,
			[]Result{SkippedGuardrail, Granted}},
		{"fallback skipped once the main pass granted", Plan{Limit: 3, Guardrail: 100, Items: []PlanItem{{OfferID: "a"}, {OfferID: "f", Fallback: true}}}, granted,
			[]Result{Granted, SkippedFallback}},
		{"a lost reservation gives its place to the next", Plan{Limit: 1, Guardrail: 100, Items: []PlanItem{{OfferID: "a", Total: 1}, {OfferID: "b"}}},
			func(int) Result { return SkippedCapTotal }, []Result{SkippedCapTotal, Granted}},
		{"a lost reservation frees its group", Plan{Limit: 3, Guardrail: 100, Items: []PlanItem{{OfferID: "a", Group: "g", Budget: 5}, {OfferID: "b", Group: "g"}}},
			func(int) Result { return SkippedBudget }, []Result{SkippedBudget, Granted}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var called []int
			got := c.plan.Walk(func(i int) Result {
				called = append(called, i)
				if !c.plan.Items[i].Capped() {
					t.Errorf("reserve called for uncapped item %d", i)
				}
				return c.reserve(i)
			})
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func randomPlan(r *rand.Rand) *Plan {
	p := &Plan{Limit: 1 + r.IntN(4), Guardrail: r.Int64N(300), CustomerID: "c" + strconv.Itoa(r.IntN(3)), Currency: "USD"}
	n := r.IntN(8)
	groups := []string{"", "", "g", "h"}
	for i := 0; i < n; i++ {
		it := PlanItem{OfferID: "o" + strconv.Itoa(i), Group: groups[r.IntN(4)], Amount: r.Int64N(120), Fallback: i >= n-r.IntN(2)}
		switch r.IntN(4) {
		case 1:
			it.Total = 1 + r.Int64N(3)
		case 2:
			it.Budget = 1 + r.Int64N(200)
		case 3:
			it.PerCustomer = 1 + r.IntN(2)
		}
		p.Items = append(p.Items, it)
	}
	return p
}

// TestWalkConsistent: whatever reserve answers, the granted items respect
// the limit, the groups, the guardrail and the fallback rule, and reserve
// is asked only about capped items that passed the other checks.
func TestWalkConsistent(t *testing.T) {
	f := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 1))
		p := randomPlan(r)
		asked := map[int]bool{}
		res := p.Walk(func(i int) Result {
			asked[i] = true
			return []Result{Granted, SkippedCapTotal, SkippedBudget, SkippedCapPerCustomer}[r.IntN(4)]
		})
		n, main := 0, 0
		var sum int64
		groups := map[string]bool{}
		for i, it := range p.Items {
			if asked[i] != (it.Capped() && (res[i] == Granted || res[i] >= SkippedCapPerCustomer && res[i] <= SkippedBudget)) {
				return false
			}
			if res[i] != Granted {
				continue
			}
			if it.Fallback && main > 0 || it.Group != "" && groups[it.Group] {
				return false
			}
			n++
			if !it.Fallback {
				main++
			}
			groups[it.Group] = it.Group != ""
			sum += it.Amount
		}
		return n <= p.Limit && sum <= p.Guardrail
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

// TestPaced: the shares pacing allows, exact at the edges and rounded the
// right way (up for the count, down for the money).
func TestPaced(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	end := start.Add(10 * 24 * time.Hour)
	for _, c := range []struct {
		at            time.Duration
		total, budget int64
		wantT, wantB  int64
	}{
		{-time.Hour, 1000, 500000, 0, 0},
		{0, 1000, 500000, 0, 0},
		{time.Nanosecond, 1000, 500000, 1, 0},
		{24 * time.Hour, 1000, 500000, 100, 50000},
		{24*time.Hour + time.Second, 1000, 500000, 101, 50000},
		{5 * 24 * time.Hour, 3, 7, 2, 3},
		{10*24*time.Hour - time.Nanosecond, 1000, 500000, 1000, 499999},
		{10 * 24 * time.Hour, 1000, 500000, 1000, 500000},
		{5 * 24 * time.Hour, 1 << 62, 1 << 62, 1 << 61, 1 << 61},
	} {
		gt, gb := paced(c.total, c.budget, start, end, start.Add(c.at))
		if gt != c.wantT || gb != c.wantB {
			t.Errorf("at %v of %d/%d: %d/%d, want %d/%d", c.at, c.total, c.budget, gt, gb, c.wantT, c.wantB)
		}
	}
}
