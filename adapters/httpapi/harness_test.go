package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/arbiterhq/arbiter/adapters/expcounters"
	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// stubRules is a rulefiles.Reloader over a fake compiler: version is what
// it compiles to, broken makes it fail with a rule error.
type stubRules struct {
	version atomic.Value // string
	broken  atomic.Bool
	*rulefiles.Reloader
}

func newStubRules(t testing.TB, version string, load bool, m *metrics.Metrics) *stubRules {
	sr := &stubRules{}
	sr.version.Store(version)
	sr.Reloader = rulefiles.New("testdata/rules", rulefiles.Options{
		Logger:   quietLog(),
		OnReload: RecordReload(m),
		Load: func() (*rules.Ruleset, error) {
			if sr.broken.Load() {
				return nil, rules.Errors{{Pos: rules.Pos{File: "offers.yaml", Line: 3, Col: 11}, Msg: "unknown name profile.lvt", Hint: "did you mean profile.ltv?"}}
			}
			return stubRuleset(sr.version.Load().(string)), nil
		},
	})
	if load {
		if _, err := sr.Reload(rulefiles.TriggerStart); err != nil {
			t.Fatal(err)
		}
	}
	return sr
}

func stubRuleset(version string) *rules.Ruleset {
	return &rules.Ruleset{
		Version:     version,
		Arbitration: rules.Arbitration{MaxActions: 3, MaxDiscountPercent: 40},
		Segments:    []*rules.Segment{{ID: "vip", Description: "High value"}},
		Offers: []*rules.Offer{
			{ID: "vip_10", Kind: rules.KindDiscount, Placements: []string{"checkout"}, Priority: 80,
				Discount: &rules.Discount{Type: rules.DiscountPercent}, Caps: rules.Caps{Total: 1000}},
			{ID: "winter", Kind: rules.KindAction, Schedule: &rules.Schedule{
				Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2000, 2, 1, 0, 0, 0, 0, time.UTC)}},
		},
		Experiments: []*rules.Experiment{{ID: "depth", Salt: "depth", Traffic: 100,
			Variants: []rules.Variant{{ID: "control", Weight: 50}, {ID: "deep", Weight: 50}}}},
	}
}

// stubEngine answers a fixed decision built from the request and records
// what it was given; hold, when set, is called before it answers.
type stubEngine struct {
	mu      sync.Mutex
	reqs    []engine.Request
	profs   []*engine.Profile
	err     error
	degrade []string
	hold    func()
	calls   atomic.Int64
}

func (e *stubEngine) Decide(ctx context.Context, rs *rules.Ruleset, p *engine.Profile, req *engine.Request) (*engine.Decision, error) {
	e.calls.Add(1)
	e.mu.Lock()
	e.reqs = append(e.reqs, cloneRequest(req)) // req is the server's memory, valid during the call
	e.profs = append(e.profs, p)
	err, degrade, hold := e.err, e.degrade, e.hold
	e.mu.Unlock()
	if hold != nil {
		hold()
	}
	if err != nil {
		return nil, err
	}
	pct := 10.0
	d := &engine.Decision{
		DecisionID: req.DecisionID, CustomerID: req.CustomerID, Ruleset: rs.Version,
		Segments: []string{"vip"},
		Actions: []engine.Action{{OfferID: "vip_10", Kind: "discount", Title: "VIP 10% off", Score: 80,
			Discount: &engine.DiscountResult{Type: "percent", Percent: &pct, Amount: engine.Money{Minor: 1250, Exp: 2},
				Currency: "USD", Items: []engine.ItemAmount{{SKU: "SHOE-1", Amount: engine.Money{Minor: 1250, Exp: 2}}}},
			Payload: map[string]any{"badge": "vip"}}},
		Experiments: []engine.Assignment{{ID: "depth", Variant: "control"}},
		Degraded:    append([]string(nil), degrade...),
		Placement:   req.Placement, Channel: req.Channel, Now: req.Now,
	}
	if req.Explain {
		d.Explain = &engine.Explain{Segments: []engine.SegmentExplain{{ID: "vip", Matched: true}},
			Offers: []engine.OfferExplain{{ID: "vip_10", Chosen: true}, {ID: "winter", Reason: engine.ReasonSchedule}}}
	}
	return d, nil
}

// cloneRequest copies req and its strings and lists: what a Decider keeps
// of a request (its memory is the server's, reused once it is answered).
func cloneRequest(req *engine.Request) engine.Request {
	c := *req
	for _, s := range []*string{&c.DecisionID, &c.CustomerID, &c.Placement, &c.Channel, &c.Cart.Currency, &c.Ref} {
		*s = strings.Clone(*s)
	}
	c.Cart.Items = append([]engine.Item(nil), req.Cart.Items...)
	for i := range c.Cart.Items {
		it := &c.Cart.Items[i]
		it.SKU, it.Category = strings.Clone(it.SKU), strings.Clone(it.Category)
		if it.Tags != nil {
			tags := make([]string, len(it.Tags))
			for j, t := range it.Tags {
				tags[j] = strings.Clone(t)
			}
			it.Tags = tags
		}
	}
	if req.Context != nil {
		c.Context = make(map[string]any, len(req.Context))
		for k, v := range req.Context {
			if s, ok := v.(string); ok {
				v = strings.Clone(s)
			}
			c.Context[strings.Clone(k)] = v
		}
	}
	return c
}

func (e *stubEngine) last() (engine.Request, *engine.Profile) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reqs[len(e.reqs)-1], e.profs[len(e.profs)-1]
}

// memSink records events.
type memSink struct {
	mu  sync.Mutex
	evs []*wire.Message
}

func (m *memSink) Publish(e *wire.Message) {
	m.mu.Lock()
	m.evs = append(m.evs, e)
	m.mu.Unlock()
}

func (m *memSink) events() []*wire.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*wire.Message(nil), m.evs...)
}

// outcome reads back an outcome event the sink received.
func outcome(t testing.TB, m *wire.Message) *wire.OutcomeEvent {
	t.Helper()
	ev, err := wire.ParseOutcome("arbiter", m.Subject("arbiter"), m.JSON, time.Time{})
	if err != nil {
		t.Fatalf("outcome event %s: %v", m.JSON, err)
	}
	return ev
}

// zeroCounters is a fleet with no experiment counted yet.
type zeroCounters struct{}

func (zeroCounters) View(_ context.Context, rs *rules.Ruleset, now time.Time) (any, error) {
	return expcounters.NewView(rs, nil, now), nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// harness is a Server behind fasthttp's in-memory listener.
type harness struct {
	t      testing.TB
	srv    *Server
	rules  *stubRules
	engine *stubEngine
	sink   *memSink
	ledger *memledger.Ledger
	client *fasthttp.Client
}

// testSigner is the harness's decision key.
func testSigner(t testing.TB) *decisionid.Signer {
	s, err := decisionid.NewSigner([]byte("harness-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decisionID is the id of a decision the harness's server made for
// customer at t, in experiment depth's variant control (as the stub
// engine answers).
func (h *harness) decisionID(customer string, t time.Time) string {
	return h.srv.signer.New(decisionid.KindDecision, ulid.MustNew(ulid.Timestamp(t), nil), customer,
		attribution.Codes([]engine.Assignment{{ID: "depth", Variant: "control"}}), false)
}

func newHarness(t testing.TB, loaded bool, mod func(*Options)) *harness {
	t.Helper()
	m := metrics.New()
	h := &harness{t: t, rules: newStubRules(t, "v1", loaded, m), engine: &stubEngine{}, sink: &memSink{}, ledger: memledger.New()}
	o := Options{Rules: h.rules, Engine: h.engine, Sink: h.sink, Logger: quietLog(), MaxBody: 4096, Metrics: m,
		Checker: attribution.New(testSigner(t), 0), Grants: h.ledger, Experiments: zeroCounters{}}
	if mod != nil {
		mod(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	// The write buffer holds a whole request, so the client hands it to the
	// in-memory pipe in one Write. With the default 4 KiB buffer a body
	// over --max-body went in two, and the server's 413 closed the pipe
	// between them: the client saw "connection closed" instead of the 413
	// a TCP client reads from its socket.
	// Paths go out as written (as curl sends them), not decoded, cleaned
	// and encoded again by the client: the tests of GET /v1/profiles/{id}
	// send ids with "%" and "/" in them.
	h.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, WriteBufferSize: 1 << 20,
		DisablePathNormalizing: true}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		// Serve may not have started yet when no request was sent (the fuzz
		// target calls the handler directly): Shutdown then has nothing to
		// stop and Serve would block for ever. Closing the listener makes
		// Serve return whenever it starts.
		_ = ln.Close()
		<-done
	})
	return h
}

type resp struct {
	status int
	body   []byte
	header map[string]string
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errCode returns the error code and field of an error response, checking
// its shape.
func (r resp) errCode(t testing.TB) (code, field string) {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func (h *harness) do(method, path, body string, headers ...string) resp {
	h.t.Helper()
	req := fasthttp.AcquireRequest()
	res := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://arbiter" + path)
	req.Header.SetMethod(method)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.SetBodyString(body)
		req.Header.SetContentType("application/json")
	}
	if err := h.client.DoTimeout(req, res, 10*time.Second); err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	r := resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...), header: map[string]string{}}
	for _, k := range []string{"Allow", "Content-Type", "WWW-Authenticate", "Idempotent-Replayed"} {
		r.header[k] = string(res.Header.Peek(k))
	}
	return r
}
