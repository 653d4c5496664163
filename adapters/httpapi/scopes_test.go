package httpapi

import (
	"strings"
	"testing"
)

// TestScopes: every route × every kind of key. A key used outside its
// scopes gets 403 forbidden; decide covers POST /v1/decide and POST
// /v1/outcomes, read every GET /v1/ route and dry runs, admin the reload
// and everything read allows; a key without scopes has all three.
func TestScopes(t *testing.T) {
	h := newHarness(t, true, func(o *Options) {
		o.APIKeys = []string{"k-all"} // ARBITER_API_KEYS: every scope
		o.Keys = []APIKey{
			{Key: "k-decide", Scopes: ScopeDecide},
			{Key: "k-read", Scopes: ScopeRead},
			{Key: "k-admin", Scopes: ScopeAdmin},
			{Key: "k-decide-read", Scopes: ScopeDecide | ScopeRead},
			{Key: "k-none", Scopes: 0}, // no scopes written: all three
		}
	})
	outcome := `{"decision_id": "dcs_x", "offer_id": "vip_10", "type": "accepted"}`
	dry := `{"customer_id": "c-1", "dry_run": true}`
	type call struct{ method, path, body string }
	routes := []call{
		{"POST", "/v1/decide", decideBody},
		{"POST", "/v1/decide", dry},
		{"POST", "/v1/outcomes", outcome},
		{"GET", "/v1/rules", ""},
		{"HEAD", "/v1/rules", ""},
		{"GET", "/v1/experiments", ""},
		{"GET", "/v1/budgets", ""},
		{"GET", "/v1/learning", ""},
		{"POST", "/v1/rules/reload", ""},
		{"GET", "/v1/profiles/c-1042", ""},
	}
	// allowed[key][i]: whether the key may call routes[i]
	allowed := map[string][]bool{
		"k-decide":      {true, true, true, false, false, false, false, false, false, false},
		"k-read":        {false, true, false, true, true, true, true, true, false, true},
		"k-admin":       {false, true, false, true, true, true, true, true, true, true},
		"k-decide-read": {true, true, true, true, true, true, true, true, false, true},
		"k-none":        {true, true, true, true, true, true, true, true, true, true},
		"k-all":         {true, true, true, true, true, true, true, true, true, true},
	}
	for key, allow := range allowed {
		for i, rt := range routes {
			r := h.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+key)
			name := rt.method + " " + rt.path
			if rt.body == dry {
				name += " (dry run)"
			}
			switch {
			case allow[i] && (r.status == 403 || r.status == 401):
				t.Errorf("%s with %s: %d %s, want it allowed", name, key, r.status, r.body)
			case !allow[i] && r.status != 403:
				t.Errorf("%s with %s: %d %s, want 403", name, key, r.status, r.body)
			case !allow[i] && rt.method != "HEAD":
				if code, _ := r.errCode(t); code != "forbidden" {
					t.Errorf("%s with %s: code %s, want forbidden", name, key, code)
				}
				if !strings.Contains(string(r.body), "scope") || strings.Contains(string(r.body), key) {
					t.Errorf("%s with %s: the 403 says %s", name, key, r.body)
				}
			}
		}
	}
	v := loadOpenAPI(t)
	for _, rt := range routes[:4] {
		r := h.do(rt.method, rt.path, rt.body, "Authorization", "Bearer k-admin")
		if rt.body == dry || r.status != 403 && rt.path != "/v1/rules" {
			continue
		}
		if rt.path == "/v1/rules" {
			r = h.do(rt.method, rt.path, rt.body, "Authorization", "Bearer k-decide")
		}
		if err := v.check("$", v.response(t, rt.path, rt.method, 403), r.json(t)); err != nil {
			t.Errorf("%s %s 403 against docs/openapi.yaml: %v", rt.method, rt.path, err)
		}
	}
	// Without a key: 401 on /v1/, nothing needed elsewhere.
	for _, rt := range routes {
		if r := h.do(rt.method, rt.path, rt.body); r.status != 401 {
			t.Errorf("%s %s without a key: %d", rt.method, rt.path, r.status)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := h.do("GET", p, ""); r.status != 200 {
			t.Errorf("GET %s without a key: %d", p, r.status)
		}
	}
}

// TestScopeTable: what each method and path needs, routes to come
// included: any GET /v1/ route (GET /v1/profiles/{id}) needs read, the
// console's assets under /ui/ need no key.
func TestScopeTable(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		key          bool
		need         Scope
	}{
		{"POST", "/v1/decide", true, ScopeDecide},
		{"POST", "/v1/outcomes", true, ScopeDecide},
		{"POST", "/v1/rules/reload", true, ScopeAdmin},
		{"GET", "/v1/rules", true, ScopeRead},
		{"GET", "/v1/experiments", true, ScopeRead},
		{"GET", "/v1/profiles/c-1042", true, ScopeRead},
		{"HEAD", "/v1/budgets", true, ScopeRead},
		{"POST", "/v1/anything-new", true, ScopeAdmin},
		{"GET", "/ui/", false, 0},
		{"GET", "/ui/app.js", false, 0},
		{"GET", "/healthz", false, 0},
		{"GET", "/readyz", false, 0},
		{"GET", "/metrics", false, 0},
	} {
		need, key := requiredScope([]byte(tc.method), []byte(tc.path))
		if key != tc.key || (key && need != tc.need) {
			t.Errorf("%s %s: key %v scope %v, want %v %v", tc.method, tc.path, key, need, tc.key, tc.need)
		}
	}
}

func TestParseScopes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Scope
		err  string
	}{
		{"", ScopeAll, ""},
		{"decide", ScopeDecide, ""},
		{"read,admin", ScopeRead | ScopeAdmin, ""},
		{" decide , read ", ScopeDecide | ScopeRead, ""},
		{"decide,reed", 0, `unknown scope "reed"`},
		{"decide,", 0, "empty scope"},
	} {
		got, err := ParseScopes(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "decide, read, admin") {
				t.Errorf("%q: %v, want an error with %q naming the scopes", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestParseScopesHidesKeys: what follows a key on its line is read as its
// scopes, so a file written "NAME KEY" (a label, then the key) or "Bearer
// KEY" put the key where a scope goes, and the error that stops serve
// (stderr, the container's log) printed it. A text that looks like a key
// rather than a misspelt scope is not shown.
func TestParseScopesHidesKeys(t *testing.T) {
	for _, in := range []string{"ck_7f3a9c1e5b2d4a60", "read,ck_7f3a9c1e5b2d4a60", "s3cr3t-Key.0123", "ck_7f3a9c1e5b2d4a60,", "Zm9vYmFyYmF6cXV4cXV1eA=="} {
		_, err := ParseScopes(in)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		for _, part := range strings.Split(in, ",") {
			if part != "" && part != "read" && strings.Contains(err.Error(), part) {
				t.Errorf("%q: the error shows %q: %v", in, part, err)
			}
		}
		if !strings.Contains(err.Error(), "decide, read, admin") {
			t.Errorf("%q: the error does not name the scopes: %v", in, err)
		}
	}
	// A misspelt scope is still shown, to be fixed.
	for _, in := range []string{"reed", "write", "Decide", "read-only"} {
		if _, err := ParseScopes(in); err == nil || !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("%q: %v, want it shown", in, err)
		}
	}
}
