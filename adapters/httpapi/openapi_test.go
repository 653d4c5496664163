package httpapi

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// A small validator for the subset of JSON Schema docs/openapi.yaml uses:
// $ref, type (a name or a list), required, properties,
// additionalProperties, items, enum, oneOf, pattern.
type validator struct{ doc map[string]any }

func (v *validator) resolve(s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		var node any = v.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			node = node.(map[string]any)[part]
		}
		s = node.(map[string]any)
	}
}

func typeOf(x any) string {
	switch n := x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if n == float64(int64(n)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func (v *validator) check(path string, s map[string]any, x any) error {
	s = v.resolve(s)
	if one, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, alt := range one {
			if v.check(path, alt.(map[string]any), x) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf", path, n)
		}
		return nil
	}
	if t, ok := s["type"]; ok {
		var allowed []string
		switch tt := t.(type) {
		case string:
			allowed = []string{tt}
		case []any:
			for _, a := range tt {
				allowed = append(allowed, a.(string))
			}
		}
		got, fit := typeOf(x), false
		for _, a := range allowed {
			fit = fit || a == got || (a == "number" && got == "integer")
		}
		if !fit {
			return fmt.Errorf("%s: %s, want %v", path, got, allowed)
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == x
		}
		if !found {
			return fmt.Errorf("%s: %v not in %v", path, x, enum)
		}
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := x.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", path, str, p)
		}
	}
	switch val := x.(type) {
	case map[string]any:
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, has := val[r.(string)]; !has {
					return fmt.Errorf("%s: missing %s", path, r)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, e := range val {
			if ps, ok := props[k].(map[string]any); ok {
				if err := v.check(path+"."+k, ps, e); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := v.check(path+"."+k, ap, e); err != nil {
					return err
				}
			}
		}
	case []any:
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range val {
				if err := v.check(path+"["+strconv.Itoa(i)+"]", is, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// response finds the schema of a path, method and status.
func (v *validator) response(t *testing.T, path, method string, status int) map[string]any {
	t.Helper()
	item := v.doc["paths"].(map[string]any)[path].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok && status == 405 { // a wrong method: the error shape of the route's own method
		for _, o := range item {
			op, ok = o.(map[string]any)
		}
	}
	if !ok {
		t.Fatalf("openapi: no %s %s", method, path)
	}
	r, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		t.Fatalf("openapi: %s %s has no response %d", method, path, status)
	}
	r = v.resolve(r)
	return r["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
}

func loadOpenAPI(t *testing.T) *validator {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	return &validator{doc: doc}
}

// TestOpenAPIMatchesHandlers checks the real handlers' responses against
// docs/openapi.yaml.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	v := loadOpenAPI(t)
	h := newHarness(t, true, nil)
	empty := newHarness(t, false, nil)
	withProfiles := newHarness(t, true, func(o *Options) {
		withSchema(o)
		o.Profiles = mapProfiles{"c-1": {"orders": 3, "tier": "gold"}}
	})
	type call struct {
		h                  *harness
		method, path, body string
		status             int
	}
	calls := []call{
		{h, "POST", "/v1/decide", decideBody, 200},
		{h, "POST", "/v1/decide", `{"explain": true, "dry_run": true}`, 200},
		{h, "POST", "/v1/decide", `{"limit": 0}`, 400},
		{h, "POST", "/v1/decide", `{`, 400},
		{h, "GET", "/v1/decide", "", 405},
		{h, "POST", "/v1/decide", `{"customer_id":"` + strings.Repeat("x", 5000) + `"}`, 413},
		{empty, "POST", "/v1/decide", decideBody, 503},
		{h, "POST", "/v1/outcomes", `{"decision_id": "` + h.decisionID("", time.Now()) + `", "offer_id": "o", "type": "accepted"}`, 202},
		{h, "POST", "/v1/outcomes", `{"outcomes": [{"decision_id": "` + h.decisionID("", time.Now()) + `", "type": "converted"}, {"decision_id": "dcs_1", "type": "converted"}]}`, 202},
		{h, "POST", "/v1/outcomes", `{"decision_id": "d", "offer_id": "o", "type": "accepted"}`, 422},
		{h, "POST", "/v1/outcomes", `{"decision_id": "d", "offer_id": "o", "type": "nope"}`, 400},
		{h, "GET", "/v1/budgets", "", 200},
		{empty, "GET", "/v1/budgets", "", 503},
		{h, "GET", "/v1/rules", "", 200},
		{h, "GET", "/v1/experiments", "", 200},
		{empty, "GET", "/v1/experiments", "", 200},
		{empty, "GET", "/v1/rules", "", 503},
		{h, "POST", "/v1/rules/reload", "", 200},
		{withProfiles, "GET", "/v1/profiles/c-1", "", 200},
		{withProfiles, "GET", "/v1/profiles/nobody", "", 404},
		{withProfiles, "POST", "/v1/decide", `{"dry_run": true, "profile": {"id": "c-2", "orders": 1}}`, 200},
		{withProfiles, "POST", "/v1/decide", `{"dry_run": true, "profile": {"id": "c-2", "orders": "x"}}`, 400},
		{h, "GET", "/healthz", "", 200},
		{h, "GET", "/readyz", "", 200},
		{empty, "GET", "/readyz", "", 503},
	}
	for _, c := range calls {
		r := c.h.do(c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, r.status, c.status, r.body)
			continue
		}
		var body any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		spec := c.path
		if strings.HasPrefix(spec, profilesPrefix) {
			spec = profilesPrefix + "{id}"
		}
		if err := v.check("$", v.response(t, spec, c.method, c.status), body); err != nil {
			t.Errorf("%s %s %d: %v\n%s", c.method, c.path, c.status, err, r.body)
		}
	}
	// The 422 of a broken reload, and /v1/rules with last_error.
	h.rules.broken.Store(true)
	r := h.do("POST", "/v1/rules/reload", "")
	var body any
	_ = json.Unmarshal(r.body, &body)
	if err := v.check("$", v.response(t, "/v1/rules/reload", "POST", 422), body); r.status != 422 || err != nil {
		t.Errorf("422: %d %v %s", r.status, err, r.body)
	}
	r = h.do("GET", "/v1/rules", "")
	_ = json.Unmarshal(r.body, &body)
	if err := v.check("$", v.response(t, "/v1/rules", "GET", 200), body); err != nil {
		t.Errorf("rules with last_error: %v %s", err, r.body)
	}
	// The validator itself catches a wrong shape.
	if err := v.check("$", v.response(t, "/v1/decide", "POST", 200), map[string]any{"decision_id": "x"}); err == nil {
		t.Error("the validator accepted a bad decision")
	}
}
