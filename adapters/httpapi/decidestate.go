package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// intoDecider is a Decider that decides into a decision the server owns
// and reuses (*engine.Engine): the decision path then allocates nothing.
type intoDecider interface {
	DecideInto(ctx context.Context, rs *rules.Ruleset, p *engine.Profile, req *engine.Request, d *engine.Decision) error
}

// decideState is the memory of one decision on the HTTP path, reused from
// one request to the next (Server.states): the decoder and its request,
// the decision, its context, its id. Everything in it, and every string
// that points into it (the request's, the decision id, the reference), is
// valid until the handler returns: what outlives the request is copied
// (the event into its message, the Idempotency-Key's answer; the ledger
// and the profile cache copy what they keep).
type decideState struct {
	s     *Server
	dec   wire.RequestDecoder
	req   *engine.Request // being decided
	d     engine.Decision
	dctx  decisionCtx
	kind  string
	id    ulid.ULID
	codes []uint32
	idBuf []byte
	ref   [ulid.EncodedSize]byte
	// sign is st.signID as a func value, made once: req.Sign costs no
	// closure per decision.
	sign func(exps []engine.Assignment, holdout bool) string
}

func (s *Server) newDecideState() any {
	st := &decideState{s: s, idBuf: make([]byte, 0, decisionid.MaxLength)}
	st.dec.Interner = s.interner
	st.sign = st.signID
	return st
}

// signID makes the decision's id (Request.Sign) into the state's memory.
func (st *decideState) signID(exps []engine.Assignment, holdout bool) string {
	st.codes = st.codes[:0]
	for _, a := range exps {
		st.codes = append(st.codes, decisionid.VariantCode(a.ID, a.Variant))
	}
	st.idBuf = st.s.signer.AppendNew(st.idBuf[:0], st.kind, st.id, st.req.CustomerID, st.codes, holdout)
	return unsafe.String(unsafe.SliceData(st.idBuf), len(st.idBuf))
}

// refOf is id's text (the decision's ledger reference) in the state's
// memory.
func (st *decideState) refOf(id ulid.ULID) string {
	_ = id.MarshalTextTo(st.ref[:])
	return unsafe.String(&st.ref[0], len(st.ref))
}

// decisionCtx is the context of one decision: a deadline, without the
// timer and the context that context.WithTimeout would make for every
// decision. Most decisions wait for nothing (a cached profile, no capped
// offer, the in-memory ledger); Done makes the real context, timer and
// all, only for one that does (a ledger or profile round trip), and Value
// then answers for it, so that contexts derived from this one hang on it
// as on any cancelable context. It is reused: end must be called once
// nothing uses it any more (the handler's end).
type decisionCtx struct {
	deadline time.Time
	mu       sync.Mutex
	inner    atomic.Pointer[innerCtx]
}

type innerCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// begin readies c for a decision ending at deadline.
func (c *decisionCtx) begin(deadline time.Time) { c.deadline = deadline }

// end stops the real context's timer, if one was made.
func (c *decisionCtx) end() {
	if in := c.inner.Swap(nil); in != nil {
		in.cancel()
	}
}

func (c *decisionCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *decisionCtx) Done() <-chan struct{} { return c.real().Done() }

func (c *decisionCtx) Err() error {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Err()
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *decisionCtx) Value(key any) any {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Value(key)
	}
	return nil
}

// real returns the context with c's deadline, making it on first use.
func (c *decisionCtx) real() context.Context {
	if in := c.inner.Load(); in != nil {
		return in.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if in := c.inner.Load(); in != nil {
		return in.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	c.inner.Store(&innerCtx{ctx: ctx, cancel: cancel})
	return ctx
}
