package wire

// Error codes of the HTTP API, as the spec lists them with their statuses,
// plus invalid_rules (a failed POST /v1/rules/reload, 422), shrink_refused
// (a reload held back, 409) and forbidden (a key outside its scopes, 403).
const (
	CodeInvalidJSON      = "invalid_json"       // 400
	CodeInvalidRequest   = "invalid_request"    // 400
	CodeUnauthorized     = "unauthorized"       // 401
	CodeForbidden        = "forbidden"          // 403: a key used outside its scopes
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeRequestTimeout   = "request_timeout"    // 408: a request not received whole within the read timeout
	CodePayloadTooLarge  = "payload_too_large"  // 413
	CodeInvalidRules     = "invalid_rules"      // 422
	CodeShrinkRefused    = "shrink_refused"     // 409: a reload held back by the shrink guard
	CodeNoRuleset        = "no_ruleset"         // 503
	CodeInternal         = "internal"           // 500
)

// Error codes of a 503 for a dependency that did not answer a read (the
// ledger's, ledger_unavailable, is in errors_grants.go). Each names its
// dependency: a client retries an outage, while internal (500) is a bug.
const (
	CodeProfileUnavail  = "profile_unavailable"  // GET /v1/profiles/{id}: the profile store did not answer
	CodeCountersUnavail = "counters_unavailable" // GET /v1/experiments: the experiment counters did not answer
)

// Error is an error of the HTTP API, in the spec's shape: what an error
// response holds under "error". The decoders return one for a request the
// caller got wrong (CodeInvalidJSON or CodeInvalidRequest); AppendError
// writes the whole body.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"` // a JSON path: cart.items[2].price
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// AppendError appends the body of an error response:
// {"error":{"code":...,"message":...,"field":...}}, without "field" when it
// is empty.
func AppendError(b []byte, code, message, field string) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	if field != "" {
		b = append(b, `,"field":`...)
		b = appendString(b, field)
	}
	return append(b, "}}"...)
}
