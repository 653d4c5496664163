package engine

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/rules"
)

// learnRules learns by cell (vip, then at_risk) with a 1/19 prior; the
// three checkout discounts score their expected margin, the nudge its
// priority.
const learnRules = `
segments:
  - id: vip
    when: profile.ltv >= 1000
  - id: at_risk
    when: profile.orders == 1
offers:
  - id: small
    discount: {amount: 5}
    score: propensity * (cart.total * 0.35 - discount)
    group: checkout
  - id: deep
    discount: {percent: 30, max_amount: 20}
    score: propensity * (cart.total * 0.35 - discount)
    group: checkout
  - id: mid
    discount: {percent: 10}
    score: propensity * (cart.total * 0.35 - discount)
    group: checkout
    segments: [vip]
  - id: nudge
    kind: action
    priority: 0.001
    score: priority + discount
arbitration:
  learning:
    method: thompson
    by: [vip, at_risk]
    prior: {alpha: 1, beta: 19}
`

// stats is a Statistics whose counts the test sets; ok false when down.
type stats struct {
	mu     sync.Mutex
	counts map[[2]string][2]float64
	down   bool
	asked  int
}

func (s *stats) Counts(offer, cell string) (float64, float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked++
	if s.down {
		return 0, 0, false
	}
	c := s.counts[[2]string{offer, cell}]
	return c[0], c[1], true
}

func (s *stats) set(offer, cell string, trials, successes float64) {
	s.mu.Lock()
	if s.counts == nil {
		s.counts = map[[2]string][2]float64{}
	}
	s.counts[[2]string{offer, cell}] = [2]float64{trials, successes}
	s.mu.Unlock()
}

// planLedger grants everything and keeps the plans it was given.
type planLedger struct {
	mu    sync.Mutex
	plans []Plan
}

func (l *planLedger) Reserve(_ context.Context, p *Plan) ([]Result, error) {
	l.mu.Lock()
	cp := *p
	cp.Items = append([]PlanItem(nil), p.Items...)
	l.plans = append(l.plans, cp)
	l.mu.Unlock()
	return p.Walk(func(int) Result { return Granted }), nil
}

// learnReq is a request as the API makes it: with a reference (Ref, the
// key of the decision's grant records), without which nothing is recorded.
func learnReq(id string, dry bool) *Request {
	return &Request{DecisionID: id, Ref: id, CustomerID: "c-1", Placement: "checkout", Now: testNow, Explain: true, DryRun: dry,
		Cart: cart("USD", "A", "shoes", 100.0, 1)}
}

func useOf(d *Decision, offer string) *LearningUse {
	for i := range d.Learning {
		if d.Learning[i].OfferID == offer {
			return &d.Learning[i]
		}
	}
	return nil
}

func TestLearningPropensity(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	st := &stats{}
	st.set("small", "at_risk", 1000, 10) // 1%
	st.set("deep", "at_risk", 1000, 200) // 20%
	eng := New(Options{Statistics: st})
	p := profileOf(rs, "c-1", map[string]any{"orders": 1})
	ctx := context.Background()

	// A real decision draws; the same id draws the same.
	d1, _ := eng.Decide(ctx, rs, p, learnReq("dcs_A", false))
	d2, _ := eng.Decide(ctx, rs, p, learnReq("dcs_A", false))
	if d1.Cell != "at_risk" || len(d1.Learning) != 2 {
		t.Fatalf("cell %q, learning %+v", d1.Cell, d1.Learning)
	}
	u := useOf(d1, "deep")
	if u == nil || u.Alpha != 201 || u.Beta != 819 || u.Source != PropensityThompson || u.Cell != "at_risk" {
		t.Fatalf("deep: %+v", u)
	}
	if want := learning.SampleBeta(201, 819, learning.Seed("dcs_A", "deep")); u.Propensity != want {
		t.Errorf("the draw is %v, want H-seeded %v", u.Propensity, want)
	}
	if useOf(d2, "deep").Propensity != u.Propensity || actionIDs(d1) != actionIDs(d2) {
		t.Error("the same decision id drew differently")
	}
	// deep converts 20%, small 1%: deep wins the group on margin.
	if actionIDs(d1) != "deep,nudge" {
		t.Errorf("actions %q, want deep,nudge", actionIDs(d1))
	}
	if d1.Actions[0].Cell != "at_risk" || d1.Actions[1].Cell != "" {
		t.Errorf("cells of the actions: %q %q", d1.Actions[0].Cell, d1.Actions[1].Cell)
	}
	// the score is the margin at the drawn propensity, the discount after max_amount
	if want := u.Propensity * (100*0.35 - 20); math.Abs(d1.Actions[0].Score-want) > 1e-9 {
		t.Errorf("score %v, want %v", d1.Actions[0].Score, want)
	}
	// the nudge's score reads discount: 0 for an action
	if d1.Actions[1].Score != 0.001 {
		t.Errorf("nudge score %v", d1.Actions[1].Score)
	}
	// explain shows the propensity and its posterior
	for _, o := range d1.Explain.Offers {
		switch o.ID {
		case "small", "deep":
			if o.Learning == nil || o.Learning.Propensity != useOf(d1, o.ID).Propensity {
				t.Errorf("explain %s: %+v", o.ID, o.Learning)
			}
		default:
			if o.Learning != nil {
				t.Errorf("explain %s has learning", o.ID)
			}
		}
	}
	// other ids draw other values
	differ := 0
	for i := 0; i < 20; i++ {
		d, _ := eng.Decide(ctx, rs, p, learnReq("dcs_"+strconv.Itoa(i), false))
		if useOf(d, "deep").Propensity != u.Propensity {
			differ++
		}
	}
	if differ < 19 {
		t.Errorf("only %d of 20 decision ids drew another value", differ)
	}

	// A dry run uses the posterior mean.
	dry, _ := eng.Decide(ctx, rs, p, learnReq("dry_A", true))
	if u := useOf(dry, "deep"); u.Source != PropensityMean || u.Propensity != 201.0/1020 {
		t.Errorf("dry run: %+v", u)
	}
	if len(dry.Degraded) != 0 {
		t.Errorf("degraded %v", dry.Degraded)
	}

	// method: mean on a real decision
	rsMean := load(t, map[string]string{"rules.yaml": strings.Replace(learnRules, "method: thompson", "method: mean", 1)})
	dm, _ := New(Options{Statistics: st}).Decide(ctx, rsMean, p, learnReq("dcs_A", false))
	if u := useOf(dm, "small"); u.Source != PropensityMean || u.Propensity != 11.0/1020 {
		t.Errorf("mean: %+v", u)
	}
}

func TestLearningCells(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	eng := New(Options{Statistics: &stats{}})
	for _, c := range []struct {
		attrs map[string]any
		cell  string
	}{
		{map[string]any{"ltv": 5000.0, "orders": 1}, "vip"}, // both: the first of by
		{map[string]any{"orders": 1}, "at_risk"},
		{map[string]any{"orders": 4}, "all"},
	} {
		d, _ := eng.Decide(context.Background(), rs, profileOf(rs, "c-1", c.attrs), learnReq("dcs_1", false))
		if d.Cell != c.cell {
			t.Errorf("%v: cell %q, want %q", c.attrs, d.Cell, c.cell)
		}
		for _, u := range d.Learning {
			if u.Cell != c.cell {
				t.Errorf("%v: use %+v", c.attrs, u)
			}
		}
	}
	// a ruleset that does not learn has no cell and no learning
	plain := load(t, map[string]string{"rules.yaml": "offers:\n  - {id: a, kind: action, score: 1 + discount}\n"})
	d, _ := eng.Decide(context.Background(), plain, profileOf(plain, "c-1", nil), learnReq("dcs_1", false))
	if d.Cell != "" || d.Learning != nil || d.Actions[0].Cell != "" || d.Actions[0].Score != 1 {
		t.Errorf("a ruleset without learning: %+v", d)
	}
}

// Missing or stale statistics: the prior mean, degraded
// learning_unavailable, never an error; no statistics at all (offline):
// the prior mean, not degraded.
func TestLearningUnavailable(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	p := profileOf(rs, "c-1", map[string]any{"orders": 1})
	st := &stats{down: true}
	d, err := New(Options{Statistics: st}).Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Degraded) != 1 || d.Degraded[0] != DegradedLearning {
		t.Errorf("degraded %v", d.Degraded)
	}
	for _, u := range d.Learning {
		if u.Source != PropensityPrior || u.Propensity != 0.05 || u.Alpha != 1 || u.Beta != 19 {
			t.Errorf("use %+v", u)
		}
	}
	if actionIDs(d) != "small,nudge" { // equal propensities: the smaller discount has the larger margin
		t.Errorf("actions %q", actionIDs(d))
	}
	off, _ := New(Options{}).Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if len(off.Degraded) != 0 || useOf(off, "deep").Source != PropensityPrior {
		t.Errorf("offline: degraded %v, %+v", off.Degraded, off.Learning)
	}
	static, _ := New(Options{Statistics: &stats{}, Static: true}).Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if len(static.Degraded) != 0 || useOf(static, "deep").Source != PropensityPrior {
		t.Errorf("static: %v %+v", static.Degraded, static.Learning)
	}
}

// A variant with learning: false decides its customers at the prior mean;
// when two experiments disagree the first written wins.
func TestLearningVariantOff(t *testing.T) {
	files := map[string]string{
		"rules.yaml": learnRules,
		"a_exp.yaml": `
experiments:
  - id: z_static
    variants:
      - {id: off, weight: 100, learning: false}
`,
		"b_exp.yaml": `
experiments:
  - id: a_learn
    variants:
      - {id: on, weight: 100, learning: true}
`,
	}
	rs := load(t, files)
	st := &stats{}
	st.set("deep", "at_risk", 1000, 200)
	p := profileOf(rs, "c-1", map[string]any{"orders": 1})
	d, _ := New(Options{Statistics: st}).Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if len(d.Experiments) != 2 {
		t.Fatalf("experiments %v", d.Experiments)
	}
	if u := useOf(d, "deep"); u.Source != PropensityPrior || u.Propensity != 0.05 {
		t.Errorf("z_static is written first and turns learning off: %+v", u)
	}
	// written the other way round, learning wins
	files["a_exp.yaml"], files["b_exp.yaml"] = files["b_exp.yaml"], files["a_exp.yaml"]
	rs = load(t, files)
	d, _ = New(Options{Statistics: st}).Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if u := useOf(d, "deep"); u.Source != PropensityThompson {
		t.Errorf("a_learn is written first: %+v", u)
	}
	// trials are recorded whichever variant made the grant
	led := &planLedger{}
	files["a_exp.yaml"], files["b_exp.yaml"] = files["b_exp.yaml"], files["a_exp.yaml"]
	rs = load(t, files)
	_, _ = New(Options{Statistics: st, Ledger: led}).Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if len(led.plans) != 1 || !led.plans[0].Items[0].Record {
		t.Errorf("a static variant's grant is not recorded: %+v", led.plans)
	}
}

// The plan tells the ledger which grants to record and in which cell; a
// plan with only such items still goes to the ledger (one call), a dry
// run's does not, nor one of a decision without a reference (an offline
// one: there is no key to record under).
func TestLearningPlanRecords(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	led := &planLedger{}
	tr := &learning.Recent{}
	eng := New(Options{Statistics: &stats{}, Ledger: led, Trials: tr})
	p := profileOf(rs, "c-1", map[string]any{"ltv": 2000.0})
	d, _ := eng.Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if len(led.plans) != 1 {
		t.Fatalf("%d ledger calls, want 1", len(led.plans))
	}
	for _, it := range led.plans[0].Items {
		want := it.OfferID != "nudge"
		if it.Record != want || (want && it.Cell != "vip") || (!want && it.Cell != "") {
			t.Errorf("item %+v", it)
		}
	}
	shares := tr.Shares("vip", testNow)
	if len(shares) != 1 || shares[d.Actions[0].OfferID] != 1 {
		t.Errorf("trials seen %v (actions %s)", shares, actionIDs(d))
	}
	if len(d.Degraded) != 0 {
		t.Errorf("degraded %v", d.Degraded)
	}
	_, _ = eng.Decide(context.Background(), rs, p, learnReq("dry_1", true))
	if len(led.plans) != 1 {
		t.Error("a dry run went to the ledger")
	}
	offline := learnReq("dcs_offline", false)
	offline.Ref = ""
	_, _ = New(Options{Statistics: &stats{}, Ledger: led}).Decide(context.Background(), rs, p, offline)
	if len(led.plans) != 1 {
		t.Error("a decision without a reference went to the ledger")
	}
	if len(tr.Shares("vip", testNow)) != 1 {
		t.Error("a dry run counted a trial")
	}
	// without a ledger there is nothing to record in: not degraded
	d, _ = New(Options{Statistics: &stats{}}).Decide(context.Background(), rs, p, learnReq("dcs_2", false))
	if len(d.Degraded) != 0 || len(d.Actions) == 0 {
		t.Errorf("no ledger: %v %s", d.Degraded, actionIDs(d))
	}
	// a ledger that fails: the grants stand (no cap) and the trials go
	// unrecorded, which degrades nothing the decision promised
	d, _ = New(Options{Statistics: &stats{}, Ledger: failingLedger{}}).Decide(context.Background(), rs, p, learnReq("dcs_3", false))
	if len(d.Degraded) != 0 || len(d.Actions) != 2 {
		t.Errorf("failing ledger: %v %s", d.Degraded, actionIDs(d))
	}
}

func TestScoreOverride(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	var seen []string
	eng := New(Options{ScoreOverride: func(o *rules.Offer, discount float64, segs []string) (float64, bool) {
		seen = append(seen, o.ID+":"+strconv.FormatFloat(discount, 'f', -1, 64))
		return 100 - discount, o.ID != "small"
	}})
	p := profileOf(rs, "c-1", map[string]any{"orders": 1})
	d, _ := eng.Decide(context.Background(), rs, p, learnReq("dcs_1", false))
	if actionIDs(d) != "nudge,deep" || d.Actions[1].Score != 80 {
		t.Errorf("actions %q %+v", actionIDs(d), d.Actions)
	}
	if reasonOf(d, "small") != ReasonWhen {
		t.Errorf("small: %s", reasonOf(d, "small"))
	}
	if len(seen) != 3 || seen[0] != "deep:20" || seen[2] != "small:5" {
		t.Errorf("override saw %v", seen)
	}
}

// Learning on costs no allocation: the propensities the event records
// are kept in the decision itself (up to four; more take one allocation).
func TestLearningAllocations(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	p := profileOf(rs, "c-1", map[string]any{"ltv": 2000.0})
	ctx := context.Background()
	measure := func(o Options) float64 {
		eng := New(o)
		req := learnReq("dcs_1", false)
		req.Explain = false
		return testing.AllocsPerRun(200, func() {
			r := *req
			if _, err := eng.Decide(ctx, rs, p, &r); err != nil {
				t.Fatal(err)
			}
		})
	}
	// statistics under which learning chooses what static does, so that
	// the actions (and what they allocate) are the same
	st := &stats{}
	st.set("small", "vip", 1000, 300)
	static := measure(Options{Statistics: st, Static: true})
	learn := measure(Options{Statistics: st})
	if !raceEnabled && learn > static {
		t.Errorf("learning allocates %v per decision, static %v", learn, static)
	}
	t.Logf("allocations per decision: static %v, learning %v (3 offers read propensity)", static, learn)
}

// trialRecorder is a TrialObserver that remembers offer@cell.
type trialRecorder struct {
	mu     sync.Mutex
	trials []string
}

func (r *trialRecorder) Trial(offer, cell string, _ time.Time) {
	r.mu.Lock()
	r.trials = append(r.trials, offer+"@"+cell)
	r.mu.Unlock()
}

// A variant that overrides a learning offer's score with one that does not
// read `propensity` still grants the offer: each such grant is a trial,
// recorded in its cell, like any other (SPEC-LOOP: "Grants count as trials
// whichever variant made them").
func TestLearningVariantScoreOverrideStillCountsTrials(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
offers:
  - id: a
    kind: action
    priority: 5
    score: propensity * 10
arbitration:
  learning: {method: thompson}
experiments:
  - id: x
    variants:
      - id: static_score
        weight: 100
        offers:
          a: {score: priority}
`})
	led, tr := &planLedger{}, &trialRecorder{}
	d, _ := New(Options{Statistics: &stats{}, Ledger: led, Trials: tr}).Decide(context.Background(), rs, profileOf(rs, "c-1", nil), learnReq("dcs_1", false))
	if actionIDs(d) != "a" {
		t.Fatalf("actions %q", actionIDs(d))
	}
	if strings.Join(tr.trials, ",") != "a@all" {
		t.Errorf("trials %v, want a@all: the grant of a, made by a variant whose score does not read propensity, is not counted", tr.trials)
	}
	if len(led.plans) != 1 || !led.plans[0].Items[0].Record || led.plans[0].Items[0].Cell != "all" {
		t.Errorf("plans %+v: the grant is not recorded in its cell, so its outcomes would find no record", led.plans)
	}
	if d.Actions[0].Cell != "all" {
		t.Errorf("the action's cell %q, want all", d.Actions[0].Cell)
	}
}

// claimedLedger answers every plan as the ledgers answer a key claimed
// before: nothing reserved, the claim in the given state, and the plan's
// uncapped items walked as granted (what memledger and Redis return).
type claimedLedger struct{ state ClaimState }

func (l claimedLedger) Reserve(_ context.Context, p *Plan) ([]Result, error) {
	p.Claim.State = l.state
	return p.Walk(func(int) Result { return Granted }), nil
}

// A decision whose Idempotency-Key was claimed before is thrown away (the
// first is answered again, or the request refused): its grants are not
// counted in the metrics or as trials. The first decision's are.
func TestClaimedBeforeCountsNoGrant(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": learnRules})
	p := profileOf(rs, "c-1", map[string]any{"orders": 1})
	for _, tc := range []struct {
		state ClaimState
		want  bool
	}{{ClaimNew, true}, {ClaimUnknown, true}, {ClaimReplay, false}, {ClaimPending, false}, {ClaimConflict, false}} {
		obs, tr := &recorder{}, &trialRecorder{}
		req := learnReq("dcs_1", false)
		req.Claim = &Claim{Key: "k", TTL: time.Hour}
		d, _ := New(Options{Statistics: &stats{}, Ledger: claimedLedger{tc.state}, Observer: obs, Trials: tr}).Decide(context.Background(), rs, p, req)
		if len(d.Actions) == 0 {
			t.Fatalf("state %v: no action", tc.state)
		}
		if got := len(obs.granted) > 0 && len(tr.trials) > 0; got != tc.want {
			t.Errorf("claim state %v: grants counted %v, trials %v; want counted %v", tc.state, obs.granted, tr.trials, tc.want)
		}
		if !tc.want && (len(obs.granted) > 0 || len(tr.trials) > 0) {
			t.Errorf("claim state %v: a thrown-away decision counted grants %v and trials %v", tc.state, obs.granted, tr.trials)
		}
	}
}
