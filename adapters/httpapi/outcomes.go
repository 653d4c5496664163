package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// maxFuture is how far in the future an outcome's occurred_at may be
// (clocks differ a little); outcomes read from the stream are held to the
// same bound (wire.ParseOutcome).
const maxFuture = wire.MaxOutcomeFuture

// outcomes serves POST /v1/outcomes. Every outcome is checked against its
// signed decision id (unknown_decision, customer_mismatch,
// decision_expired: refused, 422 in the batch's answer) and, where the
// ledger keeps records of the decision's grants, applied to them (a commit,
// a release, a cancel, a learning success; unknown_offer when the decision
// did not grant the offer), in one ledger call for the whole batch. The
// accepted ones become wire.OutcomeEvents carrying the decision's own
// experiment variants, "verified": true and a seal made with the fleet's
// decision key over the event (wire.OutcomeEvent.Seal: the feedback
// consumer trusts "verified" only with it); when the ledger cannot be
// reached they are still accepted and published with "verified": false,
// for the feedback consumer to check and apply.
func (s *Server) outcomes(ctx *fasthttp.RequestCtx) {
	arrival := s.o.Now()
	snap := s.o.Rules.Current()
	if snap == nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeNoRuleset,
			"no ruleset is loaded yet: outcomes need it for their grant records", "")
		return
	}
	s.metaFor(snap)
	ins, err := s.o.DecodeOutcomes(ctx.PostBody())
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			s.bodyError(ctx, we)
			return
		}
		s.log.Error("decoding outcomes", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error decoding the outcomes", "")
		return
	}
	batch := wire.IsOutcomeBatch(ctx.PostBody())
	path := func(i int, field string) string {
		if batch {
			return "outcomes[" + strconv.Itoa(i) + "]." + field
		}
		return field
	}
	for i := range ins {
		if at := ins[i].OccurredAt; !at.IsZero() && at.After(arrival.Add(maxFuture)) {
			s.writeError(ctx, fasthttp.StatusBadRequest, wire.CodeInvalidRequest,
				"occurred_at "+at.Format(time.RFC3339)+" is in the future (it arrived at "+arrival.UTC().Format(time.RFC3339)+")", path(i, "occurred_at"))
			return
		}
	}
	rs := snap.Ruleset
	checks := make([]attribution.Result, len(ins))
	var grants []engine.GrantOutcome
	var grantOf []int
	for i := range ins {
		in := &ins[i]
		checks[i] = s.o.Checker.Check(&attribution.Outcome{DecisionID: in.DecisionID, CustomerID: in.CustomerID,
			OfferID: in.OfferID, Type: in.Type, At: in.OccurredAt, Arrival: arrival}, rs)
		if g := checks[i].Grant; g != nil && checks[i].Code == "" {
			grants = append(grants, *g)
			grantOf = append(grantOf, i)
		}
		if n := checks[i].UnknownCodes; n > 0 {
			s.metrics.UnknownVariants(n)
		}
	}
	verified := make([]bool, len(ins))
	for i := range verified {
		verified[i] = true
	}
	if len(grants) > 0 {
		applied := false
		if s.o.Grants != nil {
			gctx, cancel := context.WithTimeout(context.Background(), s.o.GrantsTimeout)
			res, err := s.o.Grants.Apply(gctx, grants)
			cancel()
			if err == nil && len(res) == len(grants) {
				applied = true
				for k, i := range grantOf {
					checks[i].Refuse(res[k])
					s.metrics.GrantTransitions(res[k])
				}
			} else if err != nil {
				s.log.Warn("outcomes published unverified: the ledger did not answer", "error", err.Error())
			}
		}
		if !applied {
			for _, i := range grantOf {
				verified[i] = false
			}
		}
	}

	var msgs []*wireMsg
	var refused []refusal
	for i := range ins {
		in := &ins[i]
		if c := checks[i]; c.Code != "" {
			refused = append(refused, refusal{index: i, code: c.Code, field: c.Field})
			s.metrics.OutcomeRefused(c.Code, in.Type)
			continue
		}
		id := s.outcomeID(in, arrival)
		ev := wire.NewOutcomeEvent(in, id, arrival, checks[i].Experiments, verified[i])
		if verified[i] {
			// The proof that this Arbiter applied it: the feedback
			// consumer applies any outcome without one, whatever its
			// "verified" says (another service may write true).
			ev.Seal = s.o.Checker.Signer().Seal(ev.SealMessage())
		}
		m, err := ev.Message()
		if err != nil {
			s.log.Error("encoding an outcome event", "error", err.Error())
			s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error encoding the outcomes", "")
			return
		}
		msgs = append(msgs, &wireMsg{m: m, typ: in.Type, verified: verified[i]})
	}
	for _, m := range msgs {
		s.metrics.Outcome(m.typ)
		if !m.verified {
			s.metrics.OutcomeUnverified()
		}
		if s.o.Sink != nil {
			s.o.Sink.Publish(m.m)
		}
	}
	if len(msgs) == 0 {
		// Every outcome refused: 422, in the error shape (the first
		// refusal) with the whole list.
		r := refused[0]
		b := wire.AppendError(make([]byte, 0, 256), r.code, refusalMessage(r.code, batch, len(refused)), path(r.index, r.field))
		b = appendRefusals(append(b[:len(b)-1], `,"accepted":0,`...), refused, batch)
		b = append(b, '}')
		ctx.SetStatusCode(fasthttp.StatusUnprocessableEntity)
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
		return
	}
	b := append(make([]byte, 0, 64), `{"accepted":`...)
	b = strconv.AppendInt(b, int64(len(msgs)), 10)
	b = append(b, ',')
	b = appendRefusals(b, refused, batch)
	b = append(b, '}')
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

type wireMsg struct {
	m        *wire.Message
	typ      string
	verified bool
}

type refusal struct {
	index       int
	code, field string
}

// appendRefusals appends "refused":[{"index","code","field"}...].
func appendRefusals(b []byte, rs []refusal, batch bool) []byte {
	b = append(b, `"refused":[`...)
	for k, r := range rs {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(r.index), 10)
		b = append(b, `,"code":"`...)
		b = append(b, r.code...)
		b = append(b, `","field":"`...)
		if batch {
			b = append(b, "outcomes["...)
			b = strconv.AppendInt(b, int64(r.index), 10)
			b = append(b, "]."...)
		}
		b = append(b, r.field...)
		b = append(b, `"}`...)
	}
	return append(b, ']')
}

func refusalMessage(code string, batch bool, n int) string {
	var why string
	switch code {
	case attribution.CodeUnknownDecision:
		why = "decision_id is not a decision Arbiter made (or a dry run's): send the decision_id of the decision, as it was answered"
	case attribution.CodeCustomerMismatch:
		why = "the decision was made for another customer: send the customer_id the decision was made for"
	case attribution.CodeDecisionExpired:
		why = "the decision is older than the attribution window (--attribution-window)"
	case attribution.CodeUnknownOffer:
		// A lost record (Redis lost or evicted it, or the window was
		// lengthened since) cannot be told from no grant: say what is known.
		why = "there is no record that the decision granted this offer (it did not, or its record was lost from Redis): send an offer_id of its actions, or leave offer_id out to post it for the whole decision"
	case attribution.CodeOccurredBefore:
		why = "occurred_at is before the decision was made: send when it happened, in RFC 3339 with its UTC offset (2026-12-07T14:03:00+01:00), or leave it out for the time of arrival"
	default:
		why = "refused"
	}
	if batch {
		return "all " + strconv.Itoa(n) + " outcomes of the batch were refused; the first: " + why
	}
	return why
}

// outcomeID is an outcome event's id: from the caller's id when it sent
// one (a retried post is the same event: deduplicated on the stream and by
// whatever counts it), else a fresh ULID.
func (s *Server) outcomeID(in *wire.Outcome, arrival time.Time) string {
	if in.ID == "" {
		return s.ids.next("out_", arrival)
	}
	h := sha256.New()
	for _, part := range []string{in.DecisionID, in.OfferID, in.Type, in.ID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var u ulid.ULID
	copy(u[:], h.Sum(nil))
	return "out_" + u.String()
}
