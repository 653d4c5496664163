package httpapi

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// rulesetMeta is what the decision path derives once per ruleset: the
// placements its offers name, which bound the placement label of the
// metrics (any other placement is counted as "other").
type rulesetMeta struct {
	snap       *rulefiles.Snapshot
	placements map[string]string // to itself: the label is the ruleset's string, never the request's
}

const otherPlacement = "other"

func (s *Server) metaFor(snap *rulefiles.Snapshot) *rulesetMeta {
	if m := s.meta.Load(); m != nil && m.snap == snap {
		return m
	}
	s.o.Checker.Serve(snap.Ruleset) // outcomes read the variants of its decisions back
	m := &rulesetMeta{snap: snap, placements: map[string]string{"default": "default"}}
	for _, o := range snap.Ruleset.Offers {
		for _, p := range o.Placements {
			m.placements[p] = p
		}
	}
	s.meta.Store(m)
	return m
}

func (m *rulesetMeta) placementLabel(p string) string {
	if label, ok := m.placements[p]; ok {
		return label // the metrics keep it: not the request's memory
	}
	return otherPlacement
}

// decide serves POST /v1/decide.
func (s *Server) decide(ctx *fasthttp.RequestCtx) {
	arrival := s.o.Now()
	snap := s.o.Rules.Current()
	if snap == nil {
		s.metrics.Decision(otherPlacement, metrics.ResultNoRuleset, 0)
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeNoRuleset,
			"no ruleset is loaded yet; see GET /v1/rules for the last load error", "")
		return
	}
	rs := snap.Ruleset
	meta := s.metaFor(snap)
	st := s.states.Get().(*decideState)
	defer s.endDecision(st)

	var req *engine.Request
	var err error
	if s.pooledDecode {
		req, err = st.dec.Decode(ctx.PostBody(), rs.Arbitration.MaxActions)
	} else {
		req, err = s.o.DecodeDecide(ctx.PostBody(), rs.Arbitration.MaxActions)
	}
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			s.metrics.Decision(otherPlacement, metrics.ResultInvalid, 0)
			s.bodyError(ctx, we)
			return
		}
		s.metrics.Decision(otherPlacement, metrics.ResultError, 0)
		s.log.Error("decoding a decide request", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error decoding the request", "")
		return
	}
	if !req.DryRun && ctx.UserValue(dryRunOnlyKey{}) != nil {
		s.metrics.Decision(otherPlacement, metrics.ResultInvalid, 0)
		s.writeError(ctx, fasthttp.StatusForbidden, wire.CodeForbidden,
			"this API key's scopes allow POST /v1/decide only with \"dry_run\": true: a decision needs scope decide (docs/api.md, Key scopes)", "")
		return
	}
	if req.Now.IsZero() {
		// The decision's time to the millisecond, as its event records it
		// ("now"), so that a replay decides at the very same time.
		req.Now = arrival.Truncate(time.Millisecond)
	}
	var profile *engine.Profile // nil: the engine looks the customer up
	if req.InlineProfile != nil {
		var werr *wire.Error
		if profile, werr = inlineProfile(rs, req); werr != nil {
			s.metrics.Decision(otherPlacement, metrics.ResultInvalid, 0)
			s.writeError(ctx, fasthttp.StatusBadRequest, werr.Code, werr.Message, werr.Field)
			return
		}
	}
	id := s.ids.ulid(arrival)
	req.Ref = st.refOf(id)
	placement := meta.placementLabel(req.Placement)
	claim, werr := s.claimOf(ctx)
	if werr != nil {
		s.metrics.Decision(otherPlacement, metrics.ResultInvalid, 0)
		s.writeError(ctx, fasthttp.StatusBadRequest, werr.Code, werr.Message, werr.Field)
		return
	}
	if req.DryRun {
		// A dry run grants nothing to answer again: its key is checked
		// but not claimed, so that the real decision may use it.
		claim = nil
	}
	req.Claim = claim
	kind := decisionid.KindDecision
	if req.DryRun {
		kind = decisionid.KindDryRun
	}
	// The id is made inside the decision, once its variants are known, so
	// that its Thompson draws are seeded by it (a replay draws them again).
	st.req, st.kind, st.id = req, kind, id
	req.Sign = st.sign

	// The decision's deadline, from the real clock (Options.Now may be a
	// test's): its context makes a timer only for a round trip.
	st.dctx.begin(time.Now().Add(s.o.DecisionTimeout))
	dctx := &st.dctx

	// No inline profile: the engine looks the customer up in its profile source.
	var d *engine.Decision
	if s.into != nil {
		d = &st.d
		if err = s.into.DecideInto(dctx, rs, profile, req, d); err != nil {
			d = nil
		}
	} else {
		d, err = s.o.Engine.Decide(dctx, rs, profile, req)
	}
	if err != nil || d == nil {
		// Only a bug gets here: a decision past its deadline is still made,
		// degraded (engine.Decide).
		s.metrics.Decision(placement, metrics.ResultError, 0)
		s.log.Error("decision failed", "ref", strings.Clone(req.Ref), "error", errString(err))
		s.releaseClaim(claim)
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error making the decision", "")
		return
	}
	if claim != nil && claim.State != engine.ClaimNew && claim.State != engine.ClaimUnknown {
		s.answerClaimed(ctx, dctx, claim, placement, arrival)
		return
	}
	if d.DecisionID == "" { // an engine that did not call Sign
		d.DecisionID = req.Sign(d.Experiments, d.Holdout)
	}
	if claim != nil && claim.State == engine.ClaimUnknown {
		s.metrics.Idempotency(metrics.IdemUnavailable)
	}
	result := metrics.ResultOK
	if len(d.Degraded) > 0 {
		result = metrics.ResultDegraded
		for _, g := range d.Degraded {
			switch g {
			case engine.DegradedProfile:
				s.metrics.RedisError(metrics.RedisOpProfile)
			case engine.DegradedLedger:
				s.metrics.RedisError(metrics.RedisOpLedger)
			}
		}
	}
	took := s.o.Now().Sub(arrival)
	d.TookUS = took.Microseconds()

	bp := s.getBuf()
	b := wire.AppendDecision((*bp)[:0], d)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	if claim != nil && claim.State == engine.ClaimNew {
		s.storeAnswer(claim, bytes.Clone(b))
	}
	if !req.DryRun && s.o.Sink != nil {
		// The event is encoded here, into a message of its own (pooled:
		// the sink releases it), so that the publisher holds nothing of
		// the decision nor of the request, which are reused.
		s.o.Sink.Publish(s.msgs.Decision(d))
	}
	*bp = b
	s.putBuf(bp)

	s.metrics.Decision(placement, result, took)
}

// endDecision gives the decision's memory back for the next one: nothing
// of it is used any more (the answer and the event are copies).
func (s *Server) endDecision(st *decideState) {
	st.dctx.end()
	st.req = nil
	s.states.Put(st)
}

func errString(err error) string {
	if err == nil {
		return "no decision returned"
	}
	return err.Error()
}
