package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
)

// grantLedger is what TestLateCommitOverCapCountsLiveHoldsOnly needs of a
// ledger: memledger's and the Redis ledger's.
type grantLedger interface {
	engine.Ledger
	Apply(ctx context.Context, outs []engine.GrantOutcome) ([]engine.OutcomeResult, error)
	Budgets(ctx context.Context, now time.Time, qs []engine.BudgetQuery) ([]engine.BudgetState, error)
}

// TestLateCommitOverCapCountsLiveHoldsOnly: an offer of total 3 (and a
// budget of 3.00 USD, 1.00 a grant) held 1 minute is granted to c-1, c-2
// and c-3; c-1 dismisses it and its unit goes to c-4; the holds of c-2,
// c-3 and c-4 lapse, and nothing touches the offer until c-1's order
// comes after all (a late commit). Held + committed is then 1 of 3: not
// over the cap, and over_cap_commits must stay 0. Both ledgers counted the
// lapsed holds still in the offer's held set (released only after the
// outcome was applied) and reported an over-cap commit that never was. A
// late commit that fills the cap is not over it either; one past a full
// cap is.
func TestLateCommitOverCapCountsLiveHoldsOnly(t *testing.T) {
	ledgers := map[string]func(t *testing.T) grantLedger{
		"memledger": func(t *testing.T) grantLedger { return memledger.New() },
	}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		ledgers[fmt.Sprint("redis mode=", mode)] = func(t *testing.T) grantLedger {
			c, prefix, _ := redistest.Client(t)
			return NewWithOptions(c, Options{Prefix: prefix, Mode: mode, Clock: ClockPlan})
		}
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	offer := engine.OutcomeOffer{ID: "first3", Total: 3, Budget: 300}
	for name, open := range ledgers {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := open(t)
			grant := func(k int, at time.Time) engine.Result {
				t.Helper()
				p := &engine.Plan{Now: at, Ref: fmt.Sprintf("%026d", k), CustomerID: fmt.Sprint("c-", k), Currency: "USD", Limit: 1, Guardrail: 1 << 40,
					Items: []engine.PlanItem{{OfferID: "first3", Amount: 100, Total: 3, Budget: 300, Hold: time.Minute, Record: true}}}
				res, err := l.Reserve(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if w, ok := l.(interface{ Wait() }); ok {
					w.Wait()
				}
				return res[0]
			}
			order := func(k int, decided, at time.Time) engine.OutcomeResult {
				t.Helper()
				res, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: fmt.Sprintf("%026d", k), DecisionTime: decided, Type: engine.OutcomeConverted,
					At: at, Now: at, Named: true, Offers: []engine.OutcomeOffer{offer}}})
				if err != nil {
					t.Fatal(err)
				}
				return res[0]
			}
			for k := 1; k <= 3; k++ {
				if r := grant(k, t0); r != engine.Granted {
					t.Fatalf("grant %d: %v", k, r)
				}
			}
			dismissed := t0.Add(10 * time.Second)
			if _, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: fmt.Sprintf("%026d", 1), DecisionTime: t0, Type: engine.OutcomeDismissed,
				At: dismissed, Now: dismissed, Named: true, Offers: []engine.OutcomeOffer{offer}}}); err != nil {
				t.Fatal(err)
			}
			if r := grant(4, dismissed); r != engine.Granted {
				t.Fatalf("grant 4 (c-1's unit): %v", r)
			}
			later := t0.Add(5 * time.Minute) // the holds of c-2, c-3 and c-4 lapsed 4 minutes ago
			if r := order(1, t0, later); r.LateCommits != 1 || r.OverCap != 0 {
				t.Errorf("c-1's order after its dismissal, the other holds lapsed (1 of 3): %+v; want a late commit, not over the cap", r)
			}
			if r := grant(5, later); r != engine.Granted {
				t.Fatalf("grant 5: %v", r)
			}
			if r := order(2, t0, later); r.LateCommits != 1 || r.OverCap != 0 {
				t.Errorf("c-2's late order beside c-1's commit and c-5's hold (3 of 3): %+v; want a late commit, not over the cap", r)
			}
			if r := order(3, t0, later); r.LateCommits != 1 || r.OverCap != 1 {
				t.Errorf("c-3's late order past a full cap (4 of 3): %+v; want a late commit over the cap", r)
			}
			st, err := l.Budgets(ctx, later, []engine.BudgetQuery{{OfferID: "first3", Currencies: []string{"USD"}}})
			if err != nil {
				t.Fatal(err)
			}
			if st[0].OverCap != 1 || st[0].Count != 4 || st[0].Held != 1 || st[0].Spent != 400 {
				t.Errorf("state %+v; want 4 counted (1 held), 4.00 spent, 1 over-cap commit", st[0])
			}
		})
	}
}

// TestLateCommitOverCapInTheCartsCurrency: in rules without a `currency`,
// a budget is counted per cart currency, each in its own minor units
// (budget: 10 is 10 yen, 10.000 dinars, 10.00 dollars). A late commit's
// over-cap check compared the spend with the budget in cents whatever the
// currency: a yen budget overspent by late orders never showed an over-cap
// commit (20 yen against "1000"), and a dinar budget used to six tenths
// showed one (6.000 KWD against "1000"). Each is judged in its own
// currency now, in both ledgers.
func TestLateCommitOverCapInTheCartsCurrency(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(`
offers:
  - id: ten
    discount: {amount: 1}
    caps: {budget: 10, hold: 1m}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	off, _ := rs.Offer("ten")
	ledgers := map[string]func(t *testing.T) grantLedger{
		"memledger": func(t *testing.T) grantLedger { return memledger.New() },
	}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		ledgers[fmt.Sprint("redis mode=", mode)] = func(t *testing.T) grantLedger {
			c, prefix, _ := redistest.Client(t)
			return NewWithOptions(c, Options{Prefix: prefix, Mode: mode, Clock: ClockPlan})
		}
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		cur          string
		budget, each int64 // minor units of cur
		over         int
	}{
		{"JPY", 10, 10, 1},        // 20 yen of 10: over
		{"KWD", 10000, 3000, 0},   // 6.000 of 10.000: not over
		{"USD", 1000, 600, 1},     // 12.00 of 10.00: over
		{"USD", 1000, 500, 0},     // 10.00 of 10.00: not over
		{"KWD", 10000, 6000, 1},   // 12.000 of 10.000: over
		{"JPY", 10, 5, 0},         // 10 yen of 10: not over
		{"BHD", 10000, 5001, 1},   // 10.002 of 10.000: over
		{"CLF", 100000, 60000, 1}, // 4 digits: 12.0000 of 10.0000: over
	} {
		for name, open := range ledgers {
			t.Run(fmt.Sprint(tc.cur, tc.each, "/", name), func(t *testing.T) {
				ctx := context.Background()
				l := open(t)
				grant := func(k int, at time.Time) {
					t.Helper()
					p := &engine.Plan{Now: at, Ref: fmt.Sprintf("%026d", k), CustomerID: fmt.Sprint("c-", k), Currency: tc.cur, BudgetCurrency: tc.cur,
						Limit: 1, Guardrail: 1 << 40,
						Items: []engine.PlanItem{{OfferID: "ten", Amount: tc.each, Spend: tc.each, Budget: tc.budget, Hold: time.Minute, Record: true}}}
					res, err := l.Reserve(ctx, p)
					if err != nil {
						t.Fatal(err)
					}
					if res[0] != engine.Granted {
						t.Fatalf("grant %d: %v", k, res[0])
					}
				}
				outcome := func(k int, typ string, at time.Time) engine.OutcomeResult {
					t.Helper()
					res, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: fmt.Sprintf("%026d", k), DecisionTime: t0, Type: typ,
						At: at, Now: at, Named: true, Offers: []engine.OutcomeOffer{attribution.OutcomeOffer(rs, off)}}})
					if err != nil {
						t.Fatal(err)
					}
					return res[0]
				}
				grant(1, t0)
				outcome(1, engine.OutcomeDismissed, t0.Add(time.Second))
				grant(2, t0)
				if r := outcome(1, engine.OutcomeConverted, t0.Add(10*time.Second)); r.LateCommits != 1 || r.OverCap != tc.over {
					t.Errorf("c-1's order after its dismissal, 2 × %d of %d %s: %+v; want %d over-cap commit(s)", tc.each, tc.budget, tc.cur, r, tc.over)
				}
			})
		}
	}
}

// TestOrderWithinItsHoldCommitsAfterTheHoldWasReleased: an order that
// occurred while its grant was held commits it (held → committed), even
// when it arrives after the hold lapsed and a walk of the offer released
// it already; it was counted a late commit then, and a commit when no walk
// had come (the same order, classed by the traffic of others). Its unit is
// counted again either way, and over the cap if it was granted again in
// between.
func TestOrderWithinItsHoldCommitsAfterTheHoldWasReleased(t *testing.T) {
	ledgers := map[string]func(t *testing.T) grantLedger{
		"memledger": func(t *testing.T) grantLedger { return memledger.New() },
	}
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		ledgers[fmt.Sprint("redis mode=", mode)] = func(t *testing.T) grantLedger {
			c, prefix, _ := redistest.Client(t)
			return NewWithOptions(c, Options{Prefix: prefix, Mode: mode, Clock: ClockPlan})
		}
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	offer := engine.OutcomeOffer{ID: "one", Total: 1}
	for _, walked := range []bool{false, true} {
		for name, open := range ledgers {
			t.Run(fmt.Sprint(name, ",released by a walk=", walked), func(t *testing.T) {
				ctx := context.Background()
				l := open(t)
				grant := func(k int, at time.Time) engine.Result {
					t.Helper()
					p := &engine.Plan{Now: at, Ref: fmt.Sprintf("%026d", k), CustomerID: fmt.Sprint("c-", k), Currency: "USD", Limit: 1, Guardrail: 1 << 40,
						Items: []engine.PlanItem{{OfferID: "one", Total: 1, Hold: time.Minute, Record: true}}}
					res, err := l.Reserve(ctx, p)
					if err != nil {
						t.Fatal(err)
					}
					if w, ok := l.(interface{ Wait() }); ok {
						w.Wait()
					}
					return res[0]
				}
				if r := grant(1, t0); r != engine.Granted {
					t.Fatalf("grant 1: %v", r)
				}
				want := engine.OutcomeResult{Records: 1, Commits: 1}
				if walked { // c-2 is granted c-1's lapsed unit
					if r := grant(2, t0.Add(150*time.Second)); r != engine.Granted {
						t.Fatalf("grant 2: %v", r)
					}
					want.OverCap = 1
				}
				res, err := l.Apply(ctx, []engine.GrantOutcome{{Ref: fmt.Sprintf("%026d", 1), DecisionTime: t0, Type: engine.OutcomeConverted,
					At: t0.Add(30 * time.Second), Now: t0.Add(3 * time.Minute), Named: true, Offers: []engine.OutcomeOffer{offer}}})
				if err != nil {
					t.Fatal(err)
				}
				if res[0] != want {
					t.Errorf("c-1's order of 30 s after the grant, posted after the hold lapsed: %+v, want %+v", res[0], want)
				}
			})
		}
	}
}
