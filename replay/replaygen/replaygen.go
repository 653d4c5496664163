// Package replaygen records traffic for replay's tests and benchmark: it
// serves generated customers and carts with the real engine, the
// reference ledger (memledger) and learning statistics refreshed from it,
// writes each decision's event with the wire encoder of the hot path
// (wire.AppendDecisionEvent) and each outcome's as POST /v1/outcomes
// publishes it, and applies the outcomes to the ledger as the server
// does. The same options give the same events. It does no I/O: lines go
// to the function it is given.
package replaygen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// Options of Generate. Zero values take the defaults.
type Options struct {
	Decisions int           // default 1000
	Customers int           // default 2000
	Seed      uint64        // default 1
	Start     time.Time     // the first decision's time; default profilegen.DefaultRef()
	Step      time.Duration // between decisions; default 2s
	// RefreshEvery: the learning statistics are read from the ledger
	// every this many decisions (default 200), as a replica refreshes its
	// snapshot.
	RefreshEvery int
	// Convert and Dismiss are the chances that a decision with an offer
	// converts (a whole-decision order worth its cart) or dismisses its
	// first offer; Delay is how many decisions later the outcome comes.
	Convert, Dismiss float64 // default 0.08 and 0.1
	Delay            int     // default 50
	// Anonymous is the share of decisions without a customer id (default 0.05).
	Anonymous float64
	// LearningUnavailable is the share of decisions made while the
	// statistics cannot be read (Redis down, a stale snapshot): the engine
	// decides them at the prior mean and says learning_unavailable
	// (default 0; drawn from a source of its own, so that the other
	// draws stay as they are without it).
	LearningUnavailable float64
	// LedgerUnavailable is the share of decisions made while the ledger
	// does not answer (Redis down): the engine grants no capped offer and
	// says ledger_unavailable (default 0; drawn from a source of its own).
	LedgerUnavailable float64
}

func (o *Options) defaults() {
	if o.Decisions <= 0 {
		o.Decisions = 1000
	}
	if o.Customers <= 0 {
		o.Customers = 2000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Start.IsZero() {
		o.Start = profilegen.DefaultRef()
	}
	if o.Step <= 0 {
		o.Step = 2 * time.Second
	}
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = 200
	}
	if o.Convert == 0 {
		o.Convert = 0.08
	}
	if o.Dismiss == 0 {
		o.Dismiss = 0.1
	}
	if o.Delay <= 0 {
		o.Delay = 50
	}
	if o.Anonymous == 0 {
		o.Anonymous = 0.05
	}
}

// Summary is what the recorded run did.
type Summary struct {
	Decisions int
	Outcomes  int
	Grants    map[string]int64 // per offer
	Spend     map[string]int64 // per cart currency, minor units
}

type stats struct {
	snap *learning.Snapshot
	down bool // the statistics cannot be read for this decision
}

// downLedger is the ledger, which does not answer while down.
type downLedger struct {
	*memledger.Ledger
	down bool
}

func (l *downLedger) Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error) {
	if l.down {
		return nil, errors.New("replaygen: the ledger is down")
	}
	return l.Ledger.Reserve(ctx, p)
}

func (s *stats) Counts(offer, cell string) (float64, float64, bool) {
	if s.down {
		return 0, 0, false
	}
	return s.snap.Counts(offer, cell)
}

type due struct {
	at  int // decision index when it arrives
	out wire.Outcome
	ref string
	dt  time.Time
	exp []engine.Assignment
	off []string
}

// Generate records o.Decisions decisions of rs and their outcomes, calling
// emit with each event's JSON in the order a stream would hold them.
func Generate(ctx context.Context, rs *rules.Ruleset, o Options, emit func(line []byte) error) (*Summary, error) {
	o.defaults()
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	outage := rand.New(rand.NewPCG(o.Seed, 0xd0e5))
	ledOutage := rand.New(rand.NewPCG(o.Seed, 0x1ed6))
	led := memledger.NewWithOptions(memledger.Options{Now: func() time.Time { return o.Start }})
	st := &stats{snap: learning.NewSnapshot(nil, o.Start, 0)}
	dl := &downLedger{Ledger: led}
	eng := engine.New(engine.Options{Ledger: dl, Statistics: st})
	var halfLife time.Duration
	if rs.Arbitration.Learning != nil {
		halfLife = rs.Arbitration.Learning.HalfLife
	}
	people := profilegen.Generate(int64(o.Seed), o.Customers, o.Start)
	profs := make([]*engine.Profile, len(people))
	for i, m := range people {
		p, err := profiles.FromJSON(&rs.Schema, m)
		if err != nil {
			return nil, fmt.Errorf("replaygen: profile %d: %w", i, err)
		}
		profs[i] = p
	}
	var seed [32]byte
	seed[0], seed[1] = byte(o.Seed), byte(o.Seed>>8)
	entropy := rand.NewChaCha8(seed)
	sum := &Summary{Grants: map[string]int64{}, Spend: map[string]int64{}}
	var queue []due
	reward := attribution.Reward(rs)
	var buf []byte
	deliver := func(i int, now time.Time) error {
		k := 0
		for ; k < len(queue) && queue[k].at <= i; k++ {
			q := &queue[k]
			q.out.OccurredAt = now
			g := engine.GrantOutcome{Ref: q.ref, DecisionTime: q.dt, Type: q.out.Type, At: now, Now: now, Reward: reward, Named: q.out.OfferID != ""}
			for _, id := range q.off {
				if q.out.OfferID == "" || q.out.OfferID == id {
					of, _ := rs.Offer(id)
					g.Offers = append(g.Offers, engine.OutcomeOffer{ID: id, Total: of.Caps.Total})
				}
			}
			if _, err := led.Apply(ctx, []engine.GrantOutcome{g}); err != nil {
				return err
			}
			id := "out_" + ulid.MustNew(ulid.Timestamp(now), entropy).String()
			msg, err := wire.NewOutcomeEvent(&q.out, id, now, q.exp, true).Message()
			if err != nil {
				return err
			}
			sum.Outcomes++
			if err := emit(msg.JSON); err != nil {
				return err
			}
		}
		queue = queue[k:]
		return nil
	}
	for i := 0; i < o.Decisions; i++ {
		now := o.Start.Add(time.Duration(i) * o.Step)
		if i%o.RefreshEvery == 0 {
			counts, _ := led.Counts(ctx, nil)
			st.snap = learning.NewSnapshot(counts, now, halfLife)
		}
		if err := deliver(i, now); err != nil {
			return nil, err
		}
		var p *engine.Profile
		body := map[string]any{}
		if r.Float64() >= o.Anonymous {
			p = profs[r.IntN(len(profs))]
			body["customer_id"] = p.ID
		}
		fillRequest(r, body, p)
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req, err := wire.DecodeDecide(raw, rs.Arbitration.MaxActions)
		if err != nil {
			return nil, fmt.Errorf("replaygen: request %s: %w", raw, err)
		}
		id := ulid.MustNew(ulid.Timestamp(now), entropy).String()
		req.DecisionID, req.Ref, req.Now = "dcs_"+id, id, now
		if p == nil {
			p = engine.DefaultProfile(&rs.Schema, "")
		}
		st.down = o.LearningUnavailable > 0 && outage.Float64() < o.LearningUnavailable
		dl.down = o.LedgerUnavailable > 0 && ledOutage.Float64() < o.LedgerUnavailable
		d, err := eng.Decide(ctx, rs, p, req)
		if err != nil {
			return nil, err
		}
		buf = wire.AppendDecisionEvent(buf[:0], d)
		line, err := withInputs(buf, raw, now)
		if err != nil {
			return nil, err
		}
		sum.Decisions++
		if err := emit(line); err != nil {
			return nil, err
		}
		var offers []string
		for _, a := range d.Actions {
			offers = append(offers, a.OfferID)
			sum.Grants[a.OfferID]++
			if a.Discount != nil {
				sum.Spend[req.Cart.Currency] += a.Discount.Amount.Minor
			}
		}
		if len(offers) == 0 {
			continue
		}
		out := wire.Outcome{DecisionID: d.DecisionID, CustomerID: d.CustomerID}
		switch u := r.Float64(); {
		case u < o.Convert:
			out.Type, out.Value, out.Currency = wire.OutcomeConverted, d.CartTotal, req.Cart.Currency
		case u < o.Convert+o.Dismiss:
			out.Type, out.OfferID = wire.OutcomeDismissed, offers[0]
		default:
			continue
		}
		queue = append(queue, due{at: i + 1 + r.IntN(o.Delay), out: out, ref: id, dt: now, exp: d.Experiments, off: offers})
		sortQueue(queue)
	}
	if err := deliver(1<<62, o.Start.Add(time.Duration(o.Decisions)*o.Step)); err != nil {
		return nil, err
	}
	return sum, nil
}

func sortQueue(q []due) {
	for j := len(q) - 1; j > 0 && q[j].at < q[j-1].at; j-- {
		q[j], q[j-1] = q[j-1], q[j]
	}
}

// withInputs returns the event with "request" and "now" (schema 2's
// inputs) when the encoder did not write them.
func withInputs(ev, request []byte, now time.Time) ([]byte, error) {
	if bytes.Contains(ev, []byte(`"request":`)) {
		return append([]byte(nil), ev...), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev, &m); err != nil {
		return nil, err
	}
	if _, ok := m["request"]; ok {
		return append([]byte(nil), ev...), nil
	}
	m["request"] = request
	t, _ := json.Marshal(now.UTC().Format(time.RFC3339Nano))
	m["now"] = t
	return json.Marshal(m)
}

var currencies = []struct {
	code  string
	share float64
	rate  float64 // USD per unit, for prices
}{{"USD", 0.8, 1}, {"EUR", 0.12, 1.08}, {"GBP", 0.08, 1.27}}

// fillRequest writes a decide body: placement, channel, context and a
// cart leaning to the customer's favourite categories.
func fillRequest(r *rand.Rand, body map[string]any, p *engine.Profile) {
	placements := []string{"checkout", "checkout", "checkout", "cart", "cart", "product"}
	body["placement"] = placements[r.IntN(len(placements))]
	channel, device := "web", "desktop"
	switch x := r.Float64(); {
	case x < 0.35:
		channel, device = "app", "mobile"
	case x < 0.65:
		device = "mobile"
	}
	body["channel"] = channel
	ctx := map[string]any{"device": device}
	if r.IntN(10) == 0 {
		ctx["utm_source"] = "newsletter"
	}
	body["context"] = ctx
	cur := currencies[0]
	u := r.Float64()
	for _, c := range currencies {
		if u < c.share {
			cur = c
			break
		}
		u -= c.share
	}
	cats := profilegen.Categories()
	var top []string
	if p != nil {
		if l, ok := p.Value("top_categories").([]string); ok {
			top = l
		}
	}
	n := 1 + r.IntN(3)
	items := make([]any, 0, n)
	for k := 0; k < n; k++ {
		cat := cats[r.IntN(len(cats))]
		if len(top) > 0 && r.IntN(2) == 0 {
			cat = top[r.IntN(len(top))]
		}
		dollars := 8 + r.Float64()*140
		price := float64(int(dollars/cur.rate)) + 0.99
		items = append(items, map[string]any{"sku": cat + "-" + strconv.Itoa(r.IntN(50)), "category": cat,
			"price": price, "quantity": 1 + r.IntN(2)})
	}
	body["cart"] = map[string]any{"currency": cur.code, "items": items}
}
