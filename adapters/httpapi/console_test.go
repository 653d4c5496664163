package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// schemaRuleset is the stub ruleset with a profile schema.
func schemaRuleset() *rules.Ruleset {
	rs := stubRuleset("v-schema")
	rs.Schema = rules.Schema{Fields: []rules.Field{
		{Name: "orders", Type: rules.TypeInt, Default: 0},
		{Name: "last_order_at", Type: rules.TypeTime, Default: time.Time{}},
		{Name: "tier", Type: rules.TypeString, Default: "basic"},
		{Name: "top_categories", Type: rules.TypeStringList, Default: []string(nil)},
	}}
	return rs
}

// withSchema makes the harness serve schemaRuleset.
func withSchema(o *Options) {
	r := rulefiles.New("testdata/rules", rulefiles.Options{Logger: quietLog(),
		Load: func() (*rules.Ruleset, error) { return schemaRuleset(), nil }})
	if _, err := r.Reload(rulefiles.TriggerStart); err != nil {
		panic(err)
	}
	o.Rules = r
}

// mapProfiles is a ProfileSource over a map of stored profiles.
type mapProfiles map[string]map[string]any

func (m mapProfiles) Get(_ context.Context, schema *rules.Schema, id string) (*engine.Profile, error) {
	stored, ok := m[id]
	if !ok {
		return nil, nil
	}
	attrs := map[string]any{"id": id, "known": true}
	for _, f := range schema.Fields {
		if v, ok := stored[f.Name]; ok {
			attrs[f.Name] = v
		} else {
			attrs[f.Name] = f.DefaultValue()
		}
	}
	return &engine.Profile{ID: id, Known: true, Attrs: attrs}, nil
}

func TestGetProfile(t *testing.T) {
	last := time.Date(2026, 10, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	store := mapProfiles{"c-1": {"orders": 3, "last_order_at": last, "tier": "gold", "top_categories": []string{"shoes"}}}
	h := newHarness(t, true, func(o *Options) { withSchema(o); o.Profiles = store })

	r := h.do("GET", "/v1/profiles/c-1", "")
	if r.status != 200 {
		t.Fatalf("GET /v1/profiles/c-1: %d %s", r.status, r.body)
	}
	want := `{"id":"c-1","last_order_at":"2026-10-02T08:30:00Z","orders":3,"tier":"gold","top_categories":["shoes"]}`
	if string(r.body) != want {
		t.Errorf("GET /v1/profiles/c-1:\n got %s\nwant %s", r.body, want)
	}
	// The JSON form goes back in as an inline profile unchanged.
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"dry_run": true, "profile": m})
	if r := h.do("POST", "/v1/decide", string(b)); r.status != 200 {
		t.Errorf("the profile's JSON form as an inline profile: %d %s", r.status, r.body)
	}
	_, p := h.engine.last()
	if p == nil || p.ID != "c-1" || p.Value("orders") != 3 || !p.Value("last_order_at").(time.Time).Equal(last) {
		t.Errorf("the engine was given %+v, want the stored profile back", p)
	}

	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/profiles/nobody", 404, "not_found"},
		{"/v1/profiles/", 400, "invalid_request"},
		{"/v1/profiles/a/b", 400, "invalid_request"},
		{"/v1/profiles/" + strings.Repeat("x", 129), 400, "invalid_request"},
	} {
		r := h.do("GET", c.path, "")
		if code, _ := r.errCode(t); r.status != c.status || code != c.code {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, r.status, code, c.status, c.code)
		}
	}
	if r := h.do("POST", "/v1/profiles/c-1", "{}"); r.status != 405 {
		t.Errorf("POST /v1/profiles/c-1: %d, want 405", r.status)
	}

	// Without a store: 404; with keys: 401 without one.
	h2 := newHarness(t, true, func(o *Options) { withSchema(o); o.APIKeys = []string{"k1"}; o.Profiles = store })
	if r := h2.do("GET", "/v1/profiles/c-1", ""); r.status != 401 {
		t.Errorf("GET /v1/profiles/c-1 without a key: %d, want 401", r.status)
	}
	if r := h2.do("GET", "/v1/profiles/c-1", "", "Authorization", "Bearer k1"); r.status != 200 {
		t.Errorf("GET /v1/profiles/c-1 with a key: %d, want 200", r.status)
	}
	h3 := newHarness(t, true, withSchema)
	if r := h3.do("GET", "/v1/profiles/c-1", ""); r.status != 404 {
		t.Errorf("GET /v1/profiles/c-1 with no profile store: %d, want 404", r.status)
	}
}

// TestGetProfileIDDecodedOnce: the id in GET /v1/profiles/{id} is
// percent-decoded once, as the console encodes it (encodeURIComponent): a
// second decode read "a%2541" as customer "aA", and "100%25off" as a bad
// escape; a "/" in an id (%2F) names that customer, not a path.
func TestGetProfileIDDecodedOnce(t *testing.T) {
	store := mapProfiles{"100%off": {"orders": 1}, "aA": {"orders": 7}, "a%41": {"orders": 2},
		"c-1": {"orders": 3}, "x/../c-1": {"orders": 4}, "a b+c": {"orders": 5}}
	h := newHarness(t, true, func(o *Options) { withSchema(o); o.Profiles = store })
	for _, c := range []struct {
		path, id string // id: the customer whose profile must come back
	}{
		{"/v1/profiles/100%25off", "100%off"},
		{"/v1/profiles/a%2541", "a%41"},
		{"/v1/profiles/aA", "aA"},
		{"/v1/profiles/a%41", "aA"},
		{"/v1/profiles/x%2F..%2Fc-1", "x/../c-1"},
		{"/v1/profiles/a%20b+c", "a b+c"},
		{"/v1/profiles/c-1?x=1", "c-1"},
	} {
		r := h.do("GET", c.path, "")
		if r.status != 200 {
			t.Errorf("GET %s: %d %s, want customer %q's profile", c.path, r.status, r.body, c.id)
			continue
		}
		if got := r.json(t)["id"]; got != c.id {
			t.Errorf("GET %s: the profile of customer %q, want %q's: %s", c.path, got, c.id, r.body)
		}
	}
	for _, path := range []string{"/v1/profiles/a%zz", "/v1/profiles/c-1/", "/v1/profiles/./c-1", "/v1/profiles/x/../c-1"} {
		r := h.do("GET", path, "")
		if r.status != 400 {
			t.Errorf("GET %s: %d %s, want 400 invalid_request on id", path, r.status, r.body)
			continue
		}
		if code, field := r.errCode(t); code != "invalid_request" || field != "id" {
			t.Errorf("GET %s: %s, want invalid_request on id", path, r.body)
		}
	}
}

func TestInlineProfile(t *testing.T) {
	h := newHarness(t, true, withSchema)
	for _, c := range []struct {
		name, body   string
		status       int
		field, match string
		customer     string
	}{
		{name: "ok", body: `{"dry_run":true,"profile":{"id":"c-9","orders":5,"last_order_at":"2026-11-01T00:00:00Z"}}`, status: 200, customer: "c-9"},
		{name: "id from customer_id", body: `{"dry_run":true,"customer_id":"c-7","profile":{"orders":1}}`, status: 200, customer: "c-7"},
		{name: "null is no profile", body: `{"dry_run":true,"customer_id":"c-7","profile":null}`, status: 200, customer: "c-7"},
		{name: "wrong type", body: `{"dry_run":true,"profile":{"id":"c-9","orders":"many"}}`, status: 400, field: "profile.orders", match: "many"},
		{name: "bad time", body: `{"dry_run":true,"profile":{"id":"c-9","last_order_at":"yesterday"}}`, status: 400, field: "profile.last_order_at"},
		{name: "misspelt field", body: `{"dry_run":true,"profile":{"id":"c-9","ordrs":5}}`, status: 400, field: "profile.ordrs", match: `did you mean \"orders\"`},
		{name: "no id", body: `{"dry_run":true,"profile":{"orders":5}}`, status: 400, field: "profile.id"},
		{name: "ids differ", body: `{"dry_run":true,"customer_id":"c-1","profile":{"id":"c-2"}}`, status: 400, field: "profile.id", match: "c-1"},
		{name: "not an object", body: `{"dry_run":true,"profile":[1]}`, status: 400, field: "profile", match: "object"},
		{name: "only on a dry run", body: `{"customer_id":"c-1","profile":{"id":"c-1"}}`, status: 400, field: "profile", match: "dry run"},
		{name: "id with a bidi override", body: `{"dry_run":true,"profile":{"id":"a\u202eb"}}`, status: 400, field: "profile.id", match: "U+202E"},
		{name: "id with a control character", body: `{"dry_run":true,"profile":{"id":"a\u0000b"}}`, status: 400, field: "profile.id", match: "control"},
		{name: "id with a lone surrogate", body: `{"dry_run":true,"profile":{"id":"a\ud800"}}`, status: 400, field: "profile.id", match: "surrogate"},
		{name: "id too long", body: `{"dry_run":true,"profile":{"id":"` + strings.Repeat("x", 3000) + `"}}`, status: 400, field: "profile.id", match: "3000 bytes"},
		{name: "twice", body: `{"dry_run":true,"profile":{"id":"c-1"},"profile":{"id":"c-1"}}`, status: 400, field: "profile", match: "twice"},
		// A field given twice was read as its last value, silently (the
		// playground's edited JSON with a field pasted twice decided on
		// the other value than the one the marketer looked at).
		{name: "a field twice", body: `{"dry_run":true,"profile":{"id":"c-9","orders":"many","orders":3}}`, status: 400, field: "profile.orders", match: "twice"},
		{name: "the id twice", body: `{"dry_run":true,"profile":{"id":"c-9","\u0069d":"c-8"}}`, status: 400, field: "profile.id", match: "twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/v1/decide", c.body)
			if r.status != c.status {
				t.Fatalf("%.300s: %d %.300s, want %d", c.body, r.status, r.body, c.status)
			}
			if c.status != 200 {
				_, field := r.errCode(t)
				if field != c.field || !strings.Contains(string(r.body), c.match) {
					t.Errorf("%s: %s, want field %s and %q in the message", c.body, r.body, c.field, c.match)
				}
				return
			}
			req, p := h.engine.last()
			if req.CustomerID != c.customer {
				t.Errorf("the request's customer is %q, want %q", req.CustomerID, c.customer)
			}
			if strings.Contains(c.body, `"profile":{`) && (p == nil || !p.Known || p.ID != c.customer) {
				t.Errorf("the engine was given the profile %+v, want the inline one of %s", p, c.customer)
			}
			if !strings.Contains(c.body, `"profile":{`) && p != nil {
				t.Errorf("the engine was given a profile %+v with none sent: it must look the customer up", p)
			}
		})
	}
}

func TestConsoleAssets(t *testing.T) {
	ui := fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html><title>console</title>")},
		"app.js":     {Data: []byte("export {};")},
		"app.css":    {Data: []byte("body{}")},
	}
	h := newHarness(t, true, func(o *Options) { o.UI = ui; o.APIKeys = []string{"k1"} })
	for _, c := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/ui/", 200, "text/html; charset=utf-8"},
		{"/ui/index.html", 200, "text/html; charset=utf-8"},
		{"/ui/app.js", 200, "text/javascript; charset=utf-8"},
		{"/ui/app.css", 200, "text/css; charset=utf-8"},
		{"/ui/nope.js", 404, "application/json"},
		{"/", 302, ""},
		{"/ui", 302, ""},
	} {
		r := h.do("GET", c.path, "")
		if r.status != c.status || (c.ctype != "" && r.header["Content-Type"] != c.ctype) {
			t.Errorf("GET %s with keys configured and none sent: %d %s, want %d %s (the assets need no key)", c.path, r.status, r.header["Content-Type"], c.status, c.ctype)
		}
	}
	if r := h.do("GET", "/v1/rules", ""); r.status != 401 {
		t.Errorf("GET /v1/rules without a key: %d, want 401 (the console's data needs one)", r.status)
	}
	if r := h.do("POST", "/ui/app.js", "{}"); r.status != 405 {
		t.Errorf("POST /ui/app.js: %d, want 405", r.status)
	}
	// Without a console: no /ui/ and no redirect.
	h2 := newHarness(t, true, nil)
	for _, p := range []string{"/", "/ui/", "/ui/app.js"} {
		if r := h2.do("GET", p, ""); r.status != 404 {
			t.Errorf("GET %s with --ui=false: %d, want 404", p, r.status)
		}
	}
}

// TestConsoleRedirectIsRelative: "/" and "/ui" redirect to "/ui/" on the
// host and scheme the browser used. The Location was made absolute from
// the Host header and plain http: behind a load balancer that ends TLS,
// https://arbiter.example.com/ sent the browser to
// http://arbiter.example.com/ui/ (and a forged Host anywhere).
func TestConsoleRedirectIsRelative(t *testing.T) {
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>console</title>")}}
	h := newHarness(t, true, func(o *Options) { o.UI = ui })
	handler := h.srv.Handler()
	for _, p := range []string{"/", "/ui"} {
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI(p)
		req.Header.SetHost("arbiter.example.com")
		req.Header.Set("X-Forwarded-Proto", "https")
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		handler(&ctx)
		if loc := string(ctx.Response.Header.Peek("Location")); ctx.Response.StatusCode() != 302 || loc != "/ui/" {
			t.Errorf("GET %s: %d Location %q, want 302 /ui/", p, ctx.Response.StatusCode(), loc)
		}
	}
}
