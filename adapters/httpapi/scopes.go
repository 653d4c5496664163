package httpapi

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/wire"
)

// Scope is a set of what an API key may do (SPEC-LOOP, "Key scopes").
type Scope uint8

// The scopes of an API key.
const (
	// ScopeDecide: POST /v1/decide and POST /v1/outcomes (a checkout's key).
	ScopeDecide Scope = 1 << iota
	// ScopeRead: every GET /v1/ route (the rules with their experiment
	// salts, experiments, budgets, learning, profiles) and POST /v1/decide
	// with "dry_run": true (the console's playground).
	ScopeRead
	// ScopeAdmin: POST /v1/rules/reload, and everything ScopeRead allows.
	ScopeAdmin
	// ScopeAll is every scope: a key written without scopes, and the keys
	// of ARBITER_API_KEYS.
	ScopeAll = ScopeDecide | ScopeRead | ScopeAdmin
)

// scopeNames in the order they are listed.
var scopeNames = []struct {
	name  string
	scope Scope
}{{"decide", ScopeDecide}, {"read", ScopeRead}, {"admin", ScopeAdmin}}

// String lists the scopes, comma-separated ("decide,read").
func (s Scope) String() string {
	var names []string
	for _, n := range scopeNames {
		if s&n.scope != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// allows reports whether s grants need (admin grants read).
func (s Scope) allows(need Scope) bool {
	if s&ScopeAdmin != 0 {
		s |= ScopeRead
	}
	return s&need == need
}

// ParseScopes reads a comma-separated list of scopes (decide, read,
// admin); an empty list is ScopeAll.
func ParseScopes(list string) (Scope, error) {
	if strings.TrimSpace(list) == "" {
		return ScopeAll, nil
	}
	var s Scope
	for _, part := range strings.Split(list, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			return 0, fmt.Errorf("an empty scope (two commas in a row, or one at an end): write scopes separated by single commas, from decide, read, admin")
		}
		found := false
		for _, n := range scopeNames {
			if n.name == name {
				s |= n.scope
				found = true
			}
		}
		if !found {
			if !scopeLike(name) {
				return 0, fmt.Errorf("unknown scope of %d characters (not shown: it looks like a key; a line is one key, then its scopes: KEY decide,read): the scopes are decide, read, admin", len(name))
			}
			return 0, fmt.Errorf("unknown scope %q: the scopes are decide, read, admin", name)
		}
	}
	return s, nil
}

// APIKey is an API key and its scopes (0 means ScopeAll).
type APIKey struct {
	Key    string
	Scopes Scope
}

// requiredScope says what a request needs: whether it needs a key at all
// (every /v1/ route; /healthz, /readyz, /metrics and the console's assets
// under /ui/ do not), and which scope. Any GET or HEAD under /v1/ needs
// read; POST /v1/decide and POST /v1/outcomes need decide (a dry run of
// POST /v1/decide is let through with read, checked once its body is
// read); any other request under /v1/ (POST /v1/rules/reload) needs admin.
func requiredScope(method, path []byte) (need Scope, key bool) {
	if !bytes.HasPrefix(path, []byte("/v1/")) {
		return 0, false
	}
	switch string(method) {
	case "GET", "HEAD":
		return ScopeRead, true
	case "POST":
		switch string(path) {
		case "/v1/decide", "/v1/outcomes":
			return ScopeDecide, true
		}
	}
	return ScopeAdmin, true
}

// dryRunOnly marks a POST /v1/decide let through with scope read: the
// handler refuses it unless it is a dry run.
type dryRunOnlyKey struct{}

func (s *Server) forbidden(ctx *fasthttp.RequestCtx, have, need Scope) {
	s.writeError(ctx, fasthttp.StatusForbidden, wire.CodeForbidden,
		fmt.Sprintf("this API key's scopes (%s) do not allow %s %s: it needs scope %s (docs/api.md, Key scopes)",
			have, ctx.Method(), ctx.Path(), need), "")
}

// scopeLike reports whether an unknown scope looks like a misspelt one (at
// most 12 letters, '-' and '_'), which an error may show, rather than like
// a key written where the scopes go ("NAME KEY", "Bearer KEY"), which it
// must not.
func scopeLike(name string) bool {
	if len(name) > 12 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
