package httpapi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestReadyzUpDown: /readyz needs no key, says up or down per dependency
// (redis, nats, rules) and never echoes a check's error, which names hosts
// and users; 200 once a ruleset serves, else 503.
func TestReadyzUpDown(t *testing.T) {
	checks := map[string]Check{
		"redis": func(context.Context) error {
			return errors.New("dial tcp redis-7.internal.example:6379: WRONGPASS invalid username-password pair or user arbiter-svc is disabled")
		},
		"nats": func(context.Context) error { return nil },
	}
	h := newHarness(t, false, func(o *Options) { o.Checks, o.APIKeys = checks, []string{"k-secret"} })
	v := loadOpenAPI(t)
	for _, loaded := range []bool{false, true} {
		if loaded {
			if _, err := h.rules.Reload("start"); err != nil {
				t.Fatal(err)
			}
		}
		r := h.do("GET", "/readyz", "")
		want, rules := 503, "down"
		if loaded {
			want, rules = 200, "up"
		}
		if r.status != want {
			t.Errorf("loaded %v: %d %s, want %d", loaded, r.status, r.body, want)
		}
		m := r.json(t)
		deps, _ := m["dependencies"].(map[string]any)
		if deps["redis"] != "down" || deps["nats"] != "up" || deps["rules"] != rules || len(deps) != 3 {
			t.Errorf("loaded %v: dependencies %v, want redis down, nats up, rules %s", loaded, deps, rules)
		}
		for _, leak := range []string{"redis-7.internal", "arbiter-svc", "WRONGPASS", "6379"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("loaded %v: /readyz echoes %q: %s", loaded, leak, r.body)
			}
		}
		if err := v.check("$", v.response(t, "/readyz", "GET", want), m); err != nil {
			t.Errorf("against docs/openapi.yaml: %v", err)
		}
	}
}
