package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// profilesPrefix is the path of GET /v1/profiles/{id}.
const profilesPrefix = "/v1/profiles/"

// profileTimeout bounds the read of a stored profile by GET
// /v1/profiles/{id} (a tool's read, not a decision's).
const profileTimeout = 2 * time.Second

// getProfile serves GET /v1/profiles/{id}: the stored profile of the
// customer in its JSON form (profiles.ToJSON), 404 when there is none.
func (s *Server) getProfile(ctx *fasthttp.RequestCtx) {
	// The id is read from the path as it was sent and percent-decoded
	// once. ctx.Path() is already decoded and normalised: decoding it
	// again read "a%2541" as customer "aA", and in it an id with "/"
	// ("x%2F..%2Fc-1") has become another customer's ("c-1").
	raw, ok := strings.CutPrefix(string(ctx.URI().PathOriginal()), profilesPrefix)
	id, err := url.PathUnescape(raw)
	if !ok || err != nil || id == "" || strings.Contains(raw, "/") || len(id) > wire.MaxIDLength {
		s.writeError(ctx, fasthttp.StatusBadRequest, wire.CodeInvalidRequest,
			"GET /v1/profiles/{id} needs one customer id of 1 to "+strconv.Itoa(wire.MaxIDLength)+
				" bytes, percent-encoded once (a \"/\" in it as %2F, a \"%\" as %25), e.g. /v1/profiles/c-000042; got "+
				strconv.Quote(string(ctx.URI().PathOriginal())), "id")
		return
	}
	if s.o.Profiles == nil {
		s.writeError(ctx, fasthttp.StatusNotFound, wire.CodeNotFound, "this server has no profile store", "")
		return
	}
	snap := s.o.Rules.Current()
	if snap == nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeNoRuleset,
			"no ruleset is loaded yet, and profiles are read by its schema; see GET /v1/rules for the last load error", "")
		return
	}
	schema := &snap.Ruleset.Schema
	rctx, cancel := context.WithTimeout(context.Background(), profileTimeout)
	defer cancel()
	p, err := s.o.Profiles.Get(rctx, schema, id)
	if err != nil {
		s.log.Warn("reading a profile", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeProfileUnavail, "the profile store (Redis) cannot be read now; try again", "")
		return
	}
	if p == nil || !p.Known {
		s.writeError(ctx, fasthttp.StatusNotFound, wire.CodeNotFound,
			"no stored profile for customer "+strconv.Quote(id)+": import it with arbiter profiles import, or send an inline \"profile\" with a dry run", "")
		return
	}
	s.writeJSON(ctx, fasthttp.StatusOK, profiles.ToJSON(schema, p))
}

// inlineProfile decodes a dry run's inline "profile" against the schema of
// rs, as arbiter decide --profile does: a field the schema does not have,
// or a value of the wrong type, is an error naming its JSON path
// (profile.FIELD). The profile's id defaults to the request's customer_id;
// the two must agree, and the request's customer id becomes the profile's.
func inlineProfile(rs *rules.Ruleset, req *engine.Request) (*engine.Profile, *wire.Error) {
	dec := json.NewDecoder(bytes.NewReader(req.InlineProfile))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "profile", Message: "is not a JSON object: " + err.Error()}
	}
	if k := duplicateKey(req.InlineProfile); k != "" {
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "profile." + k, Message: "is given twice; send each field once"}
	}
	known := []string{"id"}
	for _, f := range rs.Schema.Fields {
		known = append(known, f.Name)
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		k := unknown[0]
		msg := "unknown field " + strconv.Quote(k)
		if c := exprenv.Closest(k, known); c != "" {
			msg += " (did you mean " + strconv.Quote(c) + "?)"
		}
		msg += "; the profile's fields are those of the schema (profile.yaml): " + strings.Join(known, ", ")
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "profile." + k, Message: msg}
	}
	if _, has := m["id"]; !has && req.CustomerID != "" {
		m["id"] = req.CustomerID
	}
	p, err := profiles.FromJSON(&rs.Schema, m)
	if err != nil {
		var fes profiles.FieldErrors
		if errors.As(err, &fes) && len(fes) > 0 {
			return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "profile." + fes[0].Field, Message: fes[0].Msg}
		}
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "profile", Message: err.Error()}
	}
	// The profile's id becomes the decision's customer id: it passes the
	// checks of customer_id (no control characters, bidirectional
	// overrides or lone surrogates, at most wire.MaxIDLength bytes).
	if werr := wire.CheckID("profile.id", p.ID, `write the customer id, e.g. "id": "c-1042"`); werr != nil {
		return nil, werr
	}
	switch {
	case req.CustomerID == "":
		req.CustomerID = p.ID
	case req.CustomerID != p.ID:
		return nil, &wire.Error{Code: wire.CodeInvalidRequest, Field: "profile.id",
			Message: "is " + strconv.Quote(p.ID) + " but customer_id is " + strconv.Quote(req.CustomerID) + ": give the id once, in the profile or as customer_id"}
	}
	return p, nil
}

// duplicateKey returns the first key the JSON object raw gives twice, ""
// when none is (decoding it into a map would keep the last value
// silently, where the decide request's own fields refuse a second one).
func duplicateKey(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		k, _ := t.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
