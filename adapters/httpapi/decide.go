package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/reload"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// rulesetMeta is what the decision path derives once per ruleset: the
// placements its offers name, which bound the placement label of the
// metrics (any other placement is counted as "other").
type rulesetMeta struct {
	snap       *reload.Snapshot
	placements map[string]struct{}
}

const otherPlacement = "other"

func (s *Server) metaFor(snap *reload.Snapshot) *rulesetMeta {
	if m := s.meta.Load(); m != nil && m.snap == snap {
		return m
	}
	m := &rulesetMeta{snap: snap, placements: map[string]struct{}{"default": {}}}
	for _, o := range snap.Ruleset.Offers {
		for _, p := range o.Placements {
			m.placements[p] = struct{}{}
		}
	}
	s.meta.Store(m)
	return m
}

func (m *rulesetMeta) placementLabel(p string) string {
	if _, ok := m.placements[p]; ok {
		return p
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

	req, err := s.o.DecodeDecide(ctx.PostBody(), rs.Arbitration.MaxActions)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			s.metrics.Decision(otherPlacement, metrics.ResultInvalid, 0)
			s.writeError(ctx, fasthttp.StatusBadRequest, we.Code, we.Message, we.Field)
			return
		}
		s.metrics.Decision(otherPlacement, metrics.ResultError, 0)
		s.log.Error("decoding a decide request", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error decoding the request", "")
		return
	}
	if req.Now.IsZero() {
		req.Now = arrival
	}
	req.DecisionID = s.ids.next("dcs_", arrival)
	placement := meta.placementLabel(req.Placement)

	dctx, cancel := context.WithTimeout(context.Background(), s.o.DecisionTimeout)
	defer cancel()

	profile, profileErr := s.profile(dctx, rs, req.CustomerID)
	d, err := s.o.Engine.Decide(dctx, rs, profile, req)
	if err != nil || d == nil {
		// Only a bug gets here: a decision past its deadline is still made,
		// degraded (engine.Decide).
		s.metrics.Decision(placement, metrics.ResultError, 0)
		s.log.Error("decision failed", "decision_id", req.DecisionID, "error", errString(err))
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error making the decision", "")
		return
	}
	if profileErr != nil {
		d.Degraded = addDegraded(d.Degraded, engine.DegradedProfile)
		s.metrics.RedisError(metrics.RedisOpProfile)
	}
	result := metrics.ResultOK
	if len(d.Degraded) > 0 {
		result = metrics.ResultDegraded
		for _, g := range d.Degraded {
			if g == engine.DegradedLedger {
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
	if !req.DryRun && s.o.Sink != nil {
		// The event is encoded here, into bytes of its own, so that the
		// publisher holds nothing of the decision (which is pooled).
		b = wire.AppendDecisionEvent(b[:0], d)
		s.o.Sink.Publish(wire.DecisionMessage(d.DecisionID, d.Placement, bytes.Clone(b)))
	}
	*bp = b
	s.putBuf(bp)

	s.metrics.Decision(placement, result, took)
}

// profile fetches the customer's profile within the profile timeout. The
// error is non-nil when the store failed or timed out: the customer is
// then treated as unknown.
func (s *Server) profile(ctx context.Context, rs *rules.Ruleset, id string) (*engine.Profile, error) {
	if id == "" || s.o.Profiles == nil {
		return s.anonymous(rs, id), nil
	}
	if s.cached != nil {
		if p, ok := s.cached.Cached(&rs.Schema, id); ok {
			return p, nil
		}
	}
	pctx, cancel := context.WithTimeout(ctx, s.o.ProfileTimeout)
	p, err := s.o.Profiles.Get(pctx, &rs.Schema, id)
	cancel()
	if err != nil {
		if s.log.Enabled(ctx, slog.LevelDebug) { // debug only: the hot path stays quiet when Redis is down
			s.log.Debug("profile unavailable", "error", err.Error())
		}
		return s.anonymous(rs, id), err
	}
	if p == nil {
		return s.anonymous(rs, id), nil
	}
	return p, nil
}

func (s *Server) anonymous(rs *rules.Ruleset, id string) *engine.Profile {
	if p := s.o.Anonymous(&rs.Schema, id); p != nil {
		return p
	}
	return &engine.Profile{ID: id, Attrs: map[string]any{"id": id, "known": false}}
}

func addDegraded(ds []string, part string) []string {
	for _, d := range ds {
		if d == part {
			return ds
		}
	}
	out := make([]string, 0, len(ds)+1)
	out = append(out, part)
	return append(out, ds...)
}

func errString(err error) string {
	if err == nil {
		return "no decision returned"
	}
	return err.Error()
}
