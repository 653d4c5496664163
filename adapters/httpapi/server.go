// Package httpapi is Arbiter's HTTP API on fasthttp: POST /v1/decide
// (signed decision ids, Idempotency-Key), POST /v1/outcomes (verified
// against the ids and the ledger's grant records), GET /v1/budgets, GET
// /v1/rules, POST /v1/rules/reload, GET /v1/experiments, GET /v1/learning,
// GET /healthz, GET /readyz and GET /metrics, with API-key auth, body
// limits, the spec's error shape and graceful shutdown. docs/api.md
// describes it for callers.
//
// Requests are decoded, and decisions and events encoded, by package
// wire. Nothing of a fasthttp.RequestCtx is kept once a handler returns:
// the decoders copy what they keep, and events are encoded into bytes of
// their own.
package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/redact"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// Defaults of Options.
const (
	DefaultMaxBody = 64 << 10
	// MinOutcomesBody is the least body limit of POST /v1/outcomes (the
	// larger of it and MaxBody): it fits the largest batch, 1000 outcomes
	// with every field at its bound (684 KB, TestOutcomesBodyFitsLargestBatch).
	MinOutcomesBody        = 1 << 20
	DefaultDecisionTimeout = 50 * time.Millisecond
	DefaultCheckTimeout    = 500 * time.Millisecond
	DefaultGrantsTimeout   = 500 * time.Millisecond
	DefaultIdempotencyTTL  = time.Hour
	DefaultReadTimeout     = 10 * time.Second
	// MaxHeaderBytes bounds a request's line and headers together
	// (fasthttp's read buffer; its default): more is 431.
	MaxHeaderBytes = 4096
)

// maxUncheckedBody is the largest body a request may declare and be read
// before its route, key, method and scope are checked (headerReceived): a
// request declaring more, or chunked, is checked from its headers first,
// and one refused whatever its body is answered without reading it.
const maxUncheckedBody = 4 << 10

// Decider makes decisions; *engine.Engine is one. The server passes no
// profile: the decider looks the customer up (engine.Options.Profiles) and
// reports a profile it could not get as degraded profile_unavailable. The
// request, its strings and ctx are valid only during the call (they are
// the memory of the HTTP request, reused once it is answered): a decider
// copies what it keeps. A Decider that also has engine.Engine's
// DecideInto decides into a decision the server reuses.
type Decider interface {
	Decide(ctx context.Context, rs *rules.Ruleset, p *engine.Profile, req *engine.Request) (*engine.Decision, error)
}

// Rules holds the ruleset in force and reloads it; *rulefiles.Reloader is one.
type Rules interface {
	Current() *rulefiles.Snapshot
	LastError() *rulefiles.Failure
	Reload(trigger string) (*rulefiles.Snapshot, error)
}

// Sink receives the events of decisions and outcomes, encoded
// (*events.Publisher is one). Publish must not block; it may keep m, which
// shares no memory with the request or the (pooled) decision, and calls
// m.Release once done with it (a decision's message is then reused; one
// not released is left to the garbage collector).
type Sink interface {
	Publish(m *wire.Message)
}

// Check reports the state of a dependency for /readyz: nil when it is
// reachable.
type Check func(ctx context.Context) error

// Options configure a Server. Rules and Engine are required.
type Options struct {
	Rules  Rules
	Engine Decider
	// Sink receives decision and outcome events; nil: they are dropped.
	Sink Sink
	// Metrics; nil: a fresh set (served at /metrics).
	Metrics *metrics.Metrics
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// APIKeys and Keys: when either is not empty, every /v1/ route needs
	// "Authorization: Bearer KEY" with one of them, within its scopes
	// (403 forbidden outside them). APIKeys have every scope.
	APIKeys []string
	Keys    []APIKey
	// MaxBody bounds request bodies in bytes (413 payload_too_large);
	// default 64 KiB.
	MaxBody int
	// DecisionTimeout bounds a whole decision; default 50 ms.
	DecisionTimeout time.Duration
	// Checks are the dependencies /readyz reports, by name ("redis",
	// "nats"). Each is bounded by CheckTimeout (default 500 ms).
	Checks       map[string]Check
	CheckTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Learning is what GET /v1/learning reads; its zero value answers
	// with no snapshot and no recent trials.
	Learning LearningSources
	// Experiments gives the live experiment counters of GET
	// /v1/experiments; nil: the route shows zeros.
	Experiments ExperimentCounters
	// Profiles is the profile store GET /v1/profiles/{id} reads (the
	// store itself rather than a cache, so that a profile just imported
	// shows); nil: the route answers 404.
	Profiles engine.ProfileSource
	// LocalOnly answers only requests whose Host is a loopback name
	// (localhost, *.localhost, 127.0.0.0/8, [::1]; or none), others 403:
	// for a server without keys listening on loopback (arbiter demo),
	// which a web page could otherwise reach by making its own name
	// resolve to 127.0.0.1 (DNS rebinding).
	LocalOnly bool
	// UI is the console's assets (console.Assets()), served at /ui/ with
	// no API key, "/" redirecting there; nil: no console.
	UI fs.FS

	// DecodeDecide and DecodeOutcomes default to wire.DecodeDecide and
	// wire.DecodeOutcomes; tests replace them.
	DecodeDecide   func(body []byte, maxActions int) (*engine.Request, error)
	DecodeOutcomes func(body []byte) ([]wire.Outcome, error)

	// Checker signs nothing itself: it checks the decision ids of outcomes
	// (decisionid: made by the fleet, for this customer, within the
	// attribution window) and reads their experiment variants back; its
	// signer makes every decision id. nil: a Checker with a random key of
	// this process and the default window (outcomes of decisions made before
	// a restart are then refused as unknown).
	Checker *attribution.Checker
	// Grants is the ledger's side of outcomes, budgets and
	// Idempotency-Keys (*memledger.Ledger and *ledger.Redis are). nil:
	// outcomes are published unverified, GET /v1/budgets answers 503.
	Grants Grants
	// GrantsTimeout bounds a call to Grants from the outcome and budget
	// routes; default 500 ms. An outcome whose records the ledger could not
	// reach in time is accepted and published with "verified": false.
	GrantsTimeout time.Duration
	// ReadTimeout bounds reading a request, from its first byte; a request
	// not read in time is answered 408. Default 10 s.
	ReadTimeout time.Duration
	// IdempotencyTTL is how long an Idempotency-Key is remembered;
	// default DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
}

// Grants is the ledger's side of outcomes, budgets and Idempotency-Keys.
type Grants interface {
	Apply(ctx context.Context, outs []engine.GrantOutcome) ([]engine.OutcomeResult, error)
	Budgets(ctx context.Context, now time.Time, qs []engine.BudgetQuery) ([]engine.BudgetState, error)
	Answer(ctx context.Context, c *engine.Claim) error
	StoreAnswer(ctx context.Context, c *engine.Claim, answer []byte) error
	Release(ctx context.Context, c *engine.Claim) error
}

// Server is the HTTP API.
type Server struct {
	o       Options
	log     *slog.Logger
	metrics *metrics.Metrics
	auth    *keyring
	ids     idGen
	srv     *fasthttp.Server
	meta    atomic.Pointer[rulesetMeta]
	bufs    sync.Pool
	signer  *decisionid.Signer
	pending sync.WaitGroup // answers being stored for Idempotency-Keys
	depDown sync.Map       // dependency name → bool: down at the last /readyz
	ready   readyCache     // /readyz's last dependency checks
	// draining: shutting down; /readyz answers 503 and every answer closes
	// its connection (Drain).
	draining atomic.Bool
	ui       map[string]*uiFile // the console's assets by path; nil: none

	// The decision path's reused memory (decidestate.go): the states of
	// decisions in flight, the strings requests repeat, the events'
	// messages; pooledDecode: the server decodes with its own decoders
	// (Options.DecodeDecide not set), into: the engine decides into the
	// state's decision.
	states       sync.Pool
	interner     *wire.Interner
	msgs         wire.MessagePool
	pooledDecode bool
	into         intoDecider
}

// New returns a Server.
func New(o Options) (*Server, error) {
	if o.Rules == nil || o.Engine == nil {
		return nil, errors.New("httpapi: Options.Rules and Options.Engine are required")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.DecisionTimeout <= 0 {
		o.DecisionTimeout = DefaultDecisionTimeout
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	pooledDecode := o.DecodeDecide == nil
	if o.DecodeDecide == nil {
		o.DecodeDecide = wire.DecodeDecide
	}
	if o.DecodeOutcomes == nil {
		o.DecodeOutcomes = wire.DecodeOutcomes
	}
	if o.Checker == nil {
		signer, err := RandomSigner()
		if err != nil {
			return nil, err
		}
		o.Checker = attribution.New(signer, 0)
	}
	if o.GrantsTimeout <= 0 {
		o.GrantsTimeout = DefaultGrantsTimeout
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	s := &Server{o: o, log: o.Logger, metrics: o.Metrics, auth: newKeyring(o.APIKeys, o.Keys), signer: o.Checker.Signer()}
	if o.UI != nil {
		ui, err := loadUI(o.UI)
		if err != nil {
			return nil, err
		}
		s.ui = ui
	}
	s.pooledDecode = pooledDecode
	s.into, _ = o.Engine.(intoDecider)
	s.interner = wire.NewInterner()
	s.states.New = s.newDecideState
	s.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	s.srv = &fasthttp.Server{
		Handler:                       s.Handler(),
		ErrorHandler:                  s.errorHandler,
		HeaderReceived:                s.headerReceived,
		MaxRequestBodySize:            max(o.MaxBody, MinOutcomesBody),
		ReadTimeout:                   o.ReadTimeout,
		ReadBufferSize:                MaxHeaderBytes,
		WriteTimeout:                  10 * time.Second,
		IdleTimeout:                   90 * time.Second,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fasthttpLogger{o.Logger},
		SecureErrorLogMessage:         true, // no request bytes in its errors (redact.HTTPError also drops them)
	}
	return s, nil
}

// RandomSigner returns a decision id signer with a random key of this
// process (the embedded mode and the demo).
func RandomSigner() (*decisionid.Signer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("httpapi: no randomness for a decision key: %w", err)
	}
	return decisionid.NewSigner(key)
}

// Metrics returns the server's metrics (an engine.Observer).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Drain starts a graceful stop while the server keeps serving: /readyz
// answers 503 (load balancers stop sending new requests) and every answer
// carries "Connection: close", so that each keep-alive connection ends
// after the answer to a request its client already sent, rather than being
// closed under a request in flight by Shutdown. Call Shutdown after a
// drain period.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Shutdown stops accepting connections and waits, until ctx is done, for
// the requests in flight to finish and the answers of their
// Idempotency-Keys to be stored.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Handler returns the request handler (routing, auth, errors, panics).
func (s *Server) Handler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic serving a request", "path", string(ctx.Path()), "panic", fmt.Sprint(p),
					"stack", string(debug.Stack()))
				ctx.Response.Reset()
				s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error", "")
			}
		}()
		s.route(ctx)
		if s.draining.Load() {
			ctx.SetConnectionClose()
		}
	}
}

// errorHandler answers requests fasthttp could not read.
func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		// The limit fasthttp applied: the route's (headerReceived).
		s.tooLarge(ctx, s.readLimit(ctx.Request.Header.RequestURI()))
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// the client stopped half way through its request: slow, not malformed
		s.writeError(ctx, fasthttp.StatusRequestTimeout, wire.CodeRequestTimeout,
			fmt.Sprintf("the request was not received within %s of its first byte; send it whole", s.o.ReadTimeout), "")
		return
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		s.writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, wire.CodeInvalidRequest, fmt.Sprintf("the request's line and headers are larger than %d bytes in all: send fewer or shorter headers (cookies, tracing baggage)", MaxHeaderBytes), "")
		return
	}
	// The error's text holds the raw request (its Authorization header
	// too): only what was wrong is answered, never the request's bytes.
	s.writeError(ctx, fasthttp.StatusBadRequest, wire.CodeInvalidRequest, "malformed HTTP request: "+redact.HTTPError(err.Error()), "")
}

// headerReceived sets the body limit fasthttp reads a request's body to,
// once its headers are in: its route's (readLimit), so that a body over it
// is refused while it is read, before anything else, rather than read
// whole up to the largest route's limit by anyone, without a key.
//
// A request whose body may be larger than maxUncheckedBody (chunked, or
// a Content-Length over it) is first run through admit: one refused
// whatever its body (no or a wrong API key, a key without the route's
// scope, no such route or method, a cross-site post, a foreign Host on a
// loopback-only server) is told to fasthttp as bodiless (Content-Length
// 0, no Transfer-Encoding, no Expect: no "100 Continue" invites the body)
// and Connection: close. The handler then answers it as it would with its
// body, from its headers, and fasthttp closes the connection after that
// answer, its body unread, whatever the handler does: the body's bytes
// are never read as a request. A client without a key can then make the
// server read its headers and at most maxUncheckedBody bytes of body, not
// a route's body limit (1 MiB for POST /v1/outcomes). fasthttp has no
// hook that answers from the headers with a body of one's own: its
// ContinueHandler and ExpectHandler concern Expect: 100-continue alone and
// answer with a bare status, and a small MaxRequestBodySize makes a
// chunked request's error reach errorHandler with its headers reset.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if cl := h.ContentLength(); cl > maxUncheckedBody || cl == -1 {
		s.refuseUnread(h)
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: s.readLimit(h.RequestURI())}
}

// refuseUnread makes a request admit refuses bodiless and closing its
// connection (headerReceived). Its path is the one ctx.Path will give: the
// request target parsed, decoded and cleaned as fasthttp does.
func (s *Server) refuseUnread(h *fasthttp.RequestHeader) {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if err := u.Parse(h.Host(), h.RequestURI()); err != nil {
		return // fasthttp answers a target it cannot parse itself, before the body
	}
	if s.admit(h, u.Path()).why == admitted {
		return
	}
	h.SetContentLength(0)
	h.Del(fasthttp.HeaderExpect)
	h.SetConnectionClose()
}

// readLimit is the body limit of a request by its raw request target:
// that of POST /v1/outcomes for its path as written (its query and, in
// absolute form, its scheme and host aside), MaxBody for any other. It
// reads the raw target, before fasthttp decodes and cleans it, without
// allocating: a path to the outcomes written otherwise ("/v1//outcomes")
// gets MaxBody.
func (s *Server) readLimit(uri []byte) int {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if _, rest, ok := bytes.Cut(uri, []byte("://")); ok {
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			uri = rest[i:]
		}
	}
	if string(uri) == "/v1/outcomes" {
		return s.bodyLimit(&routeOutcomes)
	}
	return s.o.MaxBody
}

// bodyLimit is the body limit of a route: MaxBody, and for POST
// /v1/outcomes at least MinOutcomesBody.
func (s *Server) bodyLimit(r *route) int {
	if r == &routeOutcomes {
		return max(s.o.MaxBody, MinOutcomesBody)
	}
	return s.o.MaxBody
}

// tooLarge answers 413 for a body over limit bytes.
func (s *Server) tooLarge(ctx *fasthttp.RequestCtx, limit int) {
	s.writeError(ctx, fasthttp.StatusRequestEntityTooLarge, wire.CodePayloadTooLarge,
		fmt.Sprintf("the request body is larger than the limit of %d bytes (--max-body; POST /v1/outcomes takes at least %d, a batch of 1000)", limit, MinOutcomesBody), "")
}

// fasthttpLogger is fasthttp's logger: its lines go to slog as warnings,
// through redact.HTTPError, since fasthttp writes the raw bytes of a
// request it could not read (headers and keys included) into them.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn("fasthttp: " + redact.HTTPError(fmt.Sprintf(format, args...)))
}
