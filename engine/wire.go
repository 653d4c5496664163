package engine

import "errors"

// WireError is a request the caller got wrong, in the spec's error shape.
type WireError struct {
	Code    string `json:"code"` // invalid_json or invalid_request
	Message string `json:"message"`
	Field   string `json:"field,omitempty"` // a JSON path: cart.items[2].price
}

func (e *WireError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// DecodeDecide decodes and validates a POST /v1/decide body. maxActions is
// the ruleset's max_actions (the bound of "limit"). A dry run's "now" is
// in Request.Now; otherwise Now is zero and the caller sets it. Errors are
// *WireError.
func DecodeDecide(body []byte, maxActions int) (*Request, error) {
	return nil, errors.New("engine: DecodeDecide not built yet")
}
