package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// MaxIdempotencyKey bounds the Idempotency-Key header, in bytes.
const MaxIdempotencyKey = 128

// claimOf reads the request's Idempotency-Key: nil without one; an error
// for a key that is not 1 to 128 printable ASCII characters. The key is
// scoped to the API key that sends it (a digest of it), and the claim
// carries the SHA-256 of the body.
func (s *Server) claimOf(ctx *fasthttp.RequestCtx) (*engine.Claim, *wire.Error) {
	key := ctx.Request.Header.Peek("Idempotency-Key")
	if len(key) == 0 {
		// Sent with nothing in it (a checkout whose order id was not filled
		// in): refused, not decided without the guarantee it asks for.
		// PeekAll appends nothing, and allocates nothing, without the header.
		if len(ctx.Request.Header.PeekAll("Idempotency-Key")) == 0 {
			return nil, nil
		}
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "Idempotency-Key",
			Message: "the Idempotency-Key header is empty: send 1 to " + strconv.Itoa(MaxIdempotencyKey) + " printable ASCII characters (a UUID is a good key), or leave the header out"}
	}
	if len(key) > MaxIdempotencyKey {
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "Idempotency-Key",
			Message: "the Idempotency-Key header is " + strconv.Itoa(len(key)) + " bytes long; at most " + strconv.Itoa(MaxIdempotencyKey) + " are allowed (a UUID is 36)"}
	}
	for i, c := range key {
		if c < 0x20 || c > 0x7e {
			return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "Idempotency-Key",
				Message: "the Idempotency-Key header must be printable ASCII (byte " + strconv.Itoa(i) + " is not); a UUID is a good key"}
		}
	}
	scope := "-"
	if auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization); len(auth) > 0 {
		sum := sha256.Sum256(auth)
		scope = hex.EncodeToString(sum[:12])
	}
	return &engine.Claim{Key: scope + "\n" + string(key), Body: sha256.Sum256(ctx.PostBody()), TTL: s.o.IdempotencyTTL}, nil
}

// answerClaimed answers a request whose Idempotency-Key an earlier
// request holds: that request's answer, byte for byte, once it is stored
// (waiting for it up to the decision's deadline), else 409 conflict.
func (s *Server) answerClaimed(ctx *fasthttp.RequestCtx, dctx context.Context, c *engine.Claim, placement string, arrival time.Time) {
	pause := time.Millisecond
	for c.State == engine.ClaimPending && s.o.Grants != nil {
		left := time.Until(deadlineOf(dctx, arrival.Add(s.o.DecisionTimeout)))
		if left <= 0 {
			break
		}
		time.Sleep(min(pause, left)) // polling the first request's answer, within this request's deadline
		pause = min(2*pause, 10*time.Millisecond)
		gctx, cancel := context.WithTimeout(context.Background(), max(left-pause, time.Millisecond))
		err := s.o.Grants.Answer(gctx, c)
		cancel()
		if err != nil {
			break
		}
	}
	took := s.o.Now().Sub(arrival)
	switch c.State {
	case engine.ClaimReplay:
		s.metrics.Idempotency(metrics.IdemReplayed)
		s.metrics.Decision(placement, metrics.ResultOK, took)
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("application/json")
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
		ctx.SetBody(c.Answer)
	case engine.ClaimConflict:
		s.metrics.Idempotency(metrics.IdemConflict)
		s.metrics.Decision(placement, metrics.ResultInvalid, 0)
		s.writeError(ctx, fasthttp.StatusConflict, wire.CodeConflict,
			"this Idempotency-Key was used with another request body within --idempotency-ttl: use a new key for a new request", "Idempotency-Key")
	default:
		s.metrics.Idempotency(metrics.IdemInFlight)
		s.metrics.Decision(placement, metrics.ResultInvalid, 0)
		s.writeError(ctx, fasthttp.StatusConflict, wire.CodeConflict,
			"a request with this Idempotency-Key is still being decided: retry in a moment to get its answer", "Idempotency-Key")
	}
}

func deadlineOf(ctx context.Context, def time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return def
}

// storeAnswer stores the answer of the decision that holds c, off the
// request's path (a few tries, each within GrantsTimeout).
func (s *Server) storeAnswer(c *engine.Claim, answer []byte) {
	if s.o.Grants == nil {
		return
	}
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		var err error
		for try := 0; try < 3; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), s.o.GrantsTimeout)
			err = s.o.Grants.StoreAnswer(ctx, c, answer)
			cancel()
			if err == nil {
				return
			}
		}
		s.metrics.Idempotency(metrics.IdemNotStored)
		s.log.Warn("the answer of an Idempotency-Key was not stored: a retry with the key is answered 409 until the key expires",
			"error", err.Error())
	}()
}

// releaseClaim gives up the key of a decision that could not be answered,
// so that a retry is decided afresh.
func (s *Server) releaseClaim(c *engine.Claim) {
	if c == nil || c.State != engine.ClaimNew || s.o.Grants == nil {
		return
	}
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.o.GrantsTimeout)
		defer cancel()
		_ = s.o.Grants.Release(ctx, c)
	}()
}
