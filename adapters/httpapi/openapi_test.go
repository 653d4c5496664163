package httpapi

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/wire"
)

// A small validator for the subset of JSON Schema docs/openapi.yaml uses:
// $ref, type (a name or a list), required, properties,
// additionalProperties (a schema or false), propertyNames, items, enum,
// const, oneOf, allOf, not, pattern, minLength, maxLength, minimum, maximum,
// minItems, maxItems, dependentRequired, dependentSchemas. The request
// schemas use the bounds: a validator that skipped them would let the
// schema accept what the server refuses unnoticed.
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
	if not, ok := s["not"].(map[string]any); ok && v.check(path, not, x) == nil {
		return fmt.Errorf("%s: %v matches what \"not\" excludes", path, x)
	}
	if c, ok := s["const"]; ok && c != x {
		return fmt.Errorf("%s: %v, want %v", path, x, c)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := v.check(path, sub.(map[string]any), x); err != nil {
				return err
			}
		}
	}
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
	switch val := x.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(val) {
			return fmt.Errorf("%s: %q does not match %s", path, val, p)
		}
		n := float64(utf8.RuneCountInString(val))
		if b, ok := s["minLength"].(int); ok && n < float64(b) {
			return fmt.Errorf("%s: %q is shorter than %d", path, val, b)
		}
		if b, ok := s["maxLength"].(int); ok && n > float64(b) {
			return fmt.Errorf("%s: %q is longer than %d", path, val, b)
		}
	case float64:
		if b, ok := s["minimum"].(int); ok && val < float64(b) {
			return fmt.Errorf("%s: %v is below %d", path, val, b)
		}
		if b, ok := s["maximum"].(int); ok && val > float64(b) {
			return fmt.Errorf("%s: %v is above %d", path, val, b)
		}
	case map[string]any:
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, has := val[r.(string)]; !has {
					return fmt.Errorf("%s: missing %s", path, r)
				}
			}
		}
		if dep, ok := s["dependentRequired"].(map[string]any); ok {
			for k, req := range dep {
				for _, r := range req.([]any) {
					if _, has := val[k]; has {
						if _, has := val[r.(string)]; !has {
							return fmt.Errorf("%s: %s without %s", path, k, r)
						}
					}
				}
			}
		}
		if dep, ok := s["dependentSchemas"].(map[string]any); ok {
			for k, ds := range dep {
				if _, has := val[k]; has {
					if err := v.check(path, ds.(map[string]any), x); err != nil {
						return fmt.Errorf("with %s: %w", k, err)
					}
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, e := range val {
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				if err := v.check(path+"."+k, pn, k); err != nil {
					return fmt.Errorf("the key: %w", err)
				}
			}
			if ps, ok := props[k].(map[string]any); ok {
				if err := v.check(path+"."+k, ps, e); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := v.check(path+"."+k, ap, e); err != nil {
					return err
				}
			} else if s["additionalProperties"] == false {
				return fmt.Errorf("%s: unknown field %s", path, k)
			}
		}
	case []any:
		if b, ok := s["minItems"].(int); ok && len(val) < b {
			return fmt.Errorf("%s: %d items, at least %d", path, len(val), b)
		}
		if b, ok := s["maxItems"].(int); ok && len(val) > b {
			return fmt.Errorf("%s: %d items, at most %d", path, len(val), b)
		}
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
		// A body the server takes fits the request schema
		// (TestOpenAPIRequestsAgreeWithServer checks the refusals).
		if c.body != "" && c.status/100 == 2 {
			var req any
			_ = json.Unmarshal([]byte(c.body), &req)
			if err := v.check("$", v.request(t, c.path, c.method), req); err != nil {
				t.Errorf("%s %s %s: the server accepts it, docs/openapi.yaml refuses it: %v", c.method, c.path, c.body, err)
			}
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
	// ... and reads allOf: a variant of GET /v1/experiments without the
	// counts of its ExperimentGroup is refused.
	r = h.do("GET", "/v1/experiments", "")
	var view map[string]any
	if err := json.Unmarshal(r.body, &view); err != nil {
		t.Fatal(err)
	}
	exps, _ := view["experiments"].([]any)
	if len(exps) == 0 {
		t.Fatalf("GET /v1/experiments has no experiment to check: %s", r.body)
	}
	variant := exps[0].(map[string]any)["variants"].([]any)[0].(map[string]any)
	delete(variant, "decisions")
	if err := v.check("$", v.response(t, "/v1/experiments", "GET", 200), view); err == nil {
		t.Error("the validator accepted a variant without its decisions (allOf not read)")
	}
}

// request finds the request body's schema of a path and method.
func (v *validator) request(t *testing.T, path, method string) map[string]any {
	t.Helper()
	op, _ := v.doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	rb, ok := op["requestBody"].(map[string]any)
	if !ok {
		t.Fatalf("openapi: %s %s has no requestBody", method, path)
	}
	return rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
}

// TestOpenAPIRequestsAgreeWithServer sends bodies to the real handlers and
// checks docs/openapi.yaml's request schemas against the answer: a body
// the server refuses with 400 must be refused by the schema (a generated
// client or a request validator must not pass what the server refuses),
// and a body it accepts must be accepted. The exceptions the schema cannot
// say are left out: a dry run's inline profile is checked against the
// ruleset's profile.yaml, a currency code against the list Arbiter knows,
// a number's decimals against its currency, limit against max_actions.
func TestOpenAPIRequestsAgreeWithServer(t *testing.T) {
	v := loadOpenAPI(t)
	h := newHarness(t, true, nil)
	did := h.decisionID("c-1", time.Now())
	long := strings.Repeat("x", wire.MaxIDLength+1)
	item := func(fields string) string {
		return `{"cart": {"currency": "USD", "items": [{` + fields + `}]}}`
	}
	outcome := func(fields string) string {
		return `{"decision_id": "` + did + `", "customer_id": "c-1", "type": "converted"` + fields + `}`
	}
	for _, c := range []struct {
		path, body string
		ok         bool // whether the server accepts it
	}{
		{"/v1/decide", decideBody, true},
		{"/v1/decide", `{}`, true},
		{"/v1/decide", `{"dry_run": true, "now": "2026-11-28T12:00:00Z", "explain": true, "limit": 3}`, true},
		{"/v1/decide", `{"context": {"tags": ["a", 1, true], "n": 2.5, "gone": null}}`, true},
		{"/v1/decide", item(`"sku": "A", "price": 0, "quantity": 1000000, "tags": ["x"], "category": "c"`), true},
		{"/v1/decide", `{"cart": {"currency": "USD", "total": 10}}`, true},
		{"/v1/decide", `{"customer_id": "` + strings.Repeat("x", wire.MaxIDLength) + `", "placement": "` + strings.Repeat("p", wire.MaxTokenLength) + `"}`, true},
		{"/v1/decide", `{"dry_run": true, "profile": {"id": "c-2"}}`, true},
		// The reviewer's six (docs/openapi.yaml accepted each).
		{"/v1/decide", item(`"price": 10, "quantity": 1`), false},
		{"/v1/decide", `{"cart": {"items": [{"sku": "A", "price": 10, "quantity": 1}]}}`, false},
		{"/v1/decide", `{"dryrun": true}`, false},
		{"/v1/decide", `{"customer_id": ""}`, false},
		{"/v1/decide", `{"placement": "check out"}`, false},
		{"/v1/decide", item(`"sku": "A", "price": 10, "quantity": 2000000`), false},
		// More of what the decoder refuses.
		{"/v1/decide", item(`"sku": "", "price": 10, "quantity": 1`), false},
		{"/v1/decide", item(`"sku": "A", "quantity": 1`), false},
		{"/v1/decide", item(`"sku": "A", "price": 10`), false},
		{"/v1/decide", item(`"sku": "A", "price": -1, "quantity": 1`), false},
		{"/v1/decide", item(`"sku": "A", "price": 1, "quantity": 0`), false},
		{"/v1/decide", item(`"sku": "A", "price": 1, "quantity": 1.5`), false},
		{"/v1/decide", item(`"sku": "A", "price": 1, "quantity": 1, "colour": "red"`), false},
		{"/v1/decide", `{"cart": {"currency": "USD", "coupon": "X"}}`, false},
		{"/v1/decide", `{"cart": {"currency": "usd"}}`, false},
		{"/v1/decide", `{"customer_id": "` + long + `"}`, false},
		{"/v1/decide", `{"customer_id": "a\u0000b"}`, false},
		{"/v1/decide", `{"customer_id": "a\u0085b"}`, false},
		{"/v1/decide", `{"customer_id": "a\u202eb"}`, false},
		{"/v1/decide", `{"customer_id": "a\ufffdb"}`, false},
		{"/v1/decide", `{"placement": ""}`, false},
		{"/v1/decide", `{"channel": "` + strings.Repeat("c", wire.MaxTokenLength+1) + `"}`, false},
		{"/v1/decide", `{"channel": "wéb"}`, false},
		{"/v1/decide", `{"limit": 0}`, false},
		{"/v1/decide", `{"now": "2026-11-28T12:00:00Z"}`, false},
		{"/v1/decide", `{"dry_run": false, "now": "2026-11-28T12:00:00Z"}`, false},
		{"/v1/decide", `{"profile": {"id": "c-2"}}`, false},
		{"/v1/decide", `{"context": {"device": {"os": "ios"}}}`, false},
		{"/v1/decide", `{"context": {"list": [{"a": 1}]}}`, false},
		{"/v1/decide", `{"context": {"placement": "checkout"}}`, false},
		{"/v1/decide", `{"explain": "yes"}`, false},

		{"/v1/outcomes", outcome(``), true},
		{"/v1/outcomes", outcome(`, "offer_id": "vip_10", "value": 10.5, "currency": "USD", "occurred_at": "` + time.Now().UTC().Format(time.RFC3339) + `", "id": "order-1"`), true},
		{"/v1/outcomes", `{"outcomes": [` + outcome(``) + `]}`, true},
		{"/v1/outcomes", outcome(`, "customer": "c-1"`), false},
		{"/v1/outcomes", outcome(`, "value": 10`), false},
		{"/v1/outcomes", outcome(`, "value": -1, "currency": "USD"`), false},
		{"/v1/outcomes", outcome(`, "offer_id": ""`), false},
		{"/v1/outcomes", outcome(`, "id": "` + long + `"`), false},
		{"/v1/outcomes", `{"decision_id": "` + did + `", "type": "bought"}`, false},
		{"/v1/outcomes", `{"type": "converted"}`, false},
		{"/v1/outcomes", `{"decision_id": "", "type": "converted"}`, false},
		{"/v1/outcomes", `{"outcomes": [` + outcome(``) + `], "dry_run": true}`, false},
		{"/v1/outcomes", `{"outcomes": []}`, false},

		{"/v1/rules/reload", `{"allow_shrink": false}`, true},
		{"/v1/rules/reload", `{"alow_shrink": true}`, false},
		{"/v1/rules/reload", `{"allow_shrink": "yes"}`, false},
	} {
		r := h.do("POST", c.path, c.body)
		if accepted := r.status/100 == 2; accepted != c.ok {
			t.Errorf("POST %s %s: the server answers %d %s; the test expects it to %s it", c.path, c.body, r.status, r.body,
				map[bool]string{true: "accept", false: "refuse"}[c.ok])
			continue
		}
		if !c.ok && r.status != 400 {
			t.Errorf("POST %s %s: %d, want 400: %s", c.path, c.body, r.status, r.body)
			continue
		}
		var x any
		if err := json.Unmarshal([]byte(c.body), &x); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		serr := v.check("$", v.request(t, c.path, "POST"), x)
		switch {
		case c.ok && serr != nil:
			t.Errorf("POST %s %s: the server accepts it (%d) but docs/openapi.yaml refuses it: %v", c.path, c.body, r.status, serr)
		case !c.ok && serr == nil:
			t.Errorf("POST %s %s: docs/openapi.yaml accepts it but the server answers %s", c.path, c.body, r.body)
		}
	}
}

// TestOpenAPIListsWhatEveryRouteAnswers checks that every route of
// docs/openapi.yaml lists the 405 a wrong method gets (in the error
// shape), and the reload route its 400.
func TestOpenAPIListsWhatEveryRouteAnswers(t *testing.T) {
	v := loadOpenAPI(t)
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>console</title>")}}
	h := newHarness(t, true, func(o *Options) {
		withSchema(o)
		o.Profiles = mapProfiles{"c-1": {"orders": 3}}
		o.UI = ui
	})
	check := func(method, path, spec, body string, status int) {
		t.Helper()
		r := h.do(method, path, body)
		if r.status != status {
			t.Errorf("%s %s %s: %d, want %d: %s", method, path, body, r.status, status, r.body)
			return
		}
		item := v.doc["paths"].(map[string]any)[spec].(map[string]any)
		for m, op := range item {
			if _, ok := op.(map[string]any)["responses"].(map[string]any)[strconv.Itoa(status)]; !ok {
				t.Errorf("docs/openapi.yaml: %s %s does not list the %d the server answers to %s: %s", strings.ToUpper(m), spec, status, method, r.body)
				return
			}
		}
		var x any
		_ = json.Unmarshal(r.body, &x)
		if err := v.check("$", v.response(t, spec, method, status), x); err != nil {
			t.Errorf("%s %s %d: %v\n%s", method, path, status, err, r.body)
		}
	}
	for spec, item := range v.doc["paths"].(map[string]any) {
		path := strings.Replace(spec, "{id}", "c-1", 1)
		for m := range item.(map[string]any) {
			wrong := "POST"
			if m == "post" {
				wrong = "GET"
			}
			check(wrong, path, spec, "", 405)
		}
	}
	check("POST", "/v1/rules/reload", "/v1/rules/reload", `{"allow_shrink": "yes"}`, 400)
	check("POST", "/v1/rules/reload", "/v1/rules/reload", `[]`, 400)
}

// TestOpenAPIListsEveryErrorCode: every error code the wire package
// defines (its Code* constants, read from its source) is in the Error
// schema's enum, and every refusal code of outcomes is in the refusals'
// enum: a code added to the server and not to the document fails here.
func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	v := loadOpenAPI(t)
	schemas := v.doc["components"].(map[string]any)["schemas"].(map[string]any)
	enumOf := func(s map[string]any) map[string]bool {
		out := map[string]bool{}
		for _, c := range s["enum"].([]any) {
			out[c.(string)] = true
		}
		return out
	}
	errCodes := enumOf(schemas["Error"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any))
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, "../../wire", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, sp := range g.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(n.Name, "Code") && lit.Kind == token.STRING {
							codes[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	if len(codes) < 15 {
		t.Fatalf("read %d codes from wire: %v", len(codes), codes)
	}
	for name, c := range codes {
		if !errCodes[c] {
			t.Errorf("wire.%s = %q is not in docs/openapi.yaml's Error code enum", name, c)
		}
	}
	refusals := enumOf(schemas["Refusal"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any))
	for _, c := range []string{wire.CodeUnknownDecision, wire.CodeCustomerMismatch, wire.CodeDecisionExpired, wire.CodeUnknownOffer, wire.CodeOccurredBefore} {
		if !refusals[c] {
			t.Errorf("refusal code %q is not in docs/openapi.yaml's refusals' enum", c)
		}
	}
}
