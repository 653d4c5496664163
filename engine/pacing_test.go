package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
)

// TestPacingTenDays: "the Black Friday 10 days" paced evenly, with a total
// of 1000 grants and a budget of 500.00 USD, under a demand far above
// either (a decision every 90 s, each a 1.00 USD discount, so the budget
// binds first): at the end of every day the grants never exceed
// ⌈1000 × f⌉ and the spend never exceeds 500.00 × f, each day's share is
// taken, and an offer held back says `pacing` in explain (and `budget`
// once the budget is spent).
func TestPacingTenDays(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(`
offers:
  - id: ten_days
    discount: {amount: 1}
    schedule: {start: 2026-11-20T00:00:00Z, end: 2026-11-30T00:00:00Z}
    caps: {total: 1000, budget: 500, pacing: even}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	eng := engine.New(engine.Options{Ledger: memledger.New()})
	c := engine.Cart{Currency: "USD", Items: []engine.Item{{SKU: "A", Price: 5000, Quantity: 1}}}
	granted, paced := 0, 0
	for k := 0; k < 10*24*40; k++ {
		now := start.Add(time.Duration(k) * 90 * time.Second)
		d, err := eng.Decide(context.Background(), rs, engine.ProfileOf(rs, "c1", nil),
			&engine.Request{CustomerID: "c1", Placement: "checkout", Cart: c, Now: now, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Actions) == 1 {
			granted++
		} else if r := d.Explain.Offers[0].Reason; r == engine.ReasonPacing {
			paced++
		} else if r != engine.ReasonBudget || granted != 500 {
			t.Fatalf("at %v: not granted, reason %q", now, r)
		}
		if next := now.Add(90 * time.Second); next.Sub(start)%(24*time.Hour) == 0 {
			day := int(next.Sub(start) / (24 * time.Hour))
			t.Logf("day %2d: %3d grants = %6.2f USD spent (share %6.2f USD, %4d grants); %d held back by pacing",
				day, granted, float64(granted), 50.0*float64(day), 100*day, paced)
			if granted > 50*day || granted < 50*day-1 {
				t.Errorf("day %d: %d USD spent, share %d", day, granted, 50*day)
			}
		}
	}
	if granted != 500 {
		t.Errorf("%d USD spent over the window, want the whole 500", granted)
	}
}

// TestPacingNeverRunsAhead: a property test over random paced offers
// (windows from a second to a month, a total, a budget or both, in USD
// or in a ruleset currency of 0 or 3 digits with carts in others, with
// and without a hold) under random demand: at every grant the count
// before it was below ⌈total × f⌉ and the spend before it at most
// ⌊budget × f⌋, so the spend never runs ahead of the pace by more than
// the grant itself; and neither the total nor the budget is ever
// exceeded.
func TestPacingNeverRunsAhead(t *testing.T) {
	type money struct {
		head, budgetCur string
		carts           []string
	}
	moneys := []money{
		{"", "USD", []string{"USD"}},
		{"currency: JPY\nrates: {USD: 151.37, KWD: 492.5}\n", "JPY", []string{"JPY", "USD", "KWD"}},
		{"currency: KWD\nrates: {USD: 0.307, JPY: 0.00203}\n", "KWD", []string{"KWD", "USD", "JPY"}},
	}
	start := time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC)
	for seed := uint64(0); seed < 24; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		m := moneys[seed%3]
		window := time.Duration(1+r.Int64N(int64(30*24*time.Hour/time.Second))) * time.Second
		end := start.Add(window)
		total, budget := int64(0), 0
		switch r.IntN(3) {
		case 0:
			total = 1 + r.Int64N(300)
		case 1:
			budget = 1 + r.IntN(2000)
		default:
			total, budget = 1+r.Int64N(300), 1+r.IntN(2000)
		}
		caps := "pacing: even"
		if total > 0 {
			caps += fmt.Sprintf(", total: %d", total)
		}
		if budget > 0 {
			caps += fmt.Sprintf(", budget: %d", budget)
		}
		hold := r.IntN(2) == 0
		if hold {
			caps += ", hold: 1h"
		}
		src := m.head + fmt.Sprintf(`
offers:
  - id: paced
    discount: {percent: 10, max_amount: 40}
    schedule: {start: %s, end: %s, timezone: Europe/Paris}
    caps: {%s}
`, start.Format(time.RFC3339), end.Format(time.RFC3339), caps)
		rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(src)}})
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, src)
		}
		led := memledger.New()
		eng := engine.New(engine.Options{Ledger: led})
		exp, _ := engine.CurrencyExp(m.budgetCur)
		budgetMinor, _ := engine.ToMinor(float64(budget), exp)
		state := func(now time.Time) (count, spent int64) {
			st, err := led.Budgets(context.Background(), now, []engine.BudgetQuery{{OfferID: "paced", Currencies: []string{m.budgetCur}}})
			if err != nil || len(st) != 1 {
				t.Fatalf("seed %d: budgets %v %v", seed, st, err)
			}
			return st[0].Count, st[0].Spent
		}
		// Demand: about 2000 decisions spread over the window, then some after it.
		step := window / 2000
		now := start.Add(-time.Minute)
		grants := 0
		for k := 0; k < 2300; k++ {
			now = now.Add(time.Duration(r.Int64N(int64(2*step) + 1)))
			cur := m.carts[r.IntN(len(m.carts))]
			cexp, _ := engine.CurrencyExp(cur)
			price := (1 + r.Int64N(500)) * int64(pow10(cexp))
			c := engine.Cart{Currency: cur, Items: []engine.Item{{SKU: "A", Price: price, Quantity: 1}}}
			countBefore, spentBefore := state(now)
			id := fmt.Sprint("c", k)
			d, err := eng.Decide(context.Background(), rs, engine.ProfileOf(rs, id, nil),
				&engine.Request{CustomerID: id, Placement: "checkout", Cart: c, Now: now, Explain: true})
			if err != nil {
				t.Fatal(err)
			}
			countAfter, spentAfter := state(now)
			if total > 0 && countAfter > total || budget > 0 && spentAfter > budgetMinor {
				t.Fatalf("seed %d at %v: count %d of %d, spent %d of %d", seed, now, countAfter, total, spentAfter, budgetMinor)
			}
			paceT, paceB := engine.PacedShares(total, budgetMinor, start, end, now)
			if len(d.Actions) == 0 {
				continue
			}
			grants++
			if total > 0 && countBefore >= paceT {
				t.Fatalf("seed %d at %v (f %.6f): granted with %d before it, pace %d", seed, now,
					float64(now.Sub(start))/float64(window), countBefore, paceT)
			}
			if budget > 0 && spentBefore > paceB {
				t.Fatalf("seed %d at %v (f %.6f): granted with %d spent before it, pace %d", seed, now,
					float64(now.Sub(start))/float64(window), spentBefore, paceB)
			}
		}
		if grants == 0 {
			t.Errorf("seed %d: nothing granted over %v", seed, window)
		}
	}
}

func pow10(e int8) int64 {
	p := int64(1)
	for ; e > 0; e-- {
		p *= 10
	}
	return p
}

// TestPacingADaysBudgetOnDSTDays: a day's budget of 100.00 paced over one
// local day in New York on the days the clocks change (23 and 25 hours),
// a decision a minute each worth a 1.00 discount, far above the pace.
// The share follows the wall clock (the decision's time), not the local
// hours: by the end of every hour the spend is within one discount of
// ⌊100.00 × f⌋ (after the first hour 4.00 or 5.00 of the 23-hour day, not
// the whole budget), and by the end of the day it is all spent.
func TestPacingADaysBudgetOnDSTDays(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range []struct {
		date  string
		hours int
	}{{"2026-03-08", 23}, {"2026-11-01", 25}} {
		t.Run(day.date, func(t *testing.T) {
			start, _ := time.ParseInLocation("2006-01-02", day.date, ny)
			end := start.AddDate(0, 0, 1)
			if got := int(end.Sub(start) / time.Hour); got != day.hours {
				t.Fatalf("%s is %d hours long in New York, want %d", day.date, got, day.hours)
			}
			rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(fmt.Sprintf(`
offers:
  - id: daily
    discount: {amount: 1}
    schedule: {start: %s, end: %s, timezone: America/New_York}
    caps: {budget: 100, pacing: even}
`, start.Format(time.RFC3339), end.Format(time.RFC3339)))}})
			if err != nil {
				t.Fatal(err)
			}
			eng := engine.New(engine.Options{Ledger: memledger.New()})
			c := engine.Cart{Currency: "USD", Items: []engine.Item{{SKU: "A", Price: 5000, Quantity: 1}}}
			spent := 0
			for m := 0; m < 60*day.hours; m++ {
				now := start.Add(time.Duration(m) * time.Minute)
				d, err := eng.Decide(context.Background(), rs, engine.ProfileOf(rs, "c1", nil),
					&engine.Request{CustomerID: "c1", Placement: "checkout", Cart: c, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				spent += len(d.Actions)
				if (m+1)%60 == 0 {
					h := (m + 1) / 60
					share := 100 * h / day.hours // ⌊100 × f⌋ at the hour's end
					if spent > share+1 || spent < share {
						t.Errorf("after %d of %d hours (%s local): %d.00 spent, share %d.00", h, day.hours,
							start.Add(time.Duration(h)*time.Hour).In(ny).Format("15:04 MST"), spent, share)
					}
				}
			}
			if spent != 100 {
				t.Errorf("%d.00 of 100.00 spent by the end of the day", spent)
			}
		})
	}
}
