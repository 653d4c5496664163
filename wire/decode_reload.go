package wire

import "bytes"

// Reload is the optional body of POST /v1/rules/reload, validated.
type Reload struct {
	// AllowShrink lets through new rules that lack more than half of the
	// offers in force (the shrink guard); false when not sent.
	AllowShrink bool
}

var reloadFields = []string{"allow_shrink"}

// DecodeReload decodes and validates a POST /v1/rules/reload body: empty
// (or white space only), the same as {"allow_shrink": false}, or
// {"allow_shrink": BOOL}. It is as strict as the other bodies: malformed
// JSON (anything after the object too) is invalid_json with its line and
// column; an unknown field, a field given twice or a value of the wrong
// type is invalid_request naming the field. Errors are *Error.
func DecodeReload(body []byte) (Reload, error) {
	r, werr := decodeReload(body)
	if werr != nil {
		return Reload{}, werr
	}
	return r, nil
}

func decodeReload(body []byte) (Reload, *Error) {
	var r Reload
	if len(bytes.TrimSpace(body)) == 0 {
		return r, nil
	}
	p, werr := newParser(body)
	if werr != nil {
		return r, werr
	}
	if p.peek() != '{' {
		return r, badReq("", "the body must be empty or a JSON object, {\"allow_shrink\": true}; got "+p.kindName())
	}
	seen := false
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		if string(key) != "allow_shrink" {
			return r, unknownField("", key, reloadFields)
		}
		if seen {
			return r, badReq("allow_shrink", "is given twice; send each field once")
		}
		seen = true
		if p.null() {
			continue
		}
		b, werr := p.boolField("allow_shrink")
		if werr != nil {
			return r, werr
		}
		r.AllowShrink = b
	}
	p.end()
	if p.err != nil {
		return r, p.err
	}
	return r, nil
}
