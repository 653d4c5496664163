package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// ExperimentCounters answers GET /v1/experiments from the fleet's live
// experiment counters (*expcounters.Counters is one): View returns the
// experiments of rs with their counters at now, as JSON-encodable data.
type ExperimentCounters interface {
	View(ctx context.Context, rs *rules.Ruleset, now time.Time) (any, error)
}

// experimentsTimeout bounds the read of the counters (one HGETALL and a
// pipeline of PFCOUNTs).
const experimentsTimeout = 2 * time.Second

// getExperiments serves GET /v1/experiments: the experiments of the
// ruleset in force, the holdout and the layers, with the fleet's live
// counters; a server without counters answers 404.
func (s *Server) getExperiments(ctx *fasthttp.RequestCtx) {
	var rs *rules.Ruleset
	if snap := s.o.Rules.Current(); snap != nil {
		rs = snap.Ruleset
	}
	if s.o.Experiments == nil {
		s.writeError(ctx, fasthttp.StatusNotFound, wire.CodeNotFound, "this server keeps no experiment counters", "")
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), experimentsTimeout)
	defer cancel()
	view, err := s.o.Experiments.View(rctx, rs, s.o.Now())
	if err != nil {
		s.log.Warn("reading the experiment counters", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeCountersUnavail, "the experiment counters cannot be read from Redis now; try again", "")
		return
	}
	b, err := json.Marshal(view)
	if err != nil {
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error encoding the experiments", "")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
