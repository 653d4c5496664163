package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

const holdRules = `
offers:
  - id: first_1000_app
    title: $10 off
    discount: {amount: 10}
    priority: 10
    caps: {total: 2, budget: 100, hold: 30m}
  - id: newsletter
    kind: action
    priority: 1
arbitration: {max_actions: 2}
`

// engineHarness is a harness with the real engine over rules (YAML) and
// the reference ledger, on a clock the test moves.
type engineHarness struct {
	*harness
	clock *testClock
	led   Grants
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEngineHarness(t *testing.T, src string, mod func(*Options)) *engineHarness {
	t.Helper()
	rs, err := rules.Compile([]rules.File{{Path: "offers.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	led := memledger.NewWithOptions(memledger.Options{Now: clock.now})
	rl := rulefiles.New("testdata/rules", rulefiles.Options{Logger: quietLog(), Load: func() (*rules.Ruleset, error) { return rs, nil }})
	if _, err := rl.Reload(rulefiles.TriggerStart); err != nil {
		t.Fatal(err)
	}
	eh := &engineHarness{clock: clock, led: led}
	eh.harness = newHarness(t, true, func(o *Options) {
		o.Rules = rl
		o.Engine = engine.New(engine.Options{Ledger: led})
		o.Grants = led
		o.Now = clock.now
		o.MaxBody = 1 << 20
		if mod != nil {
			mod(o)
		}
	})
	return eh
}

// decide decides for customer and returns the decision's id and actions.
func (h *engineHarness) decide(t *testing.T, customer string) (string, []string) {
	t.Helper()
	r := h.do("POST", "/v1/decide", `{"customer_id": "`+customer+`", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 50, "quantity": 1}]}}`)
	if r.status != 200 {
		t.Fatalf("decide: %d %s", r.status, r.body)
	}
	var d struct {
		ID      string `json:"decision_id"`
		Actions []struct {
			OfferID string `json:"offer_id"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range d.Actions {
		ids = append(ids, a.OfferID)
	}
	return d.ID, ids
}

// budgetJSON is an offer of GET /v1/budgets as a client reads it.
type budgetJSON struct {
	Hold  string `json:"hold"`
	Count struct {
		Limit, Committed, Held, Remaining int64
	} `json:"count"`
	Amount struct {
		Limit, Committed, Held, Remaining float64
	} `json:"amount"`
	OverCapCommits int64 `json:"over_cap_commits"`
}

// budget reads first_1000_app's count and amount from GET /v1/budgets.
func (h *engineHarness) budget(t *testing.T) budgetJSON {
	t.Helper()
	r := h.do("GET", "/v1/budgets", "")
	if r.status != 200 {
		t.Fatalf("budgets: %d %s", r.status, r.body)
	}
	var v struct {
		Offers []budgetJSON `json:"offers"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Offers) != 1 {
		t.Fatalf("budgets %s", r.body)
	}
	return v.Offers[0]
}

func (h *engineHarness) post(t *testing.T, body string) resp {
	t.Helper()
	return h.do("POST", "/v1/outcomes", body)
}

// TestHoldsThroughTheAPI: a held offer through commit, release, expiry,
// a late commit over the cap and a cancel, as a checkout and an order
// system would drive it, with GET /v1/budgets after each step.
func TestHoldsThroughTheAPI(t *testing.T) {
	h := newEngineHarness(t, holdRules, nil)
	type want struct{ committed, held, over int64 }
	check := func(step string, w want) {
		t.Helper()
		b := h.budget(t)
		if b.Count.Committed != w.committed || b.Count.Held != w.held || b.OverCapCommits != w.over ||
			b.Amount.Committed != 10*float64(w.committed) || b.Amount.Held != 10*float64(w.held) || b.Hold != "30m" ||
			b.Count.Remaining != max(0, 2-w.committed-w.held) || b.Amount.Limit != 100 {
			t.Fatalf("%s: %+v (over %d), want %+v", step, b, b.OverCapCommits, w)
		}
	}
	a, acts := h.decide(t, "c-1")
	b, _ := h.decide(t, "c-2")
	if len(acts) != 2 || acts[0] != "first_1000_app" {
		t.Fatalf("actions %v", acts)
	}
	check("two held", want{0, 2, 0})
	if _, acts := h.decide(t, "c-3"); len(acts) != 1 || acts[0] != "newsletter" {
		t.Fatalf("a third grant while two are held: %v", acts)
	}
	// An order for the whole decision commits its hold.
	if r := h.post(t, `{"decision_id": "`+a+`", "customer_id": "c-1", "type": "converted", "value": 40, "currency": "USD"}`); r.status != 202 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	check("a committed", want{1, 1, 0})
	// Dismissed: released; the unit goes to the next customer.
	if r := h.post(t, `{"decision_id": "`+b+`", "customer_id": "c-2", "offer_id": "first_1000_app", "type": "dismissed"}`); r.status != 202 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	check("b released", want{1, 0, 0})
	c, _ := h.decide(t, "c-4")
	check("c held", want{1, 1, 0})
	h.clock.add(31 * time.Minute)
	check("c expired", want{1, 0, 0})
	d, _ := h.decide(t, "c-5")
	// c's order comes late: it commits anyway, over the cap.
	if r := h.post(t, `{"decision_id": "`+c+`", "customer_id": "c-4", "offer_id": "first_1000_app", "type": "converted"}`); r.status != 202 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	check("c committed late", want{2, 1, 1})
	// a's order is returned: its unit comes back, for good.
	for k := 0; k < 2; k++ {
		if r := h.post(t, `{"decision_id": "`+a+`", "customer_id": "c-1", "type": "cancelled", "id": "return-1"}`); r.status != 202 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	check("a cancelled", want{1, 1, 1})
	// An offer the decision did not grant: refused.
	r := h.post(t, `{"decision_id": "`+d+`", "customer_id": "c-6", "offer_id": "first_1000_app", "type": "converted"}`)
	if code, field := r.errCode(t); r.status != 422 || code != wire.CodeCustomerMismatch || field != "customer_id" {
		t.Errorf("another customer: %d %s", r.status, r.body)
	}
	e, acts := h.decide(t, "c-7")
	if len(acts) != 1 || acts[0] != "newsletter" {
		t.Fatalf("actions %v", acts)
	}
	r = h.post(t, `{"decision_id": "`+e+`", "customer_id": "c-7", "offer_id": "first_1000_app", "type": "converted"}`)
	if code, field := r.errCode(t); r.status != 422 || code != wire.CodeUnknownOffer || field != "offer_id" {
		t.Errorf("an offer not granted: %d %s", r.status, r.body)
	}
	// The two cancels carried one id: one event.
	ids := map[string]bool{}
	for _, m := range h.sink.events() {
		if ev, err := wire.ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, time.Time{}); err == nil && ev.CallerID == "return-1" {
			ids[ev.ID] = true
		}
	}
	if len(ids) != 1 {
		t.Errorf("a retried post with an id: %d event ids", len(ids))
	}
}

// TestOutcomeRefusals: outcomes of decisions the fleet did not make, of
// another customer, of a dry run, past the attribution window, are refused
// one by one in a batch (202 with the refusals), and a batch of refusals
// only is 422.
func TestOutcomeRefusals(t *testing.T) {
	h := newEngineHarness(t, holdRules, func(o *Options) {})
	good, _ := h.decide(t, "c-1")
	r := h.do("POST", "/v1/decide", `{"customer_id": "c-1", "dry_run": true}`)
	dry := r.json(t)["decision_id"].(string)
	if !strings.HasPrefix(dry, "dry_") {
		t.Fatalf("dry run id %s", dry)
	}
	forged := "dcs_" + good[4:len(good)-21] + "0000000000000000000ZZ"
	batch := `{"outcomes": [
	  {"decision_id": "` + good + `", "customer_id": "c-1", "type": "accepted"},
	  {"decision_id": "` + forged + `", "customer_id": "c-1", "type": "converted"},
	  {"decision_id": "` + good + `", "customer_id": "c-2", "type": "converted"},
	  {"decision_id": "` + dry + `", "customer_id": "c-1", "type": "converted"},
	  {"decision_id": "not-an-id", "type": "converted"}]}`
	r = h.post(t, batch)
	want := `{"accepted":1,"refused":[{"index":1,"code":"unknown_decision","field":"outcomes[1].decision_id"},` +
		`{"index":2,"code":"customer_mismatch","field":"outcomes[2].customer_id"},` +
		`{"index":3,"code":"unknown_decision","field":"outcomes[3].decision_id"},` +
		`{"index":4,"code":"unknown_decision","field":"outcomes[4].decision_id"}]}`
	if r.status != 202 || string(r.body) != want {
		t.Fatalf("%d %s\nwant %s", r.status, r.body, want)
	}
	r = h.post(t, `{"outcomes": [{"decision_id": "`+forged+`", "type": "converted"}]}`)
	if code, field := r.errCode(t); r.status != 422 || code != "unknown_decision" || field != "outcomes[0].decision_id" {
		t.Errorf("all refused: %d %s", r.status, r.body)
	}
	// Past the window (7 days) from its arrival, but occurred within it.
	h.clock.add(8 * 24 * time.Hour)
	r = h.post(t, `{"decision_id": "`+good+`", "customer_id": "c-1", "type": "converted"}`)
	if code, field := r.errCode(t); r.status != 422 || code != "decision_expired" || field != "decision_id" {
		t.Errorf("expired: %d %s", r.status, r.body)
	}
	occurred := h.clock.now().Add(-7*24*time.Hour + time.Minute).Format(time.RFC3339)
	if r = h.post(t, `{"decision_id": "`+good+`", "customer_id": "c-1", "type": "converted", "occurred_at": "`+occurred+`"}`); r.status != 202 {
		t.Errorf("occurred within the window: %d %s", r.status, r.body)
	}
	future := h.clock.now().Add(time.Hour).Format(time.RFC3339)
	r = h.post(t, `{"decision_id": "`+good+`", "customer_id": "c-1", "type": "converted", "occurred_at": "`+future+`"}`)
	if code, field := r.errCode(t); r.status != 400 || code != "invalid_request" || field != "occurred_at" {
		t.Errorf("occurred in the future: %d %s", r.status, r.body)
	}
	body := string(h.do("GET", "/metrics", "").body)
	for _, w := range []string{`arbiter_outcomes_refused_total{code="unknown_decision",source="api"} 4`,
		`arbiter_outcomes_refused_total{code="customer_mismatch",source="api"} 1`, `arbiter_commits_refused_total 6`} {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

// failingGrants is a ledger that cannot be reached.
type failingGrants struct{ Grants }

func (failingGrants) Apply(context.Context, []engine.GrantOutcome) ([]engine.OutcomeResult, error) {
	return nil, errors.New("redis: connection refused")
}

// TestOutcomesUnverifiedWhenLedgerDown: with the ledger unreachable, an
// outcome that would move a grant record is accepted and published with
// "verified": false (its signature checked) and no seal; one that moves
// none is verified, and sealed with the fleet's key (the feedback consumer
// trusts "verified" only with a seal).
func TestOutcomesUnverifiedWhenLedgerDown(t *testing.T) {
	h := newEngineHarness(t, holdRules, nil)
	id, _ := h.decide(t, "c-1")
	h.srv.o.Grants = failingGrants{h.led}
	r := h.post(t, `{"outcomes": [{"decision_id": "`+id+`", "customer_id": "c-1", "offer_id": "first_1000_app", "type": "converted"},
	  {"decision_id": "`+id+`", "customer_id": "c-1", "offer_id": "newsletter", "type": "converted"}]}`)
	if r.status != 202 || string(r.body) != `{"accepted":2,"refused":[]}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var verified, sealed []bool
	for _, m := range h.sink.events() {
		if ev, err := wire.ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, time.Time{}); err == nil {
			verified = append(verified, ev.Verified)
			sealed = append(sealed, ev.Seal != "" && h.srv.o.Checker.Signer().CheckSeal(ev.SealMessage(), ev.Seal))
		}
	}
	if len(verified) != 2 || verified[0] || !verified[1] {
		t.Errorf("verified %v, want [false true]", verified)
	}
	if len(sealed) != 2 || sealed[0] || !sealed[1] {
		t.Errorf("sealed %v, want [false true]: the verified one only", sealed)
	}
}

// blockingLedger holds the first Reserve until release is closed.
type blockingLedger struct {
	*memledger.Ledger
	first   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *blockingLedger) Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error) {
	res, err := b.Ledger.Reserve(ctx, p)
	if b.first.CompareAndSwap(false, true) {
		close(b.entered)
		<-b.release
	}
	return res, err
}

// TestIdempotencyKey: a retried decide with the same key and body is
// answered the first answer, byte for byte, consuming and publishing
// nothing; another body is 409; a retry while the first is being decided
// waits for it; another API key's same key is another request; a bad key
// is 400.
func TestIdempotencyKey(t *testing.T) {
	var h *engineHarness
	clock := func() time.Time { return h.clock.now() }
	led := &blockingLedger{Ledger: memledger.NewWithOptions(memledger.Options{Now: clock}), entered: make(chan struct{}), release: make(chan struct{})}
	close(led.release)
	h = newEngineHarness(t, holdRules, func(o *Options) {
		o.Engine = engine.New(engine.Options{Ledger: led})
		o.Grants = led
		o.APIKeys = []string{"key-a", "key-b"}
	})
	body := `{"customer_id": "c-1", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 50, "quantity": 1}]}}`
	a := func(key string) []string { return []string{"Authorization", "Bearer key-a", "Idempotency-Key", key} }
	first := h.do("POST", "/v1/decide", body, a("order-1")...)
	h.srv.pending.Wait() // the answer is stored off the request's path
	again := h.do("POST", "/v1/decide", body, a("order-1")...)
	if first.status != 200 || again.status != 200 || string(again.body) != string(first.body) || again.header["Idempotent-Replayed"] != "true" {
		t.Fatalf("replay: %d %s\n%d %s %v", first.status, first.body, again.status, again.body, again.header)
	}
	if n := led.Total("first_1000_app"); n != 1 {
		t.Errorf("%d units counted for one key", n)
	}
	if n := len(h.sink.events()); n != 1 {
		t.Errorf("%d events for one key", n)
	}
	other := h.do("POST", "/v1/decide", strings.Replace(body, "c-1", "c-2", 1), a("order-1")...)
	if code, _ := other.errCode(t); other.status != 409 || code != "conflict" {
		t.Errorf("another body: %d %s", other.status, other.body)
	}
	b := h.do("POST", "/v1/decide", body, "Authorization", "Bearer key-b", "Idempotency-Key", "order-1")
	if b.status != 200 || b.header["Idempotent-Replayed"] != "" {
		t.Errorf("another API key's key: %d %v", b.status, b.header)
	}
	bad := h.do("POST", "/v1/decide", body, a(strings.Repeat("x", 129))...)
	if code, field := bad.errCode(t); bad.status != 400 || code != "invalid_request" || field != "Idempotency-Key" {
		t.Errorf("a long key: %d %s", bad.status, bad.body)
	}
	// In flight: the second waits for the first and replays its answer.
	led.first.Store(false)
	led.release = make(chan struct{})
	led.entered = make(chan struct{})
	got := make(chan resp, 1)
	go func() { got <- h.do("POST", "/v1/decide", body, a("order-2")...) }()
	<-led.entered
	second := make(chan resp, 1)
	go func() { second <- h.do("POST", "/v1/decide", body, a("order-2")...) }()
	close(led.release)
	r1, r2 := <-got, <-second
	if r1.status != 200 || r2.status != 200 || string(r1.body) != string(r2.body) || r2.header["Idempotent-Replayed"] != "true" {
		t.Errorf("in flight: %d %s / %d %s %v", r1.status, r1.body, r2.status, r2.body, r2.header)
	}
}

// TestIdempotencyUnavailable: with the ledger unreachable, a request with
// a key is decided without the guarantee, and says so.
func TestIdempotencyUnavailable(t *testing.T) {
	h := newEngineHarness(t, holdRules, func(o *Options) {
		o.Engine = engine.New(engine.Options{Ledger: failingLedger{}})
	})
	r := h.do("POST", "/v1/decide", `{"customer_id": "c-1"}`, "Idempotency-Key", "k")
	deg, _ := r.json(t)["degraded"].([]any)
	if r.status != 200 || len(deg) != 1 || deg[0] != engine.DegradedIdempotency {
		t.Errorf("%d %s", r.status, r.body)
	}
}

type failingLedger struct{}

func (failingLedger) Reserve(context.Context, *engine.Plan) ([]engine.Result, error) {
	return nil, errors.New("redis: connection refused")
}

// TestOutcomesBodyFitsLargestBatch: the largest batch (1000 outcomes,
// every field at its bound) fits the body limit of POST /v1/outcomes with
// the default --max-body, which still bounds POST /v1/decide.
func TestOutcomesBodyFitsLargestBatch(t *testing.T) {
	h := newHarness(t, true, func(o *Options) { o.MaxBody = DefaultMaxBody })
	long := strings.Repeat("x", wire.MaxIDLength)
	one := `{"decision_id":"` + long + `","customer_id":"` + long + `","offer_id":"` + long + `","id":"` + long +
		`","type":"converted","value":9007199254740.991,"currency":"BHD","occurred_at":"2026-11-27T10:00:00.123456789+01:00"}`
	body := `{"outcomes":[` + strings.Repeat(one+",", wire.MaxOutcomes-1) + one + `]}`
	if len(body) > MinOutcomesBody {
		t.Fatalf("the largest batch is %d bytes, over the limit of %d", len(body), MinOutcomesBody)
	}
	t.Logf("the largest batch: %d bytes; the limit: %d", len(body), MinOutcomesBody)
	if r := h.do("POST", "/v1/outcomes", body); r.status != 422 {
		t.Errorf("the largest batch: %d %.200s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/decide", `{"customer_id":"`+strings.Repeat("x", DefaultMaxBody)+`"}`); r.status != 413 {
		t.Errorf("a decide body over --max-body: %d", r.status)
	}
}

// An outcome whose occurred_at is before its decision names a genuine
// decision: the field at fault is occurred_at (a time-zone slip in the
// order system, most often), not decision_id. One that occurred within
// the window but arrives after the decision's grant records are gone is
// accepted, not refused as an offer the decision did not grant.
func TestOutcomeTimesAtTheEdges(t *testing.T) {
	h := newEngineHarness(t, holdRules, nil)
	id, acts := h.decide(t, "c-1")
	if len(acts) == 0 || acts[0] != "first_1000_app" {
		t.Fatalf("actions %v", acts)
	}
	h.clock.add(10 * time.Minute)
	before := h.clock.now().Add(-2 * time.Hour).Format(time.RFC3339)
	r := h.post(t, `{"decision_id": "`+id+`", "customer_id": "c-1", "type": "converted", "occurred_at": "`+before+`"}`)
	if code, field := r.errCode(t); r.status != 422 || code != "occurred_before_decision" || field != "occurred_at" {
		t.Errorf("occurred 2 h before its decision: %d %s, want 422 occurred_before_decision on occurred_at", r.status, r.body)
	}
	forged := "dcs_" + id[4:len(id)-21] + "0000000000000000000ZZ"
	r = h.post(t, `{"decision_id": "`+forged+`", "customer_id": "c-1", "type": "converted", "occurred_at": "`+before+`"}`)
	if code, field := r.errCode(t); r.status != 422 || code != "unknown_decision" || field != "decision_id" {
		t.Errorf("a forged id, occurred before: %d %s, want unknown_decision", r.status, r.body)
	}
	h.clock.add(7*24*time.Hour + 3*time.Hour)
	occurred := h.clock.now().Add(-4 * time.Hour).Format(time.RFC3339) // within the window of the decision
	r = h.post(t, `{"decision_id": "`+id+`", "customer_id": "c-1", "offer_id": "first_1000_app", "type": "converted", "occurred_at": "`+occurred+`"}`)
	if r.status != 202 {
		t.Errorf("an order that occurred within the window, posted after it: %d %s, want 202 (the decision did grant the offer)", r.status, r.body)
	}
	if body := string(h.do("GET", "/metrics", "").body); !strings.Contains(body, `arbiter_outcomes_refused_total{code="occurred_before_decision",source="api"} 1`) {
		t.Errorf("metrics do not count the refusal by its code")
	}
}

// TestOutcomeOfALostGrantRecord: an order naming a held offer of a
// decision within the window whose grant record is gone (Redis lost its
// data; here: a ledger that never saw the decision) cannot be told from
// one naming an offer the decision did not grant: it is refused,
// unknown_offer, but the answer does not claim the decision did not grant
// it, and says how to post the order anyway (for the whole decision).
func TestOutcomeOfALostGrantRecord(t *testing.T) {
	h := newEngineHarness(t, holdRules, nil)
	id, acts := h.decide(t, "c-1")
	if len(acts) == 0 || acts[0] != "first_1000_app" {
		t.Fatalf("actions %v", acts)
	}
	h.srv.o.Grants = memledger.New() // the records are gone
	r := h.post(t, `{"decision_id": "`+id+`", "customer_id": "c-1", "offer_id": "first_1000_app", "type": "converted"}`)
	if code, field := r.errCode(t); r.status != 422 || code != wire.CodeUnknownOffer || field != "offer_id" {
		t.Fatalf("%d %s, want 422 unknown_offer", r.status, r.body)
	}
	msg, _ := r.json(t)["error"].(map[string]any)["message"].(string)
	for _, want := range []string{"no record", "leave offer_id out"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "did not grant this offer:") {
		t.Errorf("message %q says the decision did not grant the offer: Arbiter cannot know", msg)
	}
	r = h.post(t, `{"decision_id": "`+id+`", "customer_id": "c-1", "type": "converted"}`)
	if r.status != 202 {
		t.Errorf("the same order for the whole decision: %d %s, want 202", r.status, r.body)
	}
}
