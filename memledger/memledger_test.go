package memledger

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

func TestMemoryLedgerWindowAndDryRun(t *testing.T) {
	l := New()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	plan := func(now time.Time, dry bool) *engine.Plan {
		return &engine.Plan{Now: now, CustomerID: "c1", Currency: "USD", DryRun: dry, Limit: 1, Guardrail: 1000,
			Items: []engine.PlanItem{{OfferID: "o", PerCustomer: 1, Window: 24 * time.Hour, Amount: 100, Budget: 250}}}
	}
	steps := []struct {
		now  time.Time
		dry  bool
		want engine.Result
	}{
		{t0, true, engine.Granted},                                   // a dry run reserves nothing
		{t0, false, engine.Granted},                                  //
		{t0.Add(time.Hour), false, engine.SkippedCapPerCustomer},     // within 24h
		{t0.Add(48 * time.Hour), true, engine.Granted},               // a dry run in the future does not forget grants
		{t0.Add(2 * time.Hour), false, engine.SkippedCapPerCustomer}, //
		{t0.Add(24 * time.Hour), false, engine.Granted},              // out of the window: budget 200 of 250 spent
		{t0.Add(49 * time.Hour), false, engine.SkippedBudget},        // 300 > 250
	}
	for i, s := range steps {
		got, err := l.Reserve(context.Background(), plan(s.now, s.dry))
		if err != nil || got[0] != s.want {
			t.Fatalf("step %d: %v %v, want %v", i, got, err, s.want)
		}
	}
	if l.Spent("o", "USD") != 200 {
		t.Errorf("spent %d", l.Spent("o", "USD"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Reserve(ctx, plan(t0, false)); err == nil {
		t.Error("a done context must fail")
	}
}

// TestMemoryLedgerConcurrent: 64 goroutines never grant past a total cap,
// a budget or a per-customer cap.
func TestMemoryLedgerConcurrent(t *testing.T) {
	l := New()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	const workers, per = 64, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	grants := map[string]int{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				p := &engine.Plan{Now: now, CustomerID: "c" + strconv.Itoa(i%10), Currency: "USD", Limit: 3, Guardrail: 1 << 40,
					Items: []engine.PlanItem{
						{OfferID: "total", Total: 100},
						{OfferID: "budget", Amount: 7, Budget: 1000},
						{OfferID: "percust", PerCustomer: 2},
					}}
				res, err := l.Reserve(context.Background(), p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for j, r := range res {
					if r == engine.Granted {
						grants[p.Items[j].OfferID]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if grants["total"] != 100 {
		t.Errorf("total cap 100: %d grants", grants["total"])
	}
	if grants["budget"] != 1000/7 || l.Spent("budget", "USD") != int64(1000/7*7) {
		t.Errorf("budget 1000 at 7: %d grants, %d spent", grants["budget"], l.Spent("budget", "USD"))
	}
	if grants["percust"] != 20 {
		t.Errorf("2 per customer, 10 customers: %d grants", grants["percust"])
	}
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// holdPlan is one decision for the offer "first" (total 2, budget 10.00,
// held 30 minutes) at t, reference ref.
func holdPlan(ref string, t time.Time) *engine.Plan {
	return &engine.Plan{Now: t, Ref: ref, CustomerID: "c-" + ref, Currency: "USD", Limit: 1, Guardrail: 1 << 40,
		Items: []engine.PlanItem{{OfferID: "first", Amount: 400, Total: 2, Budget: 1000, Hold: 30 * time.Minute, Record: true}}}
}

func outcome(ref, typ string, at time.Time) engine.GrantOutcome {
	return engine.GrantOutcome{Ref: ref, Type: typ, At: at, Now: at, Named: true,
		Offers: []engine.OutcomeOffer{{ID: "first", Total: 2, Budget: 1000}}}
}

// TestHoldLifecycle walks one offer's holds through every transition:
// held → committed, held → released (dismissed, expired), released →
// committed (late, over the cap), committed → cancelled, each at most
// once, and checks the caps after each step.
func TestHoldLifecycle(t *testing.T) {
	l := New()
	ctx := context.Background()
	type state struct{ count, held, spent, heldAmt, over int64 }
	check := func(step string, at time.Time, want state) {
		t.Helper()
		b, err := l.Budgets(ctx, at, []engine.BudgetQuery{{OfferID: "first", Currencies: []string{"USD"}}})
		if err != nil {
			t.Fatal(err)
		}
		got := state{b[0].Count, b[0].Held, b[0].Spent, b[0].HeldAmount, b[0].OverCap}
		if got != want {
			t.Fatalf("%s: %+v, want %+v", step, got, want)
		}
	}
	grant := func(step, ref string, at time.Time, want engine.Result) {
		t.Helper()
		res, err := l.Reserve(ctx, holdPlan(ref, at))
		if err != nil || res[0] != want {
			t.Fatalf("%s: %v %v, want %v", step, res, err, want)
		}
	}
	apply := func(step string, o engine.GrantOutcome, want engine.OutcomeResult) {
		t.Helper()
		res, err := l.Apply(ctx, []engine.GrantOutcome{o})
		if err != nil || res[0] != want {
			t.Fatalf("%s: %+v %v, want %+v", step, res, err, want)
		}
	}
	grant("a held", "a", t0, engine.Granted)
	grant("b held", "b", t0.Add(time.Minute), engine.Granted)
	check("two held", t0.Add(2*time.Minute), state{2, 2, 800, 800, 0})
	grant("c: the cap counts holds", "c", t0.Add(2*time.Minute), engine.SkippedCapTotal)

	apply("a converted", outcome("a", engine.OutcomeConverted, t0.Add(5*time.Minute)), engine.OutcomeResult{Records: 1, Commits: 1})
	apply("a converted again", outcome("a", engine.OutcomeConverted, t0.Add(6*time.Minute)), engine.OutcomeResult{Records: 1})
	check("a committed", t0.Add(6*time.Minute), state{2, 1, 800, 400, 0})

	apply("b dismissed", outcome("b", engine.OutcomeDismissed, t0.Add(7*time.Minute)), engine.OutcomeResult{Records: 1, Releases: 1})
	apply("b dismissed again", outcome("b", engine.OutcomeDismissed, t0.Add(8*time.Minute)), engine.OutcomeResult{Records: 1})
	check("b released", t0.Add(8*time.Minute), state{1, 0, 400, 0, 0})

	grant("c gets b's unit", "c", t0.Add(9*time.Minute), engine.Granted)
	check("c held", t0.Add(9*time.Minute), state{2, 1, 800, 400, 0})
	check("c expired", t0.Add(39*time.Minute), state{1, 0, 400, 0, 0})

	grant("d gets c's unit", "d", t0.Add(40*time.Minute), engine.Granted)
	apply("c converted late, over the cap", outcome("c", engine.OutcomeConverted, t0.Add(41*time.Minute)),
		engine.OutcomeResult{Records: 1, LateCommits: 1, OverCap: 1})
	check("over the cap", t0.Add(41*time.Minute), state{3, 1, 1200, 400, 1})
	grant("e: no grant while over the cap", "e", t0.Add(42*time.Minute), engine.SkippedCapTotal)

	apply("a cancelled", outcome("a", engine.OutcomeCancelled, t0.Add(50*time.Minute)), engine.OutcomeResult{Records: 1, Cancels: 1})
	apply("a cancelled again", outcome("a", engine.OutcomeCancelled, t0.Add(51*time.Minute)), engine.OutcomeResult{Records: 1})
	apply("a converted after its cancel", outcome("a", engine.OutcomeConverted, t0.Add(52*time.Minute)), engine.OutcomeResult{Records: 1})
	check("a returned", t0.Add(52*time.Minute), state{2, 1, 800, 400, 1})
	apply("d: other outcomes move nothing", outcome("d", "impression", t0.Add(53*time.Minute)), engine.OutcomeResult{Records: 1})
	apply("d cancelled while held: nothing", outcome("d", engine.OutcomeCancelled, t0.Add(53*time.Minute)), engine.OutcomeResult{Records: 1})

	// A conversion that occurred after d's hold expired, reported before
	// anything released it: released then committed, late.
	apply("d converted after its expiry", outcome("d", engine.OutcomeConverted, t0.Add(71*time.Minute)),
		engine.OutcomeResult{Records: 1, Expiries: 1, LateCommits: 1})
	check("d committed", t0.Add(72*time.Minute), state{2, 0, 800, 0, 1})
	apply("unknown decision", outcome("zz", engine.OutcomeConverted, t0.Add(72*time.Minute)), engine.OutcomeResult{})
	if st := l.Stats(); st.Holds != 4 || st.Expiries != 1 {
		t.Errorf("stats %+v, want 4 holds and 1 expiry (c's; d's was released by its outcome)", st)
	}
}

// TestClaims: the first plan with a key claims it and reserves; a second
// with the same key and body reserves nothing and is pending until the
// answer is stored, then replays it; another body conflicts; a released
// claim or an expired one is claimed again.
func TestClaims(t *testing.T) {
	l := New()
	ctx := context.Background()
	plan := func(at time.Time, body byte) (*engine.Plan, *engine.Claim) {
		c := &engine.Claim{Key: "k1", Body: [32]byte{body}, TTL: time.Hour}
		return &engine.Plan{Now: at, Ref: "r", Currency: "USD", Limit: 1, Guardrail: 1 << 40, Claim: c,
			Items: []engine.PlanItem{{OfferID: "o", Total: 10}}}, c
	}
	reserve := func(step string, at time.Time, body byte, want engine.ClaimState) *engine.Claim {
		t.Helper()
		p, c := plan(at, body)
		if _, err := l.Reserve(ctx, p); err != nil || c.State != want {
			t.Fatalf("%s: state %v %v, want %v", step, c.State, err, want)
		}
		return c
	}
	first := reserve("first", t0, 1, engine.ClaimNew)
	reserve("in flight", t0.Add(time.Millisecond), 1, engine.ClaimPending)
	reserve("another body", t0.Add(time.Millisecond), 2, engine.ClaimConflict)
	if err := l.StoreAnswer(ctx, first, []byte(`{"decision_id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	c := reserve("answered", t0.Add(time.Second), 1, engine.ClaimReplay)
	if string(c.Answer) != `{"decision_id":"x"}` {
		t.Errorf("answer %q", c.Answer)
	}
	if l.Total("o") != 1 {
		t.Errorf("%d grants for one key, want 1", l.Total("o"))
	}
	reserve("after the TTL", t0.Add(time.Hour), 1, engine.ClaimNew)
	p, c2 := plan(t0.Add(2*time.Hour), 3)
	c2.Key = "k2"
	if _, err := l.Reserve(ctx, p); err != nil || c2.State != engine.ClaimNew {
		t.Fatal(c2.State, err)
	}
	_ = l.Release(ctx, c2)
	reserve2 := func() engine.ClaimState {
		p, c := plan(t0.Add(2*time.Hour), 3)
		c.Key = "k2"
		_, _ = l.Reserve(ctx, p)
		return c.State
	}
	if s := reserve2(); s != engine.ClaimNew {
		t.Errorf("after a release: %v, want a new claim", s)
	}
}

// TestLearningCounts: a recorded grant with a cell counts a trial on its
// decision's day; the reward outcome counts one success, however often it
// comes, whether it names the offer or the whole decision.
func TestLearningCounts(t *testing.T) {
	l := New()
	ctx := context.Background()
	for _, ref := range []string{"a", "b"} {
		p := &engine.Plan{Now: t0, Ref: ref, Currency: "USD", Limit: 2, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "x", Record: true, Cell: "at_risk"}, {OfferID: "y", Record: true, Cell: "at_risk"}}}
		if _, err := l.Reserve(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	offers := []engine.OutcomeOffer{{ID: "x"}, {ID: "y"}}
	outs := []engine.GrantOutcome{
		{Ref: "a", Type: "converted", Reward: "converted", Named: true, Offers: offers[:1], Now: t0},
		{Ref: "a", Type: "converted", Reward: "converted", Offers: offers, Now: t0}, // whole decision: y succeeds, x already did
		{Ref: "b", Type: "accepted", Reward: "converted", Offers: offers, Now: t0},
		{Ref: "b", Type: "converted", Reward: "converted", Named: true, Offers: []engine.OutcomeOffer{{ID: "z"}}, Now: t0},
	}
	res, err := l.Apply(ctx, outs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Successes != 1 || res[1].Successes != 1 || res[1].Records != 2 || res[2].Successes != 0 || res[3].Records != 0 {
		t.Errorf("results %+v", res)
	}
	counts, _ := l.Counts(ctx, nil)
	day := Day(t0)
	want := []learning.Count{{Offer: "x", Cell: "at_risk", Day: day, Trials: 2, Successes: 1}, {Offer: "y", Cell: "at_risk", Day: day, Trials: 2, Successes: 1}}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %+v, want %+v", counts, want)
	}
	_ = l.ResetLearning(ctx, []string{"x"})
	if counts, _ = l.Counts(ctx, nil); len(counts) != 1 || counts[0].Offer != "y" {
		t.Errorf("after reset: %+v", counts)
	}
}

// TestConcurrentOffersNeverPastTheirCaps: decisions walking three offers
// at once (a total and a budget with holds and records, a per-customer cap
// in a window, an uncapped offer recorded for learning), while outcomes
// commit their holds and readers read budgets, learning counts and
// snapshots: every read sees the caps kept, and at the end the counts are
// exact. Each offer has its own mutex; -race checks what they guard.
func TestConcurrentOffersNeverPastTheirCaps(t *testing.T) {
	l := New()
	ctx := context.Background()
	const workers, per, customers = 16, 100, 20
	items := func() []engine.PlanItem {
		return []engine.PlanItem{
			{OfferID: "held", Amount: 120, Total: 30, Budget: 3000, Hold: time.Hour, Record: true, Cell: "arm-a"},
			{OfferID: "window", PerCustomer: 1, Window: time.Hour},
			{OfferID: "learn", Record: true, Cell: "arm-b"},
		}
	}
	granted := make(chan string, workers*per)
	var deciders sync.WaitGroup
	counts := make([][3]int, workers)
	for w := range workers {
		deciders.Add(1)
		go func() {
			defer deciders.Done()
			for i := range per {
				ref := "r-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				p := &engine.Plan{Now: t0.Add(time.Duration(i) * time.Millisecond), Ref: ref, CustomerID: "c" + strconv.Itoa((w*per+i)%customers),
					Currency: "USD", Limit: 3, Guardrail: 1 << 40, Items: items()}
				res, err := l.Reserve(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				for j, r := range res {
					if r == engine.Granted {
						counts[w][j]++
					}
				}
				if res[0] == engine.Granted {
					granted <- ref
				}
			}
		}()
	}
	done := make(chan struct{})
	var others sync.WaitGroup
	others.Add(1)
	go func() { // outcomes: each granted hold converted within its hour
		defer others.Done()
		for ref := range granted {
			out := engine.GrantOutcome{Ref: ref, Type: engine.OutcomeConverted, At: t0.Add(time.Minute), Now: t0.Add(time.Minute), Named: true,
				Offers: []engine.OutcomeOffer{{ID: "held", Total: 30, Budget: 3000}}}
			if _, err := l.Apply(ctx, []engine.GrantOutcome{out}); err != nil {
				t.Error(err)
			}
		}
	}()
	repeat(t, &others, done, func() error { // readers
		b, err := l.Budgets(ctx, t0.Add(time.Second), []engine.BudgetQuery{{OfferID: "held", Currencies: []string{"USD"}}})
		if err != nil {
			return err
		}
		if b[0].Count > 30 || b[0].Spent > 3000 {
			return fmt.Errorf("read past the caps: %+v", b[0])
		}
		if _, err := l.Counts(ctx, nil); err != nil {
			return err
		}
		_ = l.Snapshot(t0.Add(time.Second), []string{"held", "window", "learn"})
		return nil
	})
	deciders.Wait()
	close(granted)
	close(done)
	others.Wait()

	var sum [3]int
	for _, c := range counts {
		for j := range sum {
			sum[j] += c[j]
		}
	}
	// 3000 / 120 = 25 grants fit the budget, under the total of 30.
	if sum[0] != 25 || l.Total("held") != 25 || l.Spent("held", "USD") != 25*120 {
		t.Errorf("held: %d granted, total %d, spent %d; want 25, 25, 3000", sum[0], l.Total("held"), l.Spent("held", "USD"))
	}
	if sum[1] != customers {
		t.Errorf("window: %d granted, want one for each of %d customers", sum[1], customers)
	}
	if sum[2] != workers*per {
		t.Errorf("learn: %d granted, want %d", sum[2], workers*per)
	}
	cs, err := l.Counts(ctx, []string{"held", "learn"})
	if err != nil {
		t.Fatal(err)
	}
	trials := map[string]int64{}
	for _, c := range cs {
		trials[c.Offer+"/"+c.Cell] += c.Trials
	}
	if trials["held/arm-a"] != 25 || trials["learn/arm-b"] != workers*per {
		t.Errorf("learning trials %v, want held/arm-a 25 and learn/arm-b %d", trials, workers*per)
	}
	snap := l.Snapshot(t0.Add(time.Minute), []string{"held"})
	if snap.Held["held"] != 0 || snap.Count["held"] != 25 {
		t.Errorf("after the outcomes: %d held, %d counted; want every hold committed (0, 25)", snap.Held["held"], snap.Count["held"])
	}
}

// TestConcurrentClaimsHoldsAndResets: decisions with Idempotency-Keys
// (37 keys, many decisions each), dry runs among them, walking offers of
// one unit each whose holds expire while the others walk, beside readers
// and learning resets: each key is claimed exactly once, an offer never
// counts more than its one unit at any read, and every hold is counted.
func TestConcurrentClaimsHoldsAndResets(t *testing.T) {
	l := New()
	ctx := context.Background()
	const workers, per, offers, keys = 8, 200, 10, 37
	newClaims := make([]int, keys)
	var mu sync.Mutex
	var holds int
	var deciders, others sync.WaitGroup
	for w := range workers {
		deciders.Add(1)
		go func() {
			defer deciders.Done()
			for i := range per {
				n := w*per + i
				id := "one-" + strconv.Itoa(n%offers)
				p := &engine.Plan{Now: t0.Add(time.Duration(i) * time.Millisecond), Ref: "r-" + strconv.Itoa(n), CustomerID: "c" + strconv.Itoa(n%13),
					Currency: "USD", Limit: 1, Guardrail: 1 << 40, DryRun: n%7 == 0,
					Items: []engine.PlanItem{{OfferID: id, Amount: 100, Total: 1, Hold: 50 * time.Millisecond, Record: true, Cell: "c"}}}
				var c *engine.Claim
				if n%3 == 0 {
					c = &engine.Claim{Key: "k" + strconv.Itoa(n%keys), TTL: time.Hour}
					p.Claim = c
				}
				res, err := l.Reserve(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if c != nil && c.State == engine.ClaimNew {
					newClaims[n%keys]++
				}
				if res[0] == engine.Granted && !p.DryRun {
					holds++
				}
				mu.Unlock()
			}
		}()
	}
	// Claims alone (no item, so no offer's lock orders them): only the
	// claims' mutex keeps their map whole, which -race checks.
	onlyNew := make([]int, keys)
	for w := range workers {
		deciders.Add(1)
		go func() {
			defer deciders.Done()
			for i := range per {
				n := w*per + i
				c := &engine.Claim{Key: "q" + strconv.Itoa(n%keys), TTL: time.Hour}
				if _, err := l.Reserve(ctx, &engine.Plan{Now: t0.Add(time.Duration(i) * time.Millisecond), CustomerID: "c", Currency: "USD", Claim: c}); err != nil {
					t.Error(err)
					return
				}
				if c.State == engine.ClaimNew {
					mu.Lock()
					onlyNew[n%keys]++
					mu.Unlock()
				}
			}
		}()
	}
	done := make(chan struct{})
	ids := make([]engine.BudgetQuery, offers)
	for k := range ids {
		ids[k] = engine.BudgetQuery{OfferID: "one-" + strconv.Itoa(k), Currencies: []string{"USD"}}
	}
	repeat(t, &others, done, func() error {
		bs, err := l.Budgets(ctx, t0, ids)
		if err != nil {
			return err
		}
		for _, b := range bs {
			if b.Count > 1 {
				return fmt.Errorf("%s counts %d of its one unit", b.OfferID, b.Count)
			}
		}
		return nil
	})
	repeat(t, &others, done, func() error {
		if err := l.ResetLearning(ctx, nil); err != nil {
			return err
		}
		_, err := l.Counts(ctx, nil)
		return err
	})
	deciders.Wait()
	close(done)
	others.Wait()
	for k := range keys {
		if newClaims[k] != 1 || onlyNew[k] != 1 {
			t.Errorf("keys k%d and q%d claimed %d and %d times, want once each", k, k, newClaims[k], onlyNew[k])
		}
	}
	st := l.Stats()
	if int(st.Holds) != holds || st.Expiries > st.Holds || holds < offers {
		t.Errorf("stats %+v, %d holds granted (want one at least for each of %d offers)", st, holds, offers)
	}
}

// repeat runs fn again and again in a goroutine of its own, counted in wg,
// until done is closed or fn fails (a test error).
func repeat(t *testing.T, wg *sync.WaitGroup, done <-chan struct{}, fn func() error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := fn(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
}

// TestDryRunAtAnotherTimeKeepsRecordsAndClaims: a dry run may be decided
// at any time (the request's "now", the console's time travel); its time
// must not judge the ledger's housekeeping. Dry runs dated
// ten years ahead, more than enough to run the housekeeping, drop no
// grant record and no claim; the retry of the real decision is still a
// replay and its order still commits its hold.
func TestDryRunAtAnotherTimeKeepsRecordsAndClaims(t *testing.T) {
	now := t0
	l := NewWithOptions(Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	p := holdPlan("a", t0)
	c := &engine.Claim{Key: "checkout-42", Body: [32]byte{1}, TTL: time.Hour}
	p.Claim = c
	if res, err := l.Reserve(ctx, p); err != nil || res[0] != engine.Granted || c.State != engine.ClaimNew {
		t.Fatalf("the real decision: %v %v %v", res, c.State, err)
	}
	if err := l.StoreAnswer(ctx, c, []byte(`{"decision_id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3*maintainEvery; i++ {
		dry := holdPlan("", t0.AddDate(10, 0, 0))
		dry.DryRun, dry.CustomerID = true, "c-dry"
		if _, err := l.Reserve(ctx, dry); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(time.Second)
	retry := holdPlan("a2", now)
	rc := &engine.Claim{Key: "checkout-42", Body: [32]byte{1}, TTL: time.Hour}
	retry.Claim = rc
	if _, err := l.Reserve(ctx, retry); err != nil || rc.State != engine.ClaimReplay {
		t.Errorf("the retry after the dry runs: claim %v %v, want a replay (its first claim was dropped)", rc.State, err)
	}
	res, err := l.Apply(ctx, []engine.GrantOutcome{outcome("a", engine.OutcomeConverted, now)})
	if err != nil || res[0] != (engine.OutcomeResult{Records: 1, Commits: 1}) {
		t.Errorf("the order after the dry runs: %+v %v, want its record found and its hold committed", res, err)
	}

}

// TestResetForgetsEarlierDecisions: after `arbiter learning reset`, an
// outcome of a decision made before the reset counts no success (its
// trial was deleted with the statistics: counted now, the success would
// have no trial, and a converted decision of the old offer would count
// for the new one); a decision made after the reset counts as before.
func TestResetForgetsEarlierDecisions(t *testing.T) {
	ctx := context.Background()
	clock := t0
	l := NewWithOptions(Options{Now: func() time.Time { return clock }})
	decide := func(ref string, at time.Time) {
		t.Helper()
		p := &engine.Plan{Now: at, Ref: ref, Currency: "USD", Limit: 1, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "x", Record: true, Cell: "all"}}}
		if _, err := l.Reserve(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	convert := func(ref string, decided, at time.Time) int {
		t.Helper()
		res, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: ref, DecisionTime: decided, Type: "converted", Reward: "converted",
			Named: true, Offers: []engine.OutcomeOffer{{ID: "x"}}, At: at, Now: at}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Successes
	}
	before, after := t0.Add(-time.Hour), t0.Add(time.Hour)
	decide("old", before)
	clock = t0
	if err := l.ResetLearning(ctx, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	decide("new", after)
	tests := []struct {
		ref           string
		decided       time.Time
		wantSuccesses int
	}{
		{"old", before, 0},
		{"new", after, 1},
		{"new", after, 0}, // once
	}
	for _, tc := range tests {
		if got := convert(tc.ref, tc.decided, after.Add(time.Minute)); got != tc.wantSuccesses {
			t.Errorf("decision %s converted: %d successes, want %d", tc.ref, got, tc.wantSuccesses)
		}
	}
	counts, _ := l.Counts(ctx, []string{"x"})
	want := []learning.Count{{Offer: "x", Cell: "all", Day: Day(t0), Trials: 1, Successes: 1}}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %+v, want %+v", counts, want)
	}
}
