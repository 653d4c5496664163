// Package replay decides recorded decisions again with a candidate
// ruleset (`arbiter replay`, SPEC-LOOP "arbiter replay"): every decision
// event of schema 2 that carries its request is decided with the candidate
// at its recorded time, with its recorded profile and learning posteriors,
// against caps, budgets and holds counted in memory from zero in recorded
// order (memledger); the recorded outcomes drive the holds and give each
// decision its reward and value. An event stored twice (a decision or an
// outcome resent after the stream's duplicate window) counts once. It
// reports what changes (answers, grants per offer, spend per currency,
// customers per segment) and the off-policy estimate of the candidate's
// reward rate and value per decision (estimate.go).
//
// It does no I/O: it reads an iterator of decoded events (DecodeEvent,
// Pipeline) and returns a Report.
package replay

import (
	"context"
	"errors"
	"iter"
	"math"
	"sort"
	"time"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// Defaults of Options.
const (
	DefaultWindow    = 7 * 24 * time.Hour // the attribution window
	DefaultDraws     = 1000               // Thompson draws per decision
	DefaultResamples = 200                // bootstrap resamples
	// MaxWeight clips the importance weights.
	MaxWeight = 100
)

// Options configure Run.
type Options struct {
	// Baseline is the ruleset that made the recorded decisions, from which
	// the recorded policy's probabilities are computed (Thompson draws,
	// experiment shares); nil: the candidate stands in for it (exact when
	// the candidate leaves the offers that read propensity and the
	// experiments as they were).
	Baseline *rules.Ruleset
	// Window is the attribution window: outcomes count for a decision up
	// to Window after it (default DefaultWindow).
	Window time.Duration
	// Draws is the number of Thompson draws that estimate the probability
	// of a recorded answer (default DefaultDraws).
	Draws int
	// Resamples is the number of bootstrap resamples (default
	// DefaultResamples); Seed seeds them.
	Resamples int
	Seed      uint64
	// Progress, when set, is called every 16384 events with the events
	// read so far.
	Progress func(events int64)
}

// side is one ruleset replayed: its engine and ledger in memory.
type side struct {
	rs     *rules.Ruleset
	eng    *engine.Engine
	led    *memledger.Ledger
	cap    capture
	stats  recordedStats
	reward string
	// thompson: the ruleset draws propensities (method thompson);
	// proportional[offer]: the offer's score is propensity × a factor that
	// does not read it.
	thompson     bool
	proportional map[string]bool
	outOffers    map[string]engine.OutcomeOffer
	variantShare map[[2]string]float64 // experiment, variant → share of the enrolled
}

func newSide(rs *rules.Ruleset) *side {
	s := &side{rs: rs, led: memledger.New(), reward: attribution.Reward(rs), proportional: map[string]bool{},
		outOffers: map[string]engine.OutcomeOffer{}, variantShare: map[[2]string]float64{}}
	if s.reward == "" {
		s.reward = engine.OutcomeConverted
	}
	s.cap.inner = s.led
	if lr := rs.Arbitration.Learning; lr != nil {
		s.thompson = lr.Method == rules.LearnThompson
		s.stats.pa, s.stats.pb = lr.PriorAlpha, lr.PriorBeta
	}
	for _, o := range rs.Offers {
		if o.ReadsPropensity && o.Score != nil {
			s.proportional[o.ID] = Proportional(o.Score.Source)
		}
		s.outOffers[o.ID] = attribution.OutcomeOffer(rs, o)
	}
	for _, x := range rs.Experiments {
		var w float64
		for _, v := range x.Variants {
			w += v.Weight
		}
		for _, v := range x.Variants {
			if w > 0 {
				s.variantShare[[2]string{x.ID, v.ID}] = v.Weight / w
			}
		}
	}
	s.eng = engine.New(engine.Options{Ledger: &s.cap, Statistics: &s.stats})
	return s
}

// offerID is the ruleset's own string of an offer id (so that pending
// decisions share it rather than hold copies).
func (s *side) offerID(id string) string {
	if o, ok := s.rs.Offer(id); ok {
		return o.ID
	}
	return id
}

// share is the probability of the assignments as: the product of each
// variant's share of its experiment (1 for an experiment the ruleset does
// not know).
func (s *side) share(as []wire.Assignment) float64 {
	p := 1.0
	for _, a := range as {
		if v, ok := s.variantShare[[2]string{a.ID, a.Variant}]; ok {
			p *= v
		}
	}
	return p
}

// capture is the ledger of a side: memledger, and a copy of the last plan
// with, for each item, whether its caps would let it be granted whatever
// its place (the Thompson probabilities walk the plan again).
type capture struct {
	inner *memledger.Ledger
	want  bool // capture the next plan
	plan  engine.Plan
	capOK []bool
	probe engine.Plan
	// down: the recorded decision was made while the ledger did not
	// answer (degraded ledger_unavailable); this one does not answer
	// either, so that the engine grants no capped offer, as production.
	down bool
}

// errLedgerDown is the answer of a side's ledger to a decision that
// production made without its ledger.
var errLedgerDown = errors.New("replay: the recorded decision was made without the ledger")

func (c *capture) Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error) {
	if cl := p.Claim; cl != nil { // replay's own claim: it makes the engine hand every plan over
		cl.State = engine.ClaimNew
		p.Claim = nil
		defer func() { p.Claim = cl }()
	}
	if c.down {
		if c.want { // no capped item could have been granted, wherever placed
			items := c.plan.Items[:0]
			c.plan = *p
			c.plan.Items = append(items, p.Items...)
			c.capOK = c.capOK[:0]
			for i := range p.Items {
				c.capOK = append(c.capOK, !p.Items[i].Capped())
			}
		}
		return nil, errLedgerDown
	}
	if c.want {
		items, probe := c.plan.Items[:0], c.probe.Items[:0]
		c.plan = *p
		c.plan.Items = append(items, p.Items...)
		c.capOK = c.capOK[:0]
		for range p.Items {
			c.capOK = append(c.capOK, true)
		}
		c.probe = *p
		c.probe.DryRun, c.probe.Limit, c.probe.Guardrail, c.probe.Ref = true, len(p.Items)+1, math.MaxInt64/2, ""
		c.probe.Items = append(probe, p.Items...)
		capped := false
		for i := range c.probe.Items {
			it := &c.probe.Items[i]
			it.Group, it.Fallback, it.Amount = "", false, 0
			capped = capped || it.Capped()
		}
		if capped {
			res, err := c.inner.Reserve(ctx, &c.probe)
			if err != nil {
				return nil, err
			}
			for i, r := range res {
				c.capOK[i] = r == engine.Granted
			}
		}
	}
	if len(p.Items) == 0 {
		return nil, nil
	}
	return c.inner.Reserve(ctx, p)
}

// recordedStats answers the engine's statistics with the posteriors the
// recorded decision used: the counts that, with the ruleset's prior, give
// the recorded alpha and beta (an offer or cell not recorded: the prior).
// A decision made while the statistics could not be read (degraded
// learning_unavailable) used the prior mean, not a draw: its statistics
// are unavailable again (ok false), so that the engine decides it at the
// prior mean as production did.
type recordedStats struct {
	uses        []wire.EventLearning
	pa, pb      float64
	missing     bool
	unavailable bool
}

func (s *recordedStats) Counts(offer, cell string) (float64, float64, bool) {
	if s.unavailable {
		return 0, 0, false
	}
	for i := range s.uses {
		if u := &s.uses[i]; u.OfferID == offer && u.Cell == cell {
			return u.Alpha + u.Beta - s.pa - s.pb, u.Alpha - s.pa, true
		}
	}
	s.missing = true
	return 0, 0, true
}

// pending is a replayed decision waiting for its outcomes: kept small,
// since every decision of the attribution window is pending.
type pending struct {
	key      uint64 // hash64 of the decision id
	at       time.Time
	ref      string   // the decision's ledger reference (shares the id's bytes)
	cand     []string // offers the candidate granted (the ruleset's own strings)
	base     []string // offers the baseline granted (separate baseline only)
	piC, piR float64
	value    float64
	reward   bool
	excluded bool // the recorded policy could not be reproduced: left out of the estimate
	outcomes bool // runner.outIDs holds the ids of its outcomes
}

// runner is one replay.
type runner struct {
	o        Options
	cand     *side
	base     *side // == cand without Options.Baseline
	rep      Report
	est      *estimator
	pend     map[uint64]*pending
	outIDs   map[uint64][]uint64 // pending decision → hash64 of its outcomes' ids
	queue    []*pending
	qhead    int
	grantsR  map[string]int64
	grantsC  map[string]int64
	spendR   map[string]int64
	spendC   map[string]int64
	segs     map[string]map[uint64]uint8 // segment → customer → 1 recorded, 2 candidate
	missing  map[string]int64
	draws    drawCache
	claim    engine.Claim
	ansBuf   []Action
	lastTime time.Time
}

// Run replays events with the candidate ruleset and reports. It fails only
// when the events fail (their error is returned with the report so far) or
// ctx is done.
func Run(ctx context.Context, candidate *rules.Ruleset, events iter.Seq2[*Event, error], o Options) (*Report, error) {
	if candidate == nil {
		return nil, errors.New("replay: no candidate ruleset")
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Draws <= 0 {
		o.Draws = DefaultDraws
	}
	if o.Resamples <= 0 {
		o.Resamples = DefaultResamples
	}
	r := &runner{o: o, cand: newSide(candidate), pend: map[uint64]*pending{}, outIDs: map[uint64][]uint64{},
		grantsR: map[string]int64{}, grantsC: map[string]int64{}, spendR: map[string]int64{}, spendC: map[string]int64{},
		segs: map[string]map[uint64]uint8{}, missing: map[string]int64{}}
	r.base = r.cand
	if o.Baseline != nil && o.Baseline != candidate {
		r.base = newSide(o.Baseline)
	}
	r.est = newEstimator(o.Resamples, o.Seed)
	r.draws.n = o.Draws
	var n int64
	var err error
	for ev, e := range events {
		if e != nil {
			err = e
			break
		}
		n++
		if o.Progress != nil && n&16383 == 0 {
			if cerr := ctx.Err(); cerr != nil {
				err = cerr
				break
			}
			o.Progress(n)
		}
		switch ev.Kind {
		case KindDecision:
			if ev.Invalid == nil && !ev.Now.IsZero() { // (the zero time would close every decision pending)
				r.expire(ev.Now)
			}
			r.decision(ctx, ev)
		case KindOutcome:
			r.outcome(ctx, ev)
		}
	}
	r.rep.Decisions.Events = n
	r.expire(time.Time{})
	r.finish()
	return &r.rep, err
}

// ref is the decision's reference for the ledger: the ULID of its id.
func ref(id string) string {
	if len(id) >= 30 && id[:4] == "dcs_" {
		return id[4:30]
	}
	return id
}

// hash64 is the FNV-1a hash of s.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// profileOf is the recorded profile of ev under rs's schema, and the
// fields rs records that the event lacks or holds in a form the schema no
// longer reads (their defaults are used).
func profileOf(rs *rules.Ruleset, ev *Event) (*engine.Profile, []string) {
	known, _ := ev.Profile["known"].(bool)
	if !known || ev.CustomerID == "" {
		return engine.DefaultProfile(&rs.Schema, ev.CustomerID), nil
	}
	var missing []string
	for _, f := range rs.RecordedFields() {
		if _, ok := ev.Profile[f.Name]; !ok {
			missing = append(missing, f.Name)
		}
	}
	m := ev.Profile // the event's own map: FromJSON reads it, and "id" is ours to add
	m["id"] = ev.CustomerID
	p, err := profiles.FromJSON(&rs.Schema, m)
	if err != nil {
		var fe profiles.FieldErrors
		if errors.As(err, &fe) {
			m = make(map[string]any, len(ev.Profile))
			for k, v := range ev.Profile {
				m[k] = v
			}
			for _, f := range fe {
				delete(m, f.Field)
				missing = append(missing, f.Field)
			}
			if p, err = profiles.FromJSON(&rs.Schema, m); err == nil {
				return p, missing
			}
		}
		return engine.DefaultProfile(&rs.Schema, ev.CustomerID), missing
	}
	return p, missing
}

// prepared is a decision's request and profile, made ready by the decode
// stage (Pipeline) for up to two rulesets, or by Run itself.
type prepared struct {
	done    bool
	req     *engine.Request
	reqErr  error
	rs      [2]*rules.Ruleset
	prof    [2]*engine.Profile
	missing [2][]string
}

// prepare decodes ev's request and builds its profile for the rulesets.
func prepare(ev *Event, rss []*rules.Ruleset) {
	pr := &ev.prep
	*pr = prepared{done: true}
	if ev.Kind != KindDecision || ev.Invalid != nil || ev.Schema < wire.Schema || ev.RequestTruncated || ev.Request == nil {
		return
	}
	pr.req, pr.reqErr = wire.DecodeDecide(ev.Request, 1<<20)
	if pr.reqErr != nil {
		return
	}
	for i, rs := range rss {
		if i < len(pr.rs) && rs != nil {
			pr.rs[i] = rs
			pr.prof[i], pr.missing[i] = profileOf(rs, ev)
		}
	}
}

// profile is ev's profile for side s (prepared, or made now), counting the
// missing fields of the candidate's.
func (r *runner) profile(s *side, ev *Event, count bool) *engine.Profile {
	pr := &ev.prep
	for i := range pr.rs {
		if pr.rs[i] == s.rs {
			if count {
				for _, f := range pr.missing[i] {
					r.missing[f]++
				}
			}
			return pr.prof[i]
		}
	}
	p, missing := profileOf(s.rs, ev)
	if count {
		for _, f := range missing {
			r.missing[f]++
		}
	}
	return p
}

// decide decides ev's request again with side s.
func (r *runner) decide(ctx context.Context, s *side, ev *Event, req *engine.Request, count bool) *engine.Decision {
	s.stats.uses, s.stats.missing = ev.Learning, false
	s.stats.unavailable = contains(ev.Degraded, engine.DegradedLearning)
	s.cap.down = contains(ev.Degraded, engine.DegradedLedger)
	s.cap.want = s.thompson && s.rs.Arbitration.Learning != nil
	r.claim = engine.Claim{}
	req.Claim = &r.claim
	d, _ := s.eng.Decide(ctx, s.rs, r.profile(s, ev, count), req)
	req.Claim = nil
	return d
}

func (r *runner) decision(ctx context.Context, ev *Event) {
	dec := &r.rep.Decisions
	dec.Read++
	switch {
	case ev.Invalid != nil:
		dec.SkippedInvalid++
		return
	case ev.Schema < wire.Schema:
		dec.SkippedSchema1++
		return
	case ev.RequestTruncated:
		dec.SkippedTruncated++
		return
	case ev.Request == nil:
		dec.SkippedNoRequest++
		return
	}
	// The same decision stored twice (resent after the stream's duplicate
	// window: docs/events.md) is one decision: deciding its copy again
	// would take caps, holds and pacing a second time and count its
	// grants and outcomes twice. Its original is pending: a resend comes
	// minutes after it, well within the attribution window.
	if _, again := r.pend[hash64(ev.ID)]; ev.ID != "" && again {
		dec.SkippedDuplicate++
		return
	}
	if !ev.prep.done {
		prepare(ev, nil)
	}
	req := ev.prep.req
	if ev.prep.reqErr != nil || req == nil {
		dec.SkippedInvalid++
		return
	}
	if req.CustomerID == "" {
		req.CustomerID = ev.CustomerID
	}
	req.DecisionID, req.Now, req.Ref, req.DryRun, req.Explain = ev.ID, ev.Now, ref(ev.ID), false, false
	dec.Replayed++
	if contains(ev.Degraded, engine.DegradedLedger) {
		dec.LedgerUnavailable++
	}
	r.lastTime = ev.Now

	cd := r.decide(ctx, r.cand, ev, req, true)
	p := &pending{key: hash64(ev.ID), at: ev.Now, ref: req.Ref}
	recorded := ev.Actions
	cand := r.ansBuf[:0]
	for _, a := range cd.Actions {
		var amt int64
		if a.Discount != nil {
			amt = a.Discount.Amount.Minor
		}
		cand = append(cand, Action{OfferID: a.OfferID, Amount: amt})
		p.cand = append(p.cand, r.cand.offerID(a.OfferID))
		r.grantsC[a.OfferID]++
		r.spendC[ev.Currency] += amt
	}
	r.ansBuf = cand
	for _, a := range recorded {
		r.grantsR[a.OfferID]++
		r.spendR[ev.Currency] += a.Amount
	}
	same := sameAnswer(recorded, cand)
	if !same {
		r.rep.Changed.Count++
	}
	cust := hash64(ev.CustomerID)
	if ev.CustomerID == "" {
		cust = hash64(ev.ID)
	}
	if equalStrings(ev.Segments, cd.Segments) {
		addSegs(r.segs, ev.Segments, cust, 3)
	} else {
		addSegs(r.segs, ev.Segments, cust, 1)
		addSegs(r.segs, cd.Segments, cust, 2)
	}

	// The candidate's probability of the recorded answer.
	candAs := make([]wire.Assignment, len(cd.Experiments))
	for i, a := range cd.Experiments {
		candAs[i] = wire.Assignment(a)
	}
	// The probabilities, of the recorded answer, under the candidate and
	// under the recorded policy. Only their ratio counts: when both sides
	// decided with the same plan and draws it is the ratio of the
	// experiment shares, and no draw is needed when that plan gave the
	// recorded answer (its probability is then positive).
	if r.base == r.cand {
		pc := 1.0
		if !same {
			pc = r.prob(r.cand, cd, ev, same)
		}
		// The candidate stands in for the recorded rules' draws, not for
		// their answer: the recorded policy gave this answer, so
		// π_recorded is never 0 here (only a --baseline that cannot give
		// it leaves a decision out). When the candidate cannot give it
		// (a deterministic change, or no draw yields it) its weight is 0
		// whatever π_recorded is: 1 stands for it, and the decision stays
		// in the recorded policy's figures, not matching.
		pr := pc
		if pr <= 0 {
			pr = 1
		}
		p.piC, p.piR = r.cand.share(candAs)*pc, r.base.share(ev.Experiments)*pr
	} else {
		bd := r.decide(ctx, r.base, ev, req, false)
		for _, a := range bd.Actions {
			p.base = append(p.base, r.base.offerID(a.OfferID))
		}
		bsame := sameAnswer(recorded, answerOf(bd, nil))
		if samePlan(r.base, r.cand, bd, cd) {
			pc := 1.0
			if !same {
				pc = r.prob(r.cand, cd, ev, same)
			}
			p.piC, p.piR = r.cand.share(candAs)*pc, r.base.share(ev.Experiments)*pc
		} else {
			p.piC = r.cand.share(candAs) * r.prob(r.cand, cd, ev, same)
			p.piR = 1 // not needed when the candidate cannot give the answer (weight 0)
			if p.piC > 0 {
				p.piR = r.base.share(ev.Experiments) * r.prob(r.base, bd, ev, bsame)
			}
		}
	}
	if p.piR <= 0 {
		p.excluded = true
	}
	r.pend[p.key] = p
	r.queue = append(r.queue, p)
}

// samePlan reports whether two sides decided with the same plan, caps and
// draws (their probabilities of any answer are then the same).
func samePlan(a, b *side, da, db *engine.Decision) bool {
	if !a.cap.want || !b.cap.want {
		return false // no plan captured: each side's answer decides (cheap)
	}
	pa, pb := &a.cap.plan, &b.cap.plan
	if len(pa.Items) != len(pb.Items) || pa.Limit != pb.Limit || pa.Guardrail != pb.Guardrail || len(da.Learning) != len(db.Learning) {
		return false
	}
	for i := range pa.Items {
		x, y := &pa.Items[i], &pb.Items[i]
		if x.OfferID != y.OfferID || x.Amount != y.Amount || x.Score != y.Score || x.Group != y.Group || x.Fallback != y.Fallback ||
			x.Capped() != y.Capped() || a.cap.capOK[i] != b.cap.capOK[i] || a.proportional[x.OfferID] != b.proportional[y.OfferID] {
			return false
		}
	}
	for i := range da.Learning {
		if da.Learning[i] != db.Learning[i] {
			return false
		}
	}
	return true
}

func answerOf(d *engine.Decision, buf []Action) []Action {
	for _, a := range d.Actions {
		var amt int64
		if a.Discount != nil {
			amt = a.Discount.Amount.Minor
		}
		buf = append(buf, Action{OfferID: a.OfferID, Amount: amt})
	}
	return buf
}

func sameAnswer(a, b []Action) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func addSegs(m map[string]map[uint64]uint8, segs []string, cust uint64, bits uint8) {
	for _, s := range segs {
		set := m[s]
		if set == nil {
			set = map[uint64]uint8{}
			m[s] = set
		}
		set[cust] |= bits
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// prob is the probability that side s, deciding as in d, gives ev's
// recorded answer: 1 or 0 for a deterministic decision (same: whether d's
// answer is the recorded one), estimated by Thompson draws from the
// recorded posteriors otherwise.
func (r *runner) prob(s *side, d *engine.Decision, ev *Event, same bool) float64 {
	if !s.thompson || !s.cap.want || len(d.Learning) == 0 {
		return b2f(same)
	}
	thompson := false
	for _, u := range d.Learning {
		if u.Source == engine.PropensityThompson {
			thompson = true
			break
		}
	}
	if !thompson {
		return b2f(same)
	}
	pr, approx := r.draws.prob(s, d, ev.Actions)
	if approx {
		r.rep.Estimate.Approximate++
	}
	return pr
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// outcome applies an outcome to the ledgers (holds) and to its decision's
// reward and value.
func (r *runner) outcome(ctx context.Context, ev *Event) {
	r.rep.Decisions.Outcomes++
	p := r.pend[hash64(ev.DecisionID)]
	if p == nil {
		r.rep.Decisions.OutcomesUnmatched++
		return
	}
	// An outcome stored twice (a retried post has the same id, and the
	// stream stores a resend after its duplicate window again) counts
	// once, as the statistics and the experiment report count it.
	if ev.ID != "" {
		k, seen := hash64(ev.ID), r.outIDs[p.key]
		if containsKey(seen, k) {
			r.rep.Decisions.OutcomesDuplicate++
			return
		}
		r.outIDs[p.key] = append(seen, k)
		p.outcomes = true
	}
	at := ev.OccurredAt
	if at.IsZero() {
		at = ev.TS
	}
	if at.IsZero() {
		at = r.lastTime
	}
	arrived := ev.TS // the server applies an outcome when it arrives, from when it occurred
	if arrived.IsZero() || arrived.Before(at) {
		arrived = at
	}
	r.apply(ctx, r.cand, p.ref, p.at, at, arrived, ev, p.cand)
	if r.base != r.cand {
		r.apply(ctx, r.base, p.ref, p.at, at, arrived, ev, p.base)
	}
	if ev.Outcome == r.base.reward {
		p.reward = true
		p.value += r.major(ev)
	}
}

// major is the outcome's value in major units of the candidate's currency
// (its rates), or of its own currency when the ruleset has none.
func (r *runner) major(ev *Event) float64 {
	v := ev.Value.Major()
	rs := r.cand.rs
	if ev.ValueCur == "" || rs.Currency == "" || ev.ValueCur == rs.Currency {
		return v
	}
	if rate, ok := rs.Rates[ev.ValueCur]; ok {
		return v * rate.Float()
	}
	r.rep.Estimate.ValuesUnconverted++
	return 0
}

func (r *runner) apply(ctx context.Context, s *side, ref string, decided, at, now time.Time, ev *Event, granted []string) {
	g := engine.GrantOutcome{Ref: ref, DecisionTime: decided, Type: ev.Outcome, At: at, Now: now, Reward: attribution.Reward(s.rs)}
	if ev.OfferID != "" {
		if !contains(granted, ev.OfferID) {
			return
		}
		g.Named = true
		g.Offers = []engine.OutcomeOffer{s.outOffers[ev.OfferID]}
	} else {
		for _, id := range granted {
			g.Offers = append(g.Offers, s.outOffers[id])
		}
	}
	if len(g.Offers) == 0 {
		return
	}
	_, _ = s.led.Apply(ctx, []engine.GrantOutcome{g})
}

func containsKey(list []uint64, k uint64) bool {
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// expire closes the decisions whose attribution window ended by now (all
// of them with the zero time): their reward is known.
func (r *runner) expire(now time.Time) {
	for r.qhead < len(r.queue) {
		p := r.queue[r.qhead]
		if !now.IsZero() && now.Sub(p.at) <= r.o.Window {
			break
		}
		r.queue[r.qhead] = nil
		r.qhead++
		delete(r.pend, p.key)
		if p.outcomes {
			delete(r.outIDs, p.key)
		}
		if p.excluded {
			r.rep.Estimate.Unexplained++
		} else {
			w := 0.0
			if p.piC > 0 {
				w = math.Min(p.piC/p.piR, MaxWeight)
			}
			r.est.add(p.key, w, p.reward, p.value)
		}
	}
	if r.qhead > 4096 && r.qhead*2 > len(r.queue) {
		r.queue = append(r.queue[:0], r.queue[r.qhead:]...)
		r.qhead = 0
	}
}

// finish fills the report from the counts.
func (r *runner) finish() {
	rep := &r.rep
	// lists, empty ones too: [] in the JSON, not null
	rep.Offers, rep.Spend, rep.Segments = []OfferRow{}, []SpendRow{}, []SegmentRow{}
	if rep.Decisions.Replayed > 0 {
		rep.Changed.Pct = 100 * float64(rep.Changed.Count) / float64(rep.Decisions.Replayed)
	}
	ids := map[string]bool{}
	for id := range r.grantsR {
		ids[id] = true
	}
	for id := range r.grantsC {
		ids[id] = true
	}
	for id := range ids {
		rep.Offers = append(rep.Offers, OfferRow{OfferID: id, Recorded: r.grantsR[id], Candidate: r.grantsC[id]})
	}
	sort.Slice(rep.Offers, func(i, j int) bool { return rep.Offers[i].OfferID < rep.Offers[j].OfferID })
	curs := map[string]bool{}
	for c := range r.spendR {
		curs[c] = true
	}
	for c := range r.spendC {
		curs[c] = true
	}
	for c := range curs {
		if c == "" {
			continue // decisions without a cart grant no money
		}
		exp, _ := engine.CurrencyExp(c)
		row := SpendRow{Currency: c, Recorded: engine.Money{Minor: r.spendR[c], Exp: exp}, Candidate: engine.Money{Minor: r.spendC[c], Exp: exp}}
		row.IncreasePct = pct(float64(row.Recorded.Minor), float64(row.Candidate.Minor))
		rep.Spend = append(rep.Spend, row)
	}
	sort.Slice(rep.Spend, func(i, j int) bool { return rep.Spend[i].Currency < rep.Spend[j].Currency })
	for s, set := range r.segs {
		row := SegmentRow{Segment: s}
		for _, b := range set {
			row.Recorded += int64(b & 1)
			row.Candidate += int64(b >> 1)
		}
		rep.Segments = append(rep.Segments, row)
	}
	sort.Slice(rep.Segments, func(i, j int) bool { return rep.Segments[i].Segment < rep.Segments[j].Segment })
	rep.Decisions.MissingProfileFields = []string{}
	for f := range r.missing {
		rep.Decisions.MissingProfileFields = append(rep.Decisions.MissingProfileFields, f)
	}
	sort.Strings(rep.Decisions.MissingProfileFields)
	r.est.fill(&rep.Estimate)
	rep.Estimate.Reward = r.base.reward
	rep.Estimate.Baseline = "recorded rules (--baseline)"
	if r.base == r.cand {
		rep.Estimate.Baseline = "candidate (no --baseline given)"
	}
	rep.spendTotals(r.cand.rs)
}

// pct is the change from a to b in percent of a (0 when both are 0, +Inf
// from 0 to more).
func pct(a, b float64) float64 {
	switch {
	case a == b:
		return 0
	case a == 0:
		return math.Inf(1)
	}
	return 100 * (b - a) / a
}
