package httpapi

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// outcomes serves POST /v1/outcomes: every outcome becomes a
// wire.OutcomeEvent carrying the customer's experiment variants,
// recomputed from the ruleset in force.
func (s *Server) outcomes(ctx *fasthttp.RequestCtx) {
	arrival := s.o.Now()
	snap := s.o.Rules.Current()
	if snap == nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeNoRuleset,
			"no ruleset is loaded yet: outcomes need it for their experiment variants", "")
		return
	}
	ins, err := s.o.DecodeOutcomes(ctx.PostBody())
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			s.writeError(ctx, fasthttp.StatusBadRequest, we.Code, we.Message, we.Field)
			return
		}
		s.log.Error("decoding outcomes", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error decoding the outcomes", "")
		return
	}
	// Build every event before publishing any: a batch is accepted whole.
	msgs := make([]*wire.Message, len(ins))
	for i := range ins {
		in := &ins[i]
		var assigned []engine.Assignment
		if in.CustomerID != "" {
			assigned = s.o.AssignedVariants(snap.Ruleset, in.CustomerID)
		}
		m, err := wire.NewOutcomeEvent(in, s.ids.next("out_", arrival), arrival, assigned).Message()
		if err != nil {
			s.log.Error("encoding an outcome event", "error", err.Error())
			s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error encoding the outcomes", "")
			return
		}
		msgs[i] = m
	}
	for i, m := range msgs {
		s.metrics.Outcome(ins[i].Type)
		if s.o.Sink != nil {
			s.o.Sink.Publish(m)
		}
	}
	b := append(make([]byte, 0, 24), `{"accepted":`...)
	b = strconv.AppendInt(b, int64(len(msgs)), 10)
	b = append(b, '}')
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
