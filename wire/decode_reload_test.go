package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeReload(t *testing.T) {
	for _, c := range []struct {
		body        string
		allow       bool
		code, field string // code "": accepted
		match       string
	}{
		{body: "", allow: false},
		{body: " \n\t", allow: false},
		{body: `{}`, allow: false},
		{body: `{"allow_shrink": null}`, allow: false},
		{body: `{"allow_shrink": true}`, allow: true},
		{body: ` {"allow_shrink": false} `, allow: false},
		{body: `{"alow_shrink": true}`, code: CodeInvalidRequest, field: "alow_shrink", match: `did you mean "allow_shrink"`},
		{body: `{"allow_shrink": true, "force": true}`, code: CodeInvalidRequest, field: "force", match: "unknown field"},
		{body: `{"allow_shrink": true} garbage`, code: CodeInvalidJSON, match: "line 1, column 24"},
		{body: `{"allow_shrink": true}{}`, code: CodeInvalidJSON, match: "column 23"},
		{body: `{"allow_shrink": "yes"}`, code: CodeInvalidRequest, field: "allow_shrink", match: "true or false; got a string"},
		{body: `{"allow_shrink": 1}`, code: CodeInvalidRequest, field: "allow_shrink", match: "true or false"},
		{body: `{"allow_shrink": true, "allow_shrink": true}`, code: CodeInvalidRequest, field: "allow_shrink", match: "twice"},
		{body: `true`, code: CodeInvalidRequest, match: "a JSON object"},
		{body: `{"allow_shrink": tru}`, code: CodeInvalidJSON, match: "line 1, column 21"},
	} {
		r, err := DecodeReload([]byte(c.body))
		if c.code == "" {
			if err != nil || r.AllowShrink != c.allow {
				t.Errorf("%q: %+v, %v; want allow_shrink %v", c.body, r, err, c.allow)
			}
			continue
		}
		var we *Error
		if !errors.As(err, &we) || we.Code != c.code || we.Field != c.field || !strings.Contains(we.Message, c.match) {
			t.Errorf("%q: %v (%#v), want %s on %q with %q in the message", c.body, err, we, c.code, c.field, c.match)
		}
	}
}
