package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/expcounters"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// ExperimentCounters reads the fleet's live experiment counters
// (*expcounters.Counters is one).
type ExperimentCounters interface {
	Read(ctx context.Context) (*expcounters.Snapshot, error)
}

// experimentsTimeout bounds the read of the counters (one HGETALL and a
// pipeline of PFCOUNTs).
const experimentsTimeout = 2 * time.Second

// getExperiments serves GET /v1/experiments: the experiments of the
// ruleset in force, the holdout and the layers, with the fleet's live
// counters (expcounters.View); without counters (no Redis), zeros.
func (s *Server) getExperiments(ctx *fasthttp.RequestCtx) {
	var rs *rules.Ruleset
	if snap := s.o.Rules.Current(); snap != nil {
		rs = snap.Ruleset
	}
	var counters *expcounters.Snapshot
	if s.o.Experiments != nil {
		rctx, cancel := context.WithTimeout(context.Background(), experimentsTimeout)
		defer cancel()
		var err error
		counters, err = s.o.Experiments.Read(rctx)
		if err != nil {
			s.log.Warn("reading the experiment counters", "error", err.Error())
			s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeInternal, "the experiment counters cannot be read from Redis now; try again", "")
			return
		}
	}
	b, err := json.Marshal(expcounters.NewView(rs, counters, s.o.Now()))
	if err != nil {
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error encoding the experiments", "")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
