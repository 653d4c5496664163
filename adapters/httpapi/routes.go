package httpapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/wire"
)

type route struct {
	allow   string // the Allow header: "POST" or "GET, HEAD"
	post    bool
	v1      bool // under /v1/: needs the API key
	handler func(*Server, *fasthttp.RequestCtx)
}

var (
	routeDecide   = route{"POST", true, true, (*Server).decide}
	routeOutcomes = route{"POST", true, true, (*Server).outcomes}
	routeRules    = route{"GET, HEAD", false, true, (*Server).getRules}
	routeBudgets  = route{"GET, HEAD", false, true, (*Server).budgets}
	routeExps     = route{"GET, HEAD", false, true, (*Server).getExperiments}
	routeReload   = route{"POST", true, true, (*Server).reloadRules}
	routeLearning = route{"GET, HEAD", false, true, (*Server).getLearning}
	routeHealthz  = route{"GET, HEAD", false, false, (*Server).healthz}
	routeReadyz   = route{"GET, HEAD", false, false, (*Server).readyz}
	routeMetrics  = route{"GET, HEAD", false, false, (*Server).serveMetrics}
	routeProfile  = route{"GET, HEAD", false, true, (*Server).getProfile}
	routeUI       = route{"GET, HEAD", false, false, (*Server).serveUI} // the assets need no key; their data does
)

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	a := s.admit(&ctx.Request.Header, ctx.Path())
	if a.why != admitted {
		s.refuse(ctx, a)
		return
	}
	if a.dryRunOnly {
		ctx.SetUserValue(dryRunOnlyKey{}, true) // a dry run is scope read
	}
	if limit := s.bodyLimit(a.r); len(ctx.PostBody()) > limit {
		s.tooLarge(ctx, limit)
		return
	}
	a.r.handler(s, ctx)
}

// refusal is why a request is refused from its headers alone.
type headerRefusal uint8

const (
	admitted headerRefusal = iota
	refusedNotLoopback
	refusedNoRoute
	refusedNoKey
	refusedMethod
	refusedCrossSite
	refusedScope
)

// admission is what admit found of a request.
type admission struct {
	r          *route // nil when refusedNotLoopback or refusedNoRoute
	have, need Scope  // the key's scopes and the route's
	dryRunOnly bool   // POST /v1/decide let through with scope read: a dry run only
	why        headerRefusal
}

// admit runs the checks of a request that read only its headers and its
// path (cleaned, as ctx.Path gives it), in the order route answers them:
// loopback only, the route, the API key, the method, a cross-site post,
// the key's scopes. route calls it before the handler, and headerReceived
// before the body is read, so that a request refused here is refused
// whatever its body, which is then never read.
func (s *Server) admit(h *fasthttp.RequestHeader, path []byte) admission {
	if s.o.LocalOnly && !loopbackHost(h.Host()) {
		return admission{why: refusedNotLoopback}
	}
	var r *route
	switch string(path) {
	case "/v1/decide":
		r = &routeDecide
	case "/v1/outcomes":
		r = &routeOutcomes
	case "/v1/rules":
		r = &routeRules
	case "/v1/budgets":
		r = &routeBudgets
	case "/v1/experiments":
		r = &routeExps
	case "/v1/rules/reload":
		r = &routeReload
	case "/v1/learning":
		r = &routeLearning
	case "/healthz":
		r = &routeHealthz
	case "/readyz":
		r = &routeReadyz
	case "/metrics":
		r = &routeMetrics
	default:
		r = s.prefixRoute(path)
	}
	if r == nil {
		return admission{why: refusedNoRoute}
	}
	a := admission{r: r}
	m := h.Method()
	var needsKey bool
	a.need, needsKey = requiredScope(m, path)
	if needsKey {
		var ok bool
		if a.have, ok = s.auth.lookup(h.Peek(fasthttp.HeaderAuthorization)); !ok {
			a.why = refusedNoKey
			return a
		}
	}
	ok := false
	if r.post {
		ok = string(m) == fasthttp.MethodPost
	} else {
		ok = string(m) == fasthttp.MethodGet || string(m) == fasthttp.MethodHead
	}
	if !ok {
		a.why = refusedMethod
		return a
	}
	if r.post && crossSite(h) {
		a.why = refusedCrossSite
		return a
	}
	if needsKey && !a.have.allows(a.need) {
		if r != &routeDecide || !a.have.allows(ScopeRead) {
			a.why = refusedScope
			return a
		}
		a.dryRunOnly = true
	}
	return a
}

// refuse answers a request admit refused.
func (s *Server) refuse(ctx *fasthttp.RequestCtx, a admission) {
	switch a.why {
	case refusedNotLoopback:
		s.writeError(ctx, fasthttp.StatusForbidden, wire.CodeForbidden,
			"this server has no API keys and answers on loopback only: address it as localhost or 127.0.0.1, not by another name (a page that makes its own name resolve to this machine is refused)", "")
	case refusedNoRoute:
		s.writeError(ctx, fasthttp.StatusNotFound, wire.CodeNotFound,
			"no route "+strings.ToValidUTF8(string(ctx.Path()), "?")+
				": the routes are POST /v1/decide, POST /v1/outcomes, GET /v1/budgets, GET /v1/rules, GET /v1/experiments, POST /v1/rules/reload, GET /v1/learning, GET /v1/profiles/{id}, GET /healthz, GET /readyz, GET /metrics, GET /ui/ (the console)", "")
	case refusedNoKey:
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="arbiter"`)
		s.writeError(ctx, fasthttp.StatusUnauthorized, wire.CodeUnauthorized,
			"missing or wrong API key: send the header Authorization: Bearer YOUR_KEY", "")
	case refusedMethod:
		m := ctx.Method()
		ctx.Response.Header.Set(fasthttp.HeaderAllow, a.r.allow)
		s.writeError(ctx, fasthttp.StatusMethodNotAllowed, wire.CodeMethodNotAllowed,
			"method "+strings.ToValidUTF8(string(m), "?")+" is not allowed on "+string(ctx.Path())+": use "+a.r.allow, "")
	case refusedCrossSite:
		s.writeError(ctx, fasthttp.StatusForbidden, wire.CodeForbidden,
			"a browser sent this POST "+string(ctx.Path())+" from another site (Sec-Fetch-Site or Origin): only the console, on this server's own origin, may post from a browser; call the API from your server", "")
	case refusedScope:
		s.forbidden(ctx, a.have, a.need)
	}
}

// prefixRoute routes the paths that carry a part of their own: GET
// /v1/profiles/{id} and the console's assets (/ui/..., with "/" and "/ui"
// redirecting to /ui/ when the console is served); nil: no route.
func (s *Server) prefixRoute(p []byte) *route {
	switch {
	case bytes.HasPrefix(p, []byte(profilesPrefix)):
		return &routeProfile
	case s.ui != nil && (bytes.HasPrefix(p, []byte(uiPrefix)) || string(p) == "/" || string(p) == "/ui"):
		return &routeUI
	}
	return nil
}

// bodyError answers 400 for a request body its decoder refused. A body
// that is not JSON because the client compressed it (Content-Encoding:
// gzip, from an HTTP library's option) is said to be: its decoder would
// report the compressed bytes as invalid UTF-8 or JSON.
func (s *Server) bodyError(ctx *fasthttp.RequestCtx, we *wire.Error) {
	msg := we.Message
	if enc := ctx.Request.Header.Peek(fasthttp.HeaderContentEncoding); we.Code == wire.CodeInvalidJSON && len(enc) > 0 && !strings.EqualFold(string(enc), "identity") {
		if len(enc) > 32 {
			enc = enc[:32]
		}
		msg = "the body is compressed (Content-Encoding: " + strings.ToValidUTF8(string(enc), "?") +
			"), and Arbiter reads request bodies as they are sent: send it uncompressed, without Content-Encoding"
	}
	s.writeError(ctx, fasthttp.StatusBadRequest, we.Code, msg, we.Field)
}

// writeError writes the spec's error shape (wire.AppendError).
func (s *Server) writeError(ctx *fasthttp.RequestCtx, status int, code, message, field string) {
	bp := s.getBuf()
	b := wire.AppendError((*bp)[:0], code, message, field)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	*bp = b
	s.putBuf(bp)
}

func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Server) putBuf(bp *[]byte) {
	if cap(*bp) > 256<<10 { // do not keep what an explain of a huge ruleset grew
		return
	}
	*bp = (*bp)[:0]
	s.bufs.Put(bp)
}

// keyring checks API keys in constant time: the key sent and every key
// configured are compared as SHA-256 digests (so that neither the length
// nor the place of a mismatch shows in the time taken), over all keys.
type keyring struct {
	digests [][sha256.Size]byte
	scopes  []Scope
}

func newKeyring(all []string, scoped []APIKey) *keyring {
	k := &keyring{}
	for _, key := range all {
		k.digests = append(k.digests, sha256.Sum256([]byte(key)))
		k.scopes = append(k.scopes, ScopeAll)
	}
	for _, key := range scoped {
		sc := key.Scopes
		if sc == 0 {
			sc = ScopeAll
		}
		k.digests = append(k.digests, sha256.Sum256([]byte(key.Key)))
		k.scopes = append(k.scopes, sc)
	}
	return k
}

// enabled reports whether keys are configured.
func (k *keyring) enabled() bool { return len(k.digests) > 0 }

// lookup reports whether the Authorization header carries a known key,
// and its scopes (every scope when no keys are configured). A key
// configured twice has the union of its scopes.
func (k *keyring) lookup(header []byte) (Scope, bool) {
	if !k.enabled() {
		return ScopeAll, true
	}
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(string(header[:len(prefix)]), prefix) {
		return 0, false
	}
	sum := sha256.Sum256(header[len(prefix):])
	match := 0
	var scopes Scope
	for i := range k.digests {
		eq := subtle.ConstantTimeCompare(sum[:], k.digests[i][:])
		match |= eq
		scopes |= k.scopes[i] & Scope(-eq&0xff)
	}
	return scopes, match == 1
}

// crossSite reports whether a browser marks the request as sent by a page
// of another site (as net/http's CrossOriginProtection does): its
// Sec-Fetch-Site is neither same-origin nor none; or, from a browser too
// old to send that, its Origin is not this server's Host. A client that is
// not a browser sends neither and is never cross-site. Without API keys
// (arbiter demo, --no-auth), this is what keeps a web page the operator
// opens from posting decisions, outcomes and reloads: a text/plain or
// form POST needs no CORS preflight, and the Content-Type is not checked.
func crossSite(h *fasthttp.RequestHeader) bool {
	switch site := h.Peek("Sec-Fetch-Site"); string(site) {
	case "":
	case "same-origin", "none":
		return false
	default:
		return true
	}
	origin := h.Peek(fasthttp.HeaderOrigin)
	if len(origin) == 0 {
		return false
	}
	_, host, ok := bytes.Cut(origin, []byte("://"))
	return !ok || !bytes.EqualFold(host, h.Host()) // "null" (a sandboxed frame, a file) is another site
}

// loopbackHost reports whether a Host header names this machine's
// loopback: localhost or a name under .localhost (which browsers resolve
// to loopback themselves), 127.0.0.0/8 in dotted form, or [::1]; with or
// without a port. No Host at all (not a browser) is let through. It reads
// the bytes in place, where net.SplitHostPort and netip.ParseAddr would
// take a string, an allocation on every request of a keyless loopback
// server (arbiter demo, and bench/load's serve --no-auth).
func loopbackHost(host []byte) bool {
	if len(host) == 0 {
		return true
	}
	if host[0] == '[' {
		end := bytes.IndexByte(host, ']')
		return end > 0 && string(host[1:end]) == "::1" && (end+1 == len(host) || host[end+1] == ':')
	}
	if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if len(host) >= 9 && strings.EqualFold(string(host[len(host)-9:]), "localhost") &&
		(len(host) == 9 || host[len(host)-10] == '.') {
		return true
	}
	if !bytes.HasPrefix(host, []byte("127.")) {
		return false
	}
	dots, digits := 0, 0
	for _, c := range host {
		switch {
		case c == '.':
			if digits == 0 || digits > 3 {
				return false
			}
			dots, digits = dots+1, 0
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return dots == 3 && digits > 0 && digits <= 3
}
