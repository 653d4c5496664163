package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
)

// refOffer is an offer of the property test, with its fixed caps.
type refOffer struct {
	id            string
	total, budget int64
	hold          time.Duration
	record        bool
	cell          string
	paced         bool
}

var refOffers = []refOffer{
	{id: "a10", total: 3, hold: 20 * time.Minute, record: true},
	{id: "b_free", budget: 1500, hold: 45 * time.Minute, record: true, cell: "all"},
	{id: "c5", budget: 900},
	{id: "d20", total: 6, paced: true},
	{id: "e_vip", record: true, cell: "vip"},
	{id: "f_loyal", total: 5},
	{id: "g_paced", total: 4, budget: 1200, hold: 25 * time.Minute, record: true, paced: true},
}

func refOfferIDs() []string {
	var ids []string
	for _, o := range refOffers {
		ids = append(ids, o.id)
	}
	return ids
}

// randomPlan is a random decision at now with reference ref (""
// sometimes: an offline decision, which records nothing). Half the plans
// keep their budgets in USD (a ruleset currency) with carts in USD, EUR or
// JPY, each item's Spend its amount converted and rounded up; the others
// count budgets per cart currency.
func randomPlan(r *rand.Rand, now time.Time, ref string) *engine.Plan {
	p := &engine.Plan{
		Now:        now,
		Ref:        ref,
		CustomerID: []string{"", "cust-1", "cust-2", "c{3}"}[r.IntN(4)],
		Currency:   []string{"USD", "JPY"}[r.IntN(2)],
		DryRun:     r.IntN(8) == 0,
		Limit:      1 + r.IntN(3),
		Guardrail:  int64(100 + r.IntN(2000)),
	}
	perm := r.Perm(len(refOffers))
	n := r.IntN(len(refOffers) + 1)
	nFallback := 0
	if n > 0 {
		nFallback = r.IntN(2)
	}
	for k := 0; k < n; k++ {
		o := refOffers[perm[k]]
		it := engine.PlanItem{
			OfferID:  o.id,
			Group:    []string{"", "", "g1", "g2"}[r.IntN(4)],
			Amount:   int64(r.IntN(600)),
			Fallback: k >= n-nFallback,
			Total:    o.total,
			Budget:   o.budget,
			Hold:     o.hold,
			Record:   o.record,
			Cell:     o.cell,
			Paced:    o.paced,
		}
		if o.paced {
			it.PaceTotal = int64(r.IntN(7))
			if o.budget > 0 {
				it.PaceBudget = int64(r.IntN(int(o.budget) + 1))
			}
		}
		if r.IntN(3) == 0 {
			it.PerCustomer = 1 + r.IntN(2)
			it.Window = []time.Duration{0, time.Hour, 10 * time.Minute}[r.IntN(3)]
		}
		p.Items = append(p.Items, it)
	}
	if r.IntN(2) == 0 {
		p.BudgetCurrency = "USD"
		p.Currency = []string{"USD", "EUR", "JPY"}[r.IntN(3)]
		for i := range p.Items {
			it := &p.Items[i]
			switch p.Currency {
			case "USD":
				it.Spend = it.Amount
			case "EUR": // 1 EUR = 1.08 USD
				it.Spend = (it.Amount*108 + 99) / 100
			case "JPY": // 1 JPY = 0.0067 USD: yen to cents
				it.Spend = (it.Amount*67 + 99) / 100
			}
		}
	}
	return p
}

// decided is a decision of the property test, for its outcomes.
type decided struct {
	ref string
	at  time.Time
}

// randomOutcomes is a batch of outcomes at now for decisions made before.
func randomOutcomes(r *rand.Rand, now time.Time, past []decided) []engine.GrantOutcome {
	var outs []engine.GrantOutcome
	for k := 1 + r.IntN(3); k > 0; k-- {
		d := decided{ref: fmt.Sprintf("%026d", 999999), at: now}
		if len(past) > 0 && r.IntN(10) > 0 {
			d = past[len(past)-1-r.IntN(min(len(past), 30))]
		}
		g := engine.GrantOutcome{Ref: d.ref, DecisionTime: d.at, Now: now,
			Type:   []string{"converted", "converted", "dismissed", "cancelled", "accepted", "impression"}[r.IntN(6)],
			Reward: []string{"", "converted", "accepted"}[r.IntN(3)]}
		if r.IntN(4) > 0 {
			at := now.Add(-time.Duration(r.IntN(40)) * time.Minute)
			if at.Before(d.at) {
				at = d.at
			}
			g.At = at
		}
		if r.IntN(2) == 0 {
			o := refOffers[r.IntN(len(refOffers))]
			g.Named, g.Offers = true, []engine.OutcomeOffer{{ID: o.id, Total: o.total, Budget: o.budget}}
		} else {
			for _, o := range refOffers {
				if o.record {
					g.Offers = append(g.Offers, engine.OutcomeOffer{ID: o.id, Total: o.total, Budget: o.budget})
				}
			}
		}
		outs = append(outs, g)
	}
	return outs
}

// agreeWithReference runs steps random plans, outcomes and
// Idempotency-Key claims through the Redis ledgers (taking turns) and
// through the reference ledger, and fails at the first answer or state
// that differs.
// refClaimLease is the Redis ledger's claim lease in the comparisons with
// the reference: as long as the claims' TTL, since the reference (one
// process, whose claims die with it) holds an unanswered claim for its
// TTL, and the plans' time runs faster than Redis's.
const refClaimLease = 1000 * time.Hour

func agreeWithReference(t *testing.T, ls []*Redis, c redis.UniversalClient, prefix string, seed uint64, steps int) {
	t.Helper()
	ctx := context.Background()
	ref := memledger.New()
	r := rand.New(rand.NewPCG(seed, 11))
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var past []decided
	var owned []*engine.Claim // claims of both ledgers, pairwise
	for step := 0; step < steps; step++ {
		l := ls[step%len(ls)]
		now = now.Add(time.Duration(r.IntN(10)) * time.Minute)
		switch k := r.IntN(10); {
		case k < 6:
			refID := ""
			if r.IntN(8) > 0 {
				refID = fmt.Sprintf("%026d", step)
			}
			p := randomPlan(r, now, refID)
			q := *p
			q.Items = append([]engine.PlanItem(nil), p.Items...)
			if r.IntN(4) == 0 {
				key := "key-" + strconv.Itoa(r.IntN(3))
				body := [32]byte{byte(r.IntN(2))}
				p.Claim = &engine.Claim{Key: key, Body: body, TTL: 1000 * time.Hour}
				q.Claim = &engine.Claim{Key: key, Body: body, TTL: 1000 * time.Hour}
			}
			want, err := ref.Reserve(ctx, &q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Reserve(ctx, p)
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			l.Wait()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d, plan %+v:\n got %v\nwant %v", step, p, got, want)
			}
			if p.Claim != nil {
				if p.Claim.State != q.Claim.State || string(p.Claim.Answer) != string(q.Claim.Answer) {
					t.Fatalf("step %d: claim %v %q, reference %v %q", step, p.Claim.State, p.Claim.Answer, q.Claim.State, q.Claim.Answer)
				}
				if p.Claim.State == engine.ClaimNew {
					owned = append(owned, p.Claim, q.Claim)
				}
			}
			if refID != "" && !p.DryRun {
				past = append(past, decided{refID, now})
			}
		case k < 9:
			outs := randomOutcomes(r, now, past)
			want, err := ref.Apply(ctx, outs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Apply(ctx, outs)
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if l.Split() {
				for i := range got { // a hold already released by a walk that skipped its offer (ModeSplit sweeps every offer of a plan)
					got[i].Expiries, want[i].Expiries = 0, 0
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d, outcomes %+v:\n got %+v\nwant %+v", step, outs, got, want)
			}
		default:
			if len(owned) >= 2 {
				i := 2 * r.IntN(len(owned)/2)
				answer := []byte("answer " + strconv.Itoa(step))
				if err := l.StoreAnswer(ctx, owned[i], answer); err != nil {
					t.Fatal(err)
				}
				_ = ref.StoreAnswer(ctx, owned[i+1], answer)
			}
		}
		if step%25 == 24 || step == steps-1 {
			want := ref.Snapshot(now, refOfferIDs())
			got := redisSnapshot(t, c, prefix, now, refOfferIDs())
			if got.String() != want.String() {
				t.Fatalf("step %d: state differs\n--- redis\n%s\n--- reference\n%s", step, got, want)
			}
		}
	}
	t.Logf("%d steps: %d decisions recorded; final state:\n%s", steps, len(past), ref.Snapshot(now, refOfferIDs()))
}

// TestAgreesWithReference: random plans (caps, holds, records, learning
// cells, pacing, dry runs, anonymous customers), outcomes (every type,
// named or for the whole decision, occurred before they arrive) and
// Idempotency-Key claims give the same answers and the same state in the
// Redis ledger, in both modes, as in the reference ledger (memledger).
func TestAgreesWithReference(t *testing.T) {
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		for _, seed := range []uint64{0, 10, 20} {
			t.Run(fmt.Sprint("mode=", mode, ",seed=", seed), func(t *testing.T) {
				c, prefix, _ := redistest.Client(t)
				agreeWithReference(t, []*Redis{NewWithOptions(c, Options{Prefix: prefix, Mode: mode, Clock: ClockPlan, ClaimLease: refClaimLease})},
					c, prefix, seed+uint64(mode), 600)
			})
		}
	}
}

// redisSnapshot reads the Redis ledger's state at now in the reference
// ledger's form, releasing expired holds first (a read of GET /v1/budgets
// does the same).
func redisSnapshot(t *testing.T, c redis.UniversalClient, prefix string, now time.Time, offers []string) memledger.Snapshot {
	t.Helper()
	ctx := context.Background()
	l := NewWithOptions(c, Options{Prefix: prefix, Clock: ClockPlan})
	var qs []engine.BudgetQuery
	for _, o := range offers {
		qs = append(qs, engine.BudgetQuery{OfferID: o})
	}
	states, err := l.Budgets(ctx, now, qs)
	if err != nil {
		t.Fatal(err)
	}
	s := memledger.NewSnapshot()
	seen := map[string]bool{}
	for _, st := range states {
		if !seen[st.OfferID] {
			seen[st.OfferID] = true
			s.Add(s.Count, st.OfferID, st.Count)
			s.Add(s.Held, st.OfferID, st.Held)
			s.Add(s.OverCap, st.OfferID, st.OverCap)
		}
		if st.Currency != "" {
			s.Add(s.Spent, st.OfferID+"/"+st.Currency, st.Spent)
			s.Add(s.HeldAmt, st.OfferID+"/"+st.Currency, st.HeldAmount)
		}
	}
	for _, o := range offers {
		held := map[string]bool{}
		members, _ := c.ZRange(ctx, HeldKey(prefix, o), 0, -1).Result()
		for _, m := range members {
			held[strings.SplitN(m, "|", 2)[0]] = true
		}
		for _, k := range scanKeys(t, c, prefix+"rec:{"+o+"}:*") {
			recs, err := c.HGetAll(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			for ref, v := range recs {
				st := v[:1]
				if st == "H" && !held[ref] {
					st = "R" // expired
				}
				if v[1] == '1' {
					st += "+"
				}
				s.Records[o+"/"+ref] = st
			}
		}
		counts, err := l.Counts(ctx, []string{o})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range counts {
			s.Add(s.Learning, o+"/"+n.Cell+"/t/"+strconv.Itoa(n.Day), n.Trials)
			s.Add(s.Learning, o+"/"+n.Cell+"/s/"+strconv.Itoa(n.Day), n.Successes)
		}
	}
	return s
}

// scanKeys lists the keys matching pattern (on every master of a cluster).
func scanKeys(t *testing.T, c redis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, n redis.UniversalClient) error {
		iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
