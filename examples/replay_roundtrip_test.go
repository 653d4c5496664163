package examples_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// fixedStats are learning statistics of whole counts per offer and cell,
// the same for every decision (a snapshot that does not move).
type fixedStats map[[2]string][2]float64

func (s fixedStats) Counts(offer, cell string) (float64, float64, bool) {
	c := s[[2]string{offer, cell}]
	return c[0], c[1], true
}

// eventStats are the statistics a replay reads back from one decision
// event's learning list: the counts that, with the ruleset's prior, make
// the recorded posterior.
type eventStats struct {
	prior [2]float64
	uses  []wire.EventLearning
}

func (s *eventStats) Counts(offer, cell string) (float64, float64, bool) {
	for _, u := range s.uses {
		if u.OfferID == offer && u.Cell == cell {
			succ := u.Alpha - s.prior[0]
			return succ + u.Beta - s.prior[1], succ, true
		}
	}
	return 0, 0, true
}

// TestDecisionEventsReplay: every decision of the example shop can be
// made again from its event alone. The decisions are made for generated
// customers (profilegen) with seeded carts, contexts, channels and
// placements, Thompson sampling on statistics, caps and budgets in one
// ledger; each event is encoded as the server publishes it, read back,
// and its request (decoded by the HTTP handler's decoder), profile, time
// and learning posteriors are decided again with the same ruleset and a
// ledger of its own, in recorded order: the same segments, experiments,
// actions, amounts and scores.
func TestDecisionEventsReplay(t *testing.T) {
	rs := loadCheckout(t)
	ref := profilegen.DefaultRef()
	people := profilegen.Generate(7, 300, ref)
	r := rand.New(rand.NewPCG(11, 12))

	stats := fixedStats{}
	for _, o := range rs.Offers {
		for _, cell := range []string{"vip", "at_risk", "lapsed", "new_customer", "all"} {
			trials := float64(r.IntN(400))
			stats[[2]string{o.ID, cell}] = [2]float64{trials, float64(r.IntN(int(trials)/5 + 1))}
		}
	}
	signer, err := decisionid.NewSigner([]byte("examples: a decision key of 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	orig := engine.New(engine.Options{Ledger: memledger.New(), Statistics: stats})
	again := memledger.New()
	lr := rs.Arbitration.Learning
	var prior [2]float64
	if lr != nil {
		prior = [2]float64{lr.PriorAlpha, lr.PriorBeta}
	}

	placements := []string{"checkout", "checkout", "cart", "home", "product", "account"}
	currencies := []string{"USD", "USD", "USD", "EUR", "JPY", "GBP"}
	categories := profilegen.Categories()
	granted, learnt := 0, 0
	for i := 0; i < 2000; i++ {
		now := ref.Add(time.Duration(i) * 7 * time.Minute).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		m := people[r.IntN(len(people))]
		p, err := profiles.FromJSON(&rs.Schema, m)
		if err != nil {
			t.Fatal(err)
		}
		req := &engine.Request{CustomerID: p.ID, Placement: placements[r.IntN(len(placements))], Now: now}
		if r.IntN(10) == 0 { // an anonymous visitor
			req.CustomerID, p = "", nil
		}
		if r.IntN(3) > 0 {
			req.Channel = []string{"web", "app"}[r.IntN(2)]
		}
		if r.IntN(5) > 0 {
			cur := currencies[r.IntN(len(currencies))]
			exp, _ := engine.CurrencyExp(cur)
			req.Cart.Currency = cur
			for j := 1 + r.IntN(3); j > 0; j-- {
				price := int64(500+r.IntN(30000)) * int64(pow10(exp)) / 100
				req.Cart.Items = append(req.Cart.Items, engine.Item{SKU: fmt.Sprintf("SKU-%d", r.IntN(50)),
					Category: categories[r.IntN(len(categories))], Price: price, Quantity: 1 + r.IntN(2)})
			}
		}
		if r.IntN(2) == 0 {
			req.Context = map[string]any{"device": []string{"mobile", "desktop"}[r.IntN(2)]}
			if r.IntN(3) == 0 {
				req.Context["utm_source"] = "newsletter"
			}
		}
		if r.IntN(4) == 0 {
			req.Limit = 1 + r.IntN(3)
		}
		var u ulid.ULID
		_ = u.SetTime(ulid.Timestamp(now))
		binary.BigEndian.PutUint64(u[8:], uint64(i))
		req.Ref = u.String()
		// As the server does: the signed id, made once the variants are
		// known, seeds the Thompson draws.
		req.Sign = func(exps []engine.Assignment, holdout bool) string {
			return signer.New(decisionid.KindDecision, u, req.CustomerID, attribution.Codes(exps), holdout)
		}
		d, err := orig.Decide(context.Background(), rs, p, req)
		if err != nil {
			t.Fatal(err)
		}

		// What the server publishes, read back.
		msg, _ := wire.NewDecisionMessage(nil, d)
		ev, err := wire.ParseDecisionEvent(msg.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Request == nil || ev.RequestTruncated || ev.Now.IsZero() {
			t.Fatalf("decision %d: the event records no request: %s", i, msg.JSON)
		}
		req2, err := wire.DecodeDecide(ev.Request, rs.Arbitration.MaxActions)
		if err != nil {
			t.Fatalf("decision %d: the recorded request does not decode: %v\n%s", i, err, ev.Request)
		}
		// The event alone: its id, its time; the ledger reference is the
		// id's ULID.
		req2.Now, req2.DecisionID, req2.Ref = ev.Now.Time, ev.ID, ev.ID[4:4+ulid.EncodedSize]
		p2 := replayProfile(t, &rs.Schema, ev)
		eng2 := engine.New(engine.Options{Ledger: again, Statistics: &eventStats{prior: prior, uses: ev.Learning}})
		d2, err := eng2.Decide(context.Background(), rs, p2, req2)
		if err != nil {
			t.Fatal(err)
		}
		d2.TookUS = d.TookUS
		got, want := wire.AppendDecisionEvent(nil, d2), wire.AppendDecisionEvent(nil, d)
		if string(got) != string(want) {
			t.Fatalf("decision %d decided again differs:\n got %s\nwant %s", i, got, want)
		}
		if !reflect.DeepEqual(d2.Actions, d.Actions) {
			t.Fatalf("decision %d: actions %+v, want %+v", i, d2.Actions, d.Actions)
		}
		granted += len(d.Actions)
		for _, l := range d.Learning {
			if l.Source == engine.PropensityThompson {
				learnt++
			}
		}
	}
	if granted < 1000 || learnt < 1000 {
		t.Fatalf("the traffic exercised too little: %d actions, %d Thompson draws", granted, learnt)
	}
	t.Logf("2000 decisions, %d actions, %d Thompson draws decided again identically", granted, learnt)
}

// replayProfile is the profile of a decision event: the recorded fields of
// a known customer under the schema (the others at their defaults), or the
// schema's defaults for an unknown or anonymous one.
func replayProfile(t *testing.T, schema *rules.Schema, ev *wire.DecisionEvent) *engine.Profile {
	t.Helper()
	if known, _ := ev.Profile["known"].(bool); !known {
		return engine.DefaultProfile(schema, ev.CustomerID)
	}
	m := make(map[string]any, len(ev.Profile)+1)
	for k, v := range ev.Profile {
		m[k] = v
	}
	m["id"] = ev.CustomerID
	p, err := profiles.FromJSON(schema, m)
	if err != nil {
		t.Fatalf("the recorded profile does not decode: %v\n%v", err, ev.Profile)
	}
	return p
}

func pow10(exp int8) int {
	n := 1
	for range exp {
		n *= 10
	}
	return n
}
