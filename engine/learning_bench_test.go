package engine

import (
	"context"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/rules"
)

// exampleFiles reads examples/checkout; without learning, it drops the
// learning section and writes the prior mean (0.05) for propensity, so
// that the scores are those of the static strategy with no learning code
// run at all.
func exampleFiles(tb testing.TB, learning bool) *rules.Ruleset {
	tb.Helper()
	fsys := os.DirFS("../examples/checkout")
	var files []rules.File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		src := string(data)
		if !learning {
			if i := strings.Index(src, "  learning:"); i >= 0 && p == "arbitration.yaml" {
				src = src[:i]
			}
			src = strings.ReplaceAll(src, "score: propensity *", "score: 0.05 *")
		}
		files = append(files, rules.File{Path: p, Data: []byte(src)})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := rules.Compile(files)
	if err != nil {
		tb.Fatal(err)
	}
	if (rs.Arbitration.Learning != nil) != learning {
		tb.Fatalf("learning %v: the example's learning section was not found", learning)
	}
	return rs
}

// exampleStats are statistics for every learning offer of the example in
// every cell, as a replica's snapshot holds them after a while.
func exampleStats(rs *rules.Ruleset) Statistics {
	var counts []learning.Count
	day := learning.Day(testNow)
	for i, o := range rs.LearningOffers() {
		for _, cell := range append([]string{rules.CellAll}, rs.Arbitration.Learning.By...) {
			counts = append(counts, learning.Count{Offer: o, Cell: cell, Day: day, Trials: int64(500 + 100*i), Successes: int64(20 + 7*i)})
		}
	}
	return learning.NewSnapshot(counts, testNow, rs.Arbitration.Learning.HalfLife)
}

// grantLedger grants every item: the benchmarks measure the decision, not
// a ledger (the same for every variant).
type grantLedger struct{}

func (grantLedger) Reserve(_ context.Context, p *Plan) ([]Result, error) {
	return p.Walk(func(int) Result { return Granted }), nil
}

type learnBench struct {
	name string
	rs   *rules.Ruleset
	o    Options
	dry  bool
}

func learnBenches(tb testing.TB) []learnBench {
	on, off := exampleFiles(tb, true), exampleFiles(tb, false)
	st := exampleStats(on)
	return []learnBench{
		{"off", off, Options{}, false},
		{"static", on, Options{Statistics: st, Static: true}, false},
		{"thompson", on, Options{Statistics: st}, false},
		{"mean-dry-run", on, Options{Statistics: st}, true},
	}
}

func (lb learnBench) run(b *testing.B) {
	eng := New(Options{Ledger: grantLedger{}, Statistics: lb.o.Statistics, Static: lb.o.Static})
	p := benchProfile(lb.rs)
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	ctx := context.Background()
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = "dcs_" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := Request{DecisionID: ids[i&1023], CustomerID: "c-1042", Placement: "checkout", Channel: "web",
			Cart: c, Context: map[string]any{"device": "mobile"}, Now: testNow, DryRun: lb.dry}
		if _, err := eng.Decide(ctx, lb.rs, p, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchProfile(rs *rules.Ruleset) *Profile {
	return profileOf(rs, "c-1042", map[string]any{
		"ltv": 1800.0, "orders": 9, "orders_90d": 3, "avg_order_value": 120.0, "first_name": "Ada", "country": "US",
		"last_order_at": time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), "signed_up_at": time.Date(2023, 5, 2, 0, 0, 0, 0, time.UTC),
		"top_categories": []string{"shoes", "apparel"}, "discount_share": 0.4, "churn_risk": 0.3, "tier": "gold", "points": 1200,
	})
}

// BenchmarkDecideLearning sits beside BenchmarkDecide: the same customer
// and cart on the example shop, as real decisions (not dry runs), with
// learning off (the example with propensity written as the prior mean and
// no learning section), static (learning on, every propensity at the
// prior mean), thompson (a draw per learning offer from the snapshot's
// posterior) and a dry run (the posterior mean). Compare the
// sub-benchmarks of one run as ratios: BENCHMARKS.md.
func BenchmarkDecideLearning(b *testing.B) {
	for _, lb := range learnBenches(b) {
		b.Run(lb.name, lb.run)
	}
}

// Learning on costs no allocation: on the example shop, a decision with
// Thompson draws allocates as often as with learning off. What a decision
// allocates depends on the actions it renders (their titles and messages),
// and a draw may choose another discount than the static scores do, so the
// decisions compared give the same answer: learning off, static and the
// dry run decide dcs_1, Thompson the first decision id whose draws choose
// what learning off chose.
func TestExampleLearningAllocations(t *testing.T) {
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	ctx := context.Background()
	request := func(id string, dry bool) Request {
		return Request{DecisionID: id, CustomerID: "c-1042", Placement: "checkout", Channel: "web",
			Cart: c, Context: map[string]any{"device": "mobile"}, Now: testNow, DryRun: dry}
	}
	answer := func(d *Decision) string {
		var ids []string
		for _, a := range d.Actions {
			ids = append(ids, a.OfferID)
		}
		return strings.Join(ids, ",")
	}
	allocs := map[string]float64{}
	var want string // learning off's answer
	for _, lb := range learnBenches(t) {
		eng := New(Options{Ledger: grantLedger{}, Statistics: lb.o.Statistics, Static: lb.o.Static})
		p := benchProfile(lb.rs)
		id := "dcs_1"
		if lb.name == "thompson" {
			id = ""
			for i := 1; i <= 64 && id == ""; i++ {
				req := request("dcs_"+strconv.Itoa(i), false)
				d, err := eng.Decide(ctx, lb.rs, p, &req)
				if err != nil {
					t.Fatal(err)
				}
				if answer(d) == want {
					id = d.DecisionID
				}
			}
			if id == "" {
				t.Fatalf("no decision of 64 drew the answer of learning off (%s)", want)
			}
		}
		req := request(id, lb.dry)
		d, err := eng.Decide(ctx, lb.rs, p, &req)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case lb.name == "off":
			want = answer(d)
		case answer(d) != want:
			t.Fatalf("%s answers %s, learning off %s: the allocations would not compare like with like", lb.name, answer(d), want)
		}
		if lb.name == "thompson" && len(d.Learning) == 0 {
			t.Fatal("no learning offer reached scoring: the benchmark measures nothing")
		}
		allocs[lb.name] = testing.AllocsPerRun(300, func() {
			req := request(id, lb.dry)
			if _, err := eng.Decide(ctx, lb.rs, p, &req); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Logf("allocations per decision: %v", allocs)
	for _, name := range []string{"static", "thompson", "mean-dry-run"} {
		if !raceEnabled && allocs[name] > allocs["off"] {
			t.Errorf("%s allocates %v per decision, off %v", name, allocs[name], allocs["off"])
		}
	}
}

// BenchmarkDecideLearningRatio measures the cost of learning as a ratio on
// a shared machine: rounds of 500 decisions alternate between learning
// off, static and thompson (the sub-benchmarks of BenchmarkDecideLearning),
// and the ratios of the fastest round of each (the least disturbed) and
// the median of the per-round ratios are reported, e.g.
//
//	go test ./engine -run XXX -bench DecideLearningRatio -benchtime 60x
//
// (each b.N is a round of each).
func BenchmarkDecideLearningRatio(b *testing.B) {
	benches := learnBenches(b)[:3] // off, static, thompson
	type runner struct {
		eng *Engine
		p   *Profile
		lb  learnBench
	}
	var rs []runner
	for _, lb := range benches {
		rs = append(rs, runner{New(Options{Ledger: grantLedger{}, Statistics: lb.o.Statistics, Static: lb.o.Static}), benchProfile(lb.rs), lb})
	}
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = "dcs_" + strconv.Itoa(i)
	}
	ctx := context.Background()
	round := func(r runner) time.Duration {
		start := time.Now()
		for _, id := range ids {
			req := Request{DecisionID: id, CustomerID: "c-1042", Placement: "checkout", Channel: "web",
				Cart: c, Context: map[string]any{"device": "mobile"}, Now: testNow}
			if _, err := r.eng.Decide(ctx, r.lb.rs, r.p, &req); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	best := make([]time.Duration, len(rs))
	ratios := make([][]float64, len(rs))
	for n := 0; n < b.N; n++ {
		times := make([]time.Duration, len(rs))
		for k := range rs {
			k := (k + n) % len(rs) // rotate who goes first
			times[k] = round(rs[k])
			if best[k] == 0 || times[k] < best[k] {
				best[k] = times[k]
			}
		}
		for k := range rs {
			ratios[k] = append(ratios[k], float64(times[k])/float64(times[0]))
		}
	}
	for k := 1; k < len(rs); k++ {
		b.ReportMetric(float64(best[k])/float64(best[0]), rs[k].lb.name+"/off-fastest")
		sort.Float64s(ratios[k])
		b.ReportMetric(ratios[k][len(ratios[k])/2], rs[k].lb.name+"/off-median")
	}
	b.ReportMetric(float64(best[0].Nanoseconds())/float64(len(ids)), "off-ns/decision")
}
