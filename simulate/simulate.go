// Package simulate runs the whole learning loop in one process, with no
// Redis, NATS or network: `arbiter simulate` (SPEC-LOOP "arbiter
// simulate"). Three strategies decide the same customers, requests and
// times under one ruleset: static (propensity at the prior mean), learning
// (the ruleset as written, learning from its own outcomes) and oracle
// (each offer scored by its true expected value). A truth file says how
// likely each offer is to succeed per segment and what a success is
// worth; whether offer o succeeds at decision i is the same uniform draw
// U(seed, i, o) for every strategy, so that the strategies differ only by
// what they choose. The requests are the example shop's, or another
// shop's from a traffic file (ParseTraffic); the customers are generated
// ones, or a profiles file's (LoadProfiles). Each strategy has its own
// in-memory caps ledger and statistics. A success is the decision's
// outcome of the reward type (converted when the rules do not learn): it
// reaches the strategy's ledger as the server's outcomes do, so that a
// converted one commits the decision's held grant.
package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

// Defaults of Options.
const (
	DefaultDecisions = 50000
	DefaultCustomers = 10000
	DefaultSeed      = 1
	// Step is how far the clock moves between two decisions.
	Step = 2 * time.Second
	// LastShare is the share of the run, at its end, that the "last"
	// figures are computed over.
	LastShare = 0.2
)

// Start is the time of the first decision in the example shop's traffic:
// the profile generator's reference time (a traffic file may set
// another).
func Start() time.Time { return profilegen.DefaultRef() }

// Options of a run.
type Options struct {
	Decisions int    // default DefaultDecisions
	Customers int    // the generated population's size; default DefaultCustomers
	Seed      uint64 // the customers, the requests and U; default DefaultSeed
	// Profiles are the customers (Customers is then their number); nil:
	// Customers customers of the example shop's profile generator.
	Profiles *Profiles
	// Traffic is the shop the requests come from; nil: the example
	// shop's (ExampleTraffic).
	Traffic *Traffic
}

// The strategies, in the order they are reported.
const (
	Static   = "static"
	Learning = "learning"
	Oracle   = "oracle"
)

// Strategies lists the strategies in the order they are reported.
func Strategies() []string { return []string{Static, Learning, Oracle} }

// Stats are one strategy's results. Value is realised: the sum of the
// values of the successes, each rounded to the cent. Regret is the
// oracle's expected value minus the strategy's (sums of p_true × value
// over the offers chosen), so that it is not noise. The Last figures are
// over the last 20% of the decisions.
type Stats struct {
	Decisions            int     `json:"decisions"`
	Successes            int     `json:"successes"`
	Value                float64 `json:"value"`
	ValuePerDecision     float64 `json:"value_per_decision"`
	Regret               float64 `json:"regret"`
	LastValuePerDecision float64 `json:"last_value_per_decision"`
	LastRegret           float64 `json:"last_regret"`

	valueMinor, lastMinor int64 // realised values, in cents
	lastDecisions         int
	regretRaw             float64 // Regret before rounding: the report's ratios are of it
}

// Report is the result of a run.
type Report struct {
	Strategies map[string]*Stats `json:"strategies"`
	// What was run, for the text report.
	Decisions, Customers int    `json:"-"`
	Seed                 uint64 `json:"-"`
	Delay                int    `json:"-"`
	// Notes say why offers of the truth file were never granted: what
	// the simulated traffic is, and a currency the rules cannot price
	// it in. Not part of the JSON object (the command prints them on
	// stderr with --json).
	Notes []string `json:"-"`
}

// strategy is one strategy's engine, ledger and statistics.
type strategy struct {
	name  string
	eng   *engine.Engine
	led   *memledger.Ledger
	stats *Stats
	// learning: the counts so far, the snapshot the engine reads, and the
	// successes waiting for their delay.
	counts  map[countKey]*learning.Count
	snap    *learning.Snapshot
	nextRef time.Time
	pending []pendingSuccess
}

type countKey struct {
	offer, cell string
	day         int
}

// pendingSuccess is a success waiting for its delay: the outcome of
// decision ref (made at decided) for one offer, and the learning count it
// adds to (cell: it has one).
type pendingSuccess struct {
	due     int
	ref     string
	decided time.Time
	offer   engine.OutcomeOffer
	key     countKey
	cell    bool
}

// outcomes is what a success is to the ledger: an outcome of the reward
// type, converted when the rules do not learn (what a success is worth is
// an order's value).
type outcomes struct {
	typ, reward string
}

func outcomesOf(rs *rules.Ruleset) outcomes {
	o := outcomes{reward: attribution.Reward(rs)}
	o.typ = o.reward
	if o.typ == "" {
		o.typ = engine.OutcomeConverted
	}
	return o
}

// Counts makes the strategy the learning engine's statistics.
func (s *strategy) Counts(offer, cell string) (float64, float64, bool) {
	return s.snap.Counts(offer, cell)
}

// Run simulates opts.Decisions decisions under rs for the three
// strategies, on opts.Traffic's requests (the example shop's by default)
// for opts.Profiles's customers (generated ones by default). rs must
// learn (arbitration.learning) for the learning strategy to differ from
// the static one; it runs either way.
func Run(ctx context.Context, rs *rules.Ruleset, truth *Truth, opts Options) (*Report, error) {
	if opts.Decisions <= 0 {
		opts.Decisions = DefaultDecisions
	}
	if opts.Customers <= 0 {
		opts.Customers = DefaultCustomers
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if truth == nil || truth.Value == nil {
		return nil, errors.New("simulate: no truth")
	}
	if opts.Traffic == nil {
		opts.Traffic = ExampleTraffic()
	}
	traffic := opts.Traffic
	if len(traffic.Placements) == 0 || len(traffic.Categories) == 0 {
		return nil, errors.New("simulate: the traffic has no placements or no categories")
	}
	if traffic.index == nil { // a Traffic not made here: index a copy
		tc := *traffic
		tc.indexCategories()
		traffic, opts.Traffic = &tc, &tc
	}
	pop, err := population(rs, opts)
	if err != nil {
		return nil, err
	}
	opts.Customers = len(pop)
	start := traffic.Start
	var lr rules.Learning
	if rs.Arbitration.Learning != nil {
		lr = *rs.Arbitration.Learning
	}
	if lr.Refresh <= 0 {
		lr.Refresh = rules.DefaultLearningRefresh
	}
	val := &valuer{truth: truth}
	var cur struct {
		p   *engine.Profile
		req *engine.Request
	}
	oracleScore := func(o *rules.Offer, discount float64, segments []string) (float64, bool) {
		ev := truth.P(o.ID, segments) * val.value(o, discount, cur.p, cur.req, segments)
		return ev, ev > 0
	}
	rep := &Report{Strategies: map[string]*Stats{}, Decisions: opts.Decisions, Customers: opts.Customers, Seed: opts.Seed, Delay: truth.Delay}
	outs := outcomesOf(rs)
	// The ledger keeps a decision's grant records until its outcomes have
	// come (a server keeps them for the attribution window).
	ledOpts := memledger.Options{RecordTTL: time.Duration(truth.Delay+2) * Step}
	var strats []*strategy
	for _, name := range Strategies() {
		st := &strategy{name: name, stats: &Stats{}, counts: map[countKey]*learning.Count{}, led: memledger.NewWithOptions(ledOpts)}
		o := engine.Options{Ledger: st.led}
		switch name {
		case Static:
			o.Statistics, o.Static = st, true
		case Learning:
			o.Statistics = st
		case Oracle:
			o.ScoreOverride = oracleScore
		}
		st.eng = engine.New(o)
		st.snap = learning.NewSnapshot(nil, start, lr.HalfLife)
		st.nextRef = start.Add(lr.Refresh)
		strats = append(strats, st)
		rep.Strategies[name] = st.stats
	}

	granted := map[string]bool{} // offers granted by any strategy
	r := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	lastFrom := opts.Decisions - int(math.Round(float64(opts.Decisions)*LastShare))
	evs := make([]float64, len(strats))
	for i := 0; i < opts.Decisions; i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		now := start.Add(time.Duration(i) * Step)
		p := pop[r.IntN(len(pop))]
		req := request(r, traffic, i, p)
		req.Now = now
		cur.p, cur.req = p, &req
		for k, st := range strats {
			if err := st.deliver(ctx, i, now, outs); err != nil {
				return nil, fmt.Errorf("simulate: decision %d (%s): %w", i, st.name, err)
			}
			if !now.Before(st.nextRef) {
				st.refresh(now, lr)
			}
			rq := req
			d, err := st.eng.Decide(ctx, rs, p, &rq)
			if err != nil {
				return nil, fmt.Errorf("simulate: decision %d (%s): %w", i, st.name, err)
			}
			evs[k] = st.account(rs, i, d, p, &rq, truth, val, opts.Seed, i >= lastFrom)
			for _, a := range d.Actions {
				granted[a.OfferID] = true
			}
		}
		oracle := evs[len(evs)-1]
		for k, st := range strats {
			st.stats.Regret += oracle - evs[k]
			if i >= lastFrom {
				st.stats.LastRegret += oracle - evs[k]
			}
		}
	}
	for _, st := range strats {
		s := st.stats
		s.Value = float64(s.valueMinor) / 100
		s.ValuePerDecision = round2(s.Value / float64(s.Decisions))
		if s.lastDecisions > 0 {
			s.LastValuePerDecision = round2(float64(s.lastMinor) / 100 / float64(s.lastDecisions))
		}
		s.regretRaw = s.Regret
		s.Regret, s.LastRegret = round2(s.Regret), round2(s.LastRegret)
	}
	rep.Notes = notes(rs, truth, granted, opts)
	return rep, nil
}

// notes says why offers of the truth file were never granted: the rules
// cannot price the simulated carts' currency, or the simulated traffic
// (the example shop's, or the traffic file's) never meets their
// conditions.
func notes(rs *rules.Ruleset, truth *Truth, granted map[string]bool, opts Options) []string {
	var out, never []string
	t := opts.Traffic
	if _, ok := rs.Rates[t.Currency]; rs.Currency != "" && rs.Currency != t.Currency && !ok {
		out = append(out, fmt.Sprintf("the simulated carts are in %s, and the rules (currency: %s) have no rate for %s: "+
			"offers with money numbers or a budget are never offered to them (add %s to rates)",
			t.Currency, rs.Currency, t.Currency, t.Currency))
	}
	for _, o := range truth.Offers {
		if !granted[o.ID] {
			never = append(never, o.ID)
		}
	}
	if len(never) > 0 {
		sort.Strings(never)
		carts, times := t.describe(opts.Decisions)
		whose, who := "the example shop's", "customers of its profile generator (only the fields your schema declares)"
		if t.File != "" {
			whose = "the one of " + t.File
		}
		if opts.Profiles != nil {
			who = fmt.Sprintf("the %d customers of %s", len(opts.Profiles.List), opts.Profiles.File)
		}
		msg := fmt.Sprintf("offers of the truth file never granted: %s. The simulated traffic is %s: %s, for %s, %s; "+
			"check the offers' placements, segments, schedule and when against it (arbiter decide)",
			strings.Join(never, ", "), whose, carts, who, times)
		switch {
		case t.File == "" && opts.Profiles == nil:
			msg += "; for your own shop, describe its carts in a traffic file (--traffic) and give its customers (--profiles)"
		case t.File == "":
			msg += "; for your own shop's carts, describe them in a traffic file (--traffic)"
		case opts.Profiles == nil:
			msg += "; for your own shop's customers, give them (--profiles)"
		}
		out = append(out, msg)
	}
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// account counts decision i's grants for one strategy: a trial in its
// cell at once, a success (decided by U) after the delay, to the learning
// counts and to the ledger's record of the grant; it returns the
// decision's expected value, the sum of p_true × value of its offers.
func (st *strategy) account(rs *rules.Ruleset, i int, d *engine.Decision, p *engine.Profile, req *engine.Request, truth *Truth, val *valuer, seed uint64, last bool) float64 {
	s := st.stats
	s.Decisions++
	if last {
		s.lastDecisions++
	}
	day := learning.Day(req.Now)
	ev := 0.0
	for _, a := range d.Actions {
		o, ok := rs.Offer(a.OfferID)
		if !ok {
			continue
		}
		discount := 0.0
		if a.Discount != nil {
			discount = a.Discount.Amount.Major()
		}
		pt := truth.P(a.OfferID, d.Segments)
		v := val.value(o, discount, p, req, d.Segments)
		ev += pt * v
		var key countKey
		if a.Cell != "" {
			key = countKey{a.OfferID, a.Cell, day}
			st.count(key).Trials++
		}
		if U(seed, i, a.OfferID) < pt {
			s.Successes++
			minor := int64(math.Round(v * 100))
			s.valueMinor += minor
			if last {
				s.lastMinor += minor
			}
			if rec := attribution.KeepsRecords(rs, o); a.Cell != "" || rec {
				ps := pendingSuccess{due: i + truth.Delay, key: key, cell: a.Cell != ""}
				if rec {
					ps.ref, ps.decided, ps.offer = req.Ref, req.Now, attribution.OutcomeOffer(rs, o)
				}
				st.pending = append(st.pending, ps)
			}
		}
	}
	return ev
}

func (st *strategy) count(k countKey) *learning.Count {
	c := st.counts[k]
	if c == nil {
		c = &learning.Count{Offer: k.offer, Cell: k.cell, Day: k.day}
		st.counts[k] = c
	}
	return c
}

// deliver counts the successes due at decision i, made at now: in the
// learning counts, and as outcomes of the decisions that made them in the
// ledger, which commits their holds (converted) as a server's outcomes do.
func (st *strategy) deliver(ctx context.Context, i int, now time.Time, outs outcomes) error {
	n := 0
	var gs []engine.GrantOutcome
	for _, ps := range st.pending {
		if ps.due > i {
			break // pending is in due order: every trial has the same delay
		}
		n++
		if ps.cell {
			st.count(ps.key).Successes++
		}
		if ps.ref != "" {
			gs = append(gs, engine.GrantOutcome{Ref: ps.ref, DecisionTime: ps.decided, Type: outs.typ, At: now, Now: now,
				Reward: outs.reward, Named: true, Offers: []engine.OutcomeOffer{ps.offer}})
		}
	}
	st.pending = st.pending[n:]
	if len(gs) == 0 {
		return nil
	}
	_, err := st.led.Apply(ctx, gs)
	return err
}

// refresh makes the counts so far the snapshot the engine reads, as a
// replica's refresher does every refresh period.
func (st *strategy) refresh(now time.Time, lr rules.Learning) {
	all := make([]learning.Count, 0, len(st.counts))
	for _, c := range st.counts {
		all = append(all, *c)
	}
	st.snap = learning.NewSnapshot(all, now, lr.HalfLife)
	for !now.Before(st.nextRef) {
		st.nextRef = st.nextRef.Add(lr.Refresh)
	}
}

// U is the uniform draw in [0, 1) that decides whether offer succeeds at
// decision i: H(seed + "/" + i + "/" + offer) / 2^64, H as SPEC.md
// defines it. Every strategy sees the same draw.
func U(seed uint64, i int, offer string) float64 {
	var buf [96]byte
	b := strconv.AppendUint(buf[:0], seed, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '/')
	b = append(b, offer...)
	sum := sha256.Sum256(b)
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// population is the customers: opts.Profiles, else the generated ones
// as profiles of rs's schema.
func population(rs *rules.Ruleset, opts Options) ([]*engine.Profile, error) {
	if opts.Profiles != nil {
		if len(opts.Profiles.List) == 0 {
			return nil, fmt.Errorf("simulate: %s has no profiles", opts.Profiles.File)
		}
		return opts.Profiles.List, nil
	}
	gen := profilegen.Generate(int64(opts.Seed), opts.Customers, opts.Traffic.Start)
	out := make([]*engine.Profile, 0, len(gen))
	for _, m := range gen {
		p, err := profiles.FromJSON(&rs.Schema, m)
		if err != nil {
			return nil, fmt.Errorf("simulate: the generated customer %v does not fit the rules' profile schema: %w", m["id"], err)
		}
		out = append(out, p)
	}
	return out, nil
}

// valuer evaluates the truth's value expression.
type valuer struct {
	truth *Truth
	env   exprenv.Env
	lines []exprenv.Item
}

// value is what a success of offer o with discount (major units) is worth
// in the decision of req for p; a run-time error is worth 0.
func (v *valuer) value(o *rules.Offer, discount float64, p *engine.Profile, req *engine.Request, segments []string) float64 {
	exp, ok := engine.CurrencyExp(req.Cart.Currency)
	if !ok {
		exp = 2
	}
	v.lines = v.lines[:0]
	var total int64
	count := 0
	for _, it := range req.Cart.Items {
		total += it.Price * int64(it.Quantity)
		count += it.Quantity
		v.lines = append(v.lines, exprenv.Item{SKU: it.SKU, Category: it.Category, Price: engine.Money{Minor: it.Price, Exp: exp}.Major(),
			Quantity: it.Quantity, Tags: it.Tags})
	}
	in := exprenv.Input{Now: req.Now, ProfileID: p.ID, Known: p.Known, Attrs: p.AttrMap(),
		Total: engine.Money{Minor: total, Exp: exp}.Major(), Currency: req.Cart.Currency, ItemCount: count, Items: v.lines,
		Placement: req.Placement, Channel: req.Channel, Context: req.Context}
	v.env.Begin(v.truth.layout, &in)
	defer v.env.End()
	for _, s := range segments {
		if i, ok := v.truth.segIndex[s]; ok {
			v.env.Match(i, s)
		}
	}
	v.env.SetVar(exprenv.VarPriority, o.Priority)
	v.env.SetVar(exprenv.VarDiscount, discount)
	x, err := v.env.Number(v.truth.Value)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
