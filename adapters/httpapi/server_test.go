package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

const decideBody = `{"customer_id": "c-1042", "placement": "checkout", "channel": "web",
 "cart": {"currency": "USD", "items": [{"sku": "SHOE-1", "category": "shoes", "price": 60.25, "quantity": 2}]},
 "context": {"country": "US"}}`

func TestDecideOK(t *testing.T) {
	h := newHarness(t, true, nil)
	r := h.do("POST", "/v1/decide", decideBody)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.header["Content-Type"] != "application/json" {
		t.Errorf("content type %q", r.header["Content-Type"])
	}
	m := r.json(t)
	id, _ := m["decision_id"].(string)
	// A signed id: dcs_, the ULID, the flags, one code (experiment depth's
	// variant), the fleet and customer tags (decisionid).
	if !strings.HasPrefix(id, "dcs_") || len(id) != 4+26+1+5+8+13 {
		t.Errorf("decision id %q", id)
	}
	if d, err := h.srv.signer.Verify(id, "c-1042", time.Now(), time.Hour); err != nil || len(d.Codes) != 1 || d.Holdout {
		t.Errorf("decision id %q: %+v, %v", id, d, err)
	}
	if m["ruleset"] != "v1" || m["customer_id"] != "c-1042" {
		t.Errorf("body %s", r.body)
	}
	if d, ok := m["degraded"].([]any); !ok || len(d) != 0 {
		t.Errorf("degraded should be [] : %s", r.body)
	}
	if _, has := m["explain"]; has {
		t.Error("explain without explain: true")
	}
	req, p := h.engine.last()
	if req.Ref != id[4:30] || req.Now.IsZero() || req.DryRun || req.Placement != "checkout" {
		t.Errorf("engine got %+v", req)
	}
	if p != nil {
		t.Errorf("the handler looked the profile up (%+v): the engine does", p)
	}
	evs := h.sink.events()
	if len(evs) != 1 || evs[0].ID != id || evs[0].Subject("arbiter") != "arbiter.decision.checkout" {
		t.Fatalf("events %v", evs)
	}
	if ev, err := wire.ParseDecisionEvent(evs[0].JSON); err != nil || ev.ID != id || ev.Placement != "checkout" {
		t.Fatalf("event %s: %+v, %v", evs[0].JSON, ev, err)
	}
}

func TestDecideDryRunAndExplain(t *testing.T) {
	h := newHarness(t, true, nil)
	r := h.do("POST", "/v1/decide", `{"customer_id": "c-1", "dry_run": true, "explain": true, "now": "2026-11-28T12:00:00+08:00"}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	ex, ok := m["explain"].(map[string]any)
	if !ok || len(ex["offers"].([]any)) != 2 {
		t.Errorf("explain missing: %s", r.body)
	}
	req, _ := h.engine.last()
	want := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	if !req.DryRun || !req.Now.Equal(want) || req.Placement != "default" {
		t.Errorf("engine got %+v", req)
	}
	if n := len(h.sink.events()); n != 0 {
		t.Errorf("a dry run published %d events", n)
	}
}

func TestErrors(t *testing.T) {
	big := `{"customer_id": "` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name, method, path, body string
		loaded                   bool
		engineErr                error
		status                   int
		code, field              string
	}{
		{"invalid json", "POST", "/v1/decide", `{"customer_id": `, true, nil, 400, "invalid_json", ""},
		{"invalid request", "POST", "/v1/decide", `{"limit": 99}`, true, nil, 400, "invalid_request", "limit"},
		{"now without dry run", "POST", "/v1/decide", `{"now": "2026-11-28T12:00:00Z"}`, true, nil, 400, "invalid_request", "now"},
		{"unknown field", "POST", "/v1/decide", `{"dryrun": true}`, true, nil, 400, "invalid_request", ""},
		{"not found", "GET", "/v2/decide", "", true, nil, 404, "not_found", ""},
		{"method", "GET", "/v1/decide", "", true, nil, 405, "method_not_allowed", ""},
		{"method on healthz", "POST", "/healthz", "", true, nil, 405, "method_not_allowed", ""},
		{"too large", "POST", "/v1/decide", big, true, nil, 413, "payload_too_large", ""},
		{"no ruleset", "POST", "/v1/decide", decideBody, false, nil, 503, "no_ruleset", ""},
		{"outcomes without ruleset", "POST", "/v1/outcomes", `{}`, false, nil, 503, "no_ruleset", ""},
		{"internal", "POST", "/v1/decide", decideBody, true, errors.New("boom"), 500, "internal", ""},
		{"outcome type", "POST", "/v1/outcomes", `{"decision_id": "dcs_1", "customer_id": "c", "offer_id": "o", "type": "clicked"}`, true, nil, 400, "invalid_request", "type"},
		{"outcomes json", "POST", "/v1/outcomes", `[`, true, nil, 400, "invalid_json", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.loaded, nil)
			h.engine.err = tc.engineErr
			r := h.do(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			code, field := r.errCode(t)
			if code != tc.code {
				t.Errorf("code %q, want %q: %s", code, tc.code, r.body)
			}
			if tc.field != "" && field != tc.field {
				t.Errorf("field %q, want %q: %s", field, tc.field, r.body)
			}
			if tc.status == 405 && r.header["Allow"] == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestMethodAllow(t *testing.T) {
	h := newHarness(t, true, nil)
	for path, allow := range map[string]string{
		"/v1/decide": "POST", "/v1/outcomes": "POST", "/v1/rules/reload": "POST",
		"/v1/rules": "GET, HEAD", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD", "/metrics": "GET, HEAD",
	} {
		method := "DELETE"
		r := h.do(method, path, "")
		if r.status != 405 || r.header["Allow"] != allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", method, path, r.status, r.header["Allow"], allow)
		}
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, true, func(o *Options) { o.APIKeys = []string{"k-one", "k-two-longer"} })
	cases := []struct {
		path, auth string
		want       int
	}{
		{"/v1/rules", "", 401},
		{"/v1/rules", "Bearer nope", 401},
		{"/v1/rules", "Bearer k-one-", 401},
		{"/v1/rules", "Basic k-one", 401},
		{"/v1/rules", "Bearer ", 401},
		{"/v1/rules", "Bearer k-one", 200},
		{"/v1/rules", "bearer k-two-longer", 200},
		{"/v1/nothing", "", 404},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/metrics", "", 200},
	}
	for _, tc := range cases {
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		r := h.do("GET", tc.path, "", hdr...)
		if r.status != tc.want {
			t.Errorf("GET %s with %q: %d, want %d", tc.path, tc.auth, r.status, tc.want)
		}
		if tc.want == 401 {
			if code, _ := r.errCode(t); code != "unauthorized" || r.header["WWW-Authenticate"] == "" {
				t.Errorf("401 body %s", r.body)
			}
			if strings.Contains(string(r.body), "k-one") {
				t.Error("a key shows in the response")
			}
		}
	}
	// Every /v1/ route needs the key.
	for _, p := range []string{"/v1/decide", "/v1/outcomes", "/v1/rules/reload"} {
		if r := h.do("POST", p, "{}"); r.status != 401 {
			t.Errorf("POST %s without key: %d", p, r.status)
		}
	}
}

// TestDecideDegraded: a decision the engine degraded is answered 200 with
// its degraded parts, and each part is counted as a Redis error of its
// operation.
func TestDecideDegraded(t *testing.T) {
	h := newHarness(t, true, nil)
	h.engine.degrade = []string{engine.DegradedProfile, engine.DegradedLedger}
	r := h.do("POST", "/v1/decide", decideBody)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if deg := fmt.Sprint(r.json(t)["degraded"]); deg != "[profile_unavailable ledger_unavailable]" {
		t.Errorf("degraded %s", deg)
	}
	body := string(h.do("GET", "/metrics", "").body)
	for _, w := range []string{
		`arbiter_redis_errors_total{op="profile"} 1`,
		`arbiter_redis_errors_total{op="ledger"} 1`,
		`arbiter_decisions_total{placement="checkout",result="degraded"} 1`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %q", w)
		}
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t, true, nil)
	h.rules.version.Store("v2")
	r := h.do("POST", "/v1/rules/reload", "")
	if r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["version"] != "v2" || m["previous"] != "v1" || m["changed"] != true {
		t.Errorf("reload body %s", r.body)
	}
	h.rules.broken.Store(true)
	r = h.do("POST", "/v1/rules/reload", "")
	if r.status != 422 {
		t.Fatalf("broken reload: %d %s", r.status, r.body)
	}
	if code, _ := r.errCode(t); code != "invalid_rules" {
		t.Errorf("code %s", code)
	}
	if m := r.json(t); m["version"] != "v2" || !strings.Contains(string(r.body), "offers.yaml") {
		t.Errorf("422 body %s", r.body)
	}
	r = h.do("GET", "/v1/rules", "")
	m = r.json(t)
	le, ok := m["last_error"].(map[string]any)
	if r.status != 200 || m["version"] != "v2" || !ok {
		t.Fatalf("rules: %d %s", r.status, r.body)
	}
	errs := le["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["line"] != float64(3) {
		t.Errorf("last_error %v", le)
	}
	// The old ruleset keeps serving.
	if r := h.do("POST", "/v1/decide", decideBody); r.status != 200 || r.json(t)["ruleset"] != "v2" {
		t.Errorf("decide after a broken reload: %d %s", r.status, r.body)
	}
	h.rules.broken.Store(false)
	if r := h.do("POST", "/v1/rules/reload", ""); r.status != 200 || r.json(t)["changed"] != false {
		t.Errorf("fixed reload: %d %s", r.status, r.body)
	}
	if m := h.do("GET", "/v1/rules", "").json(t); m["last_error"] != nil {
		t.Errorf("last_error kept: %v", m["last_error"])
	}
}

// TestReloadBody: the body of POST /v1/rules/reload is read as strictly as
// the others: the field at fault is named (a misspelt key by its own
// name), anything after the object is malformed JSON, and a value of the
// wrong type is invalid_request; a refused body reloads nothing.
func TestReloadBody(t *testing.T) {
	h := newHarness(t, true, nil)
	h.rules.version.Store("v2")
	for _, c := range []struct {
		body, code, field, match string
	}{
		{`{"alow_shrink": true}`, "invalid_request", "alow_shrink", `did you mean \"allow_shrink\"`},
		{`{"allow_shrink": true} garbage`, "invalid_json", "", "line 1, column 24"},
		{`{"allow_shrink": true}{"allow_shrink": false}`, "invalid_json", "", "column 23"},
		{`{"allow_shrink": "yes"}`, "invalid_request", "allow_shrink", "true or false"},
		{`{"allow_shrink": true, "allow_shrink": false}`, "invalid_request", "allow_shrink", "twice"},
		{`[true]`, "invalid_request", "", "object"},
		{`{"allow_shrink": `, "invalid_json", "", "line 1"},
	} {
		r := h.do("POST", "/v1/rules/reload", c.body)
		if r.status != 400 {
			t.Errorf("reload with %s: %d %s, want 400 %s", c.body, r.status, r.body, c.code)
			continue
		}
		code, field := r.errCode(t)
		if code != c.code || field != c.field || !strings.Contains(string(r.body), c.match) {
			t.Errorf("reload with %s: %s, want code %s, field %q and %q in the message", c.body, r.body, c.code, c.field, c.match)
		}
	}
	if v := h.do("GET", "/v1/rules", "").json(t)["version"]; v != "v1" {
		t.Errorf("a refused body reloaded the rules: version %v, want v1", v)
	}
	for _, body := range []string{" \n", `{}`, `{"allow_shrink": null}`, `{"allow_shrink": false}`, ` {"allow_shrink": true} `} {
		h.rules.version.Store("v-" + body)
		if r := h.do("POST", "/v1/rules/reload", body); r.status != 200 || r.json(t)["version"] != "v-"+body {
			t.Errorf("reload with %q: %d %s, want 200", body, r.status, r.body)
		}
	}
}

func TestRulesView(t *testing.T) {
	h := newHarness(t, true, nil)
	r := h.do("GET", "/v1/rules", "")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := r.json(t)
	offers := m["offers"].([]any)
	if len(offers) != 2 {
		t.Fatalf("offers %v", offers)
	}
	active := map[string]bool{}
	for _, o := range offers {
		om := o.(map[string]any)
		active[om["id"].(string)] = om["active"].(bool)
	}
	if !active["vip_10"] || active["winter"] {
		t.Errorf("active %v (winter ran in January 2000)", active)
	}
	if len(m["experiments"].([]any)) != 1 || len(m["segments"].([]any)) != 1 {
		t.Errorf("body %s", r.body)
	}
	h2 := newHarness(t, false, nil)
	if r := h2.do("GET", "/v1/rules", ""); r.status != 503 {
		t.Errorf("rules before a load: %d", r.status)
	}
}

func TestReadyz(t *testing.T) {
	checks := map[string]Check{
		"redis": func(context.Context) error { return nil },
		"nats":  func(context.Context) error { return errors.New("nats: no servers available") },
	}
	h := newHarness(t, false, func(o *Options) { o.Checks = checks })
	r := h.do("GET", "/readyz", "")
	if r.status != 503 || r.json(t)["ready"] != false {
		t.Fatalf("before a ruleset: %d %s", r.status, r.body)
	}
	if _, err := h.rules.Reload("start"); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/readyz", "")
	m := r.json(t)
	deps := m["dependencies"].(map[string]any)
	if r.status != 200 || m["ruleset"] != "v1" || deps["redis"] != "up" || deps["nats"] != "down" || deps["rules"] != "up" {
		t.Errorf("after: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/healthz", ""); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
}

func TestMetricsExposition(t *testing.T) {
	h := newHarness(t, true, func(o *Options) { o.APIKeys = []string{"k"} })
	h.srv.Metrics().Granted("vip_10")
	h.srv.Metrics().RuleError("vip")
	h.srv.Metrics().EventStatsFunc(func() (s metrics.EventStats) { return s })
	h.srv.Metrics().CacheStatsFunc(func() (uint64, uint64) { return 7, 3 })
	h.do("POST", "/v1/decide", decideBody, "Authorization", "Bearer k")
	h.do("POST", "/v1/rules/reload", "", "Authorization", "Bearer k")
	r := h.do("GET", "/metrics", "")
	if r.status != 200 || !strings.HasPrefix(r.header["Content-Type"], "text/plain") {
		t.Fatalf("%d %q", r.status, r.header["Content-Type"])
	}
	body := string(r.body)
	want := []string{
		`arbiter_grants_total{offer="vip_10"} 1`,
		`arbiter_rule_errors_total{rule="vip"} 1`,
		`arbiter_rules_reloads_total{result="unchanged"} 1`,
		`arbiter_profile_cache_hits_total 7`,
		`arbiter_profile_cache_misses_total 3`,
		`arbiter_events_published_total 0`,
		`arbiter_events_buffered 0`,
		`arbiter_events_dropped_total 0`,
		`go_goroutines`,
	}
	want = append(want, `arbiter_decisions_total{placement="checkout",result="ok"} 1`, `arbiter_decision_duration_seconds_count 1`)
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %q", w)
		}
	}
}

func TestOutcomes(t *testing.T) {
	h := newHarness(t, true, nil)
	id := h.decisionID("c-1042", time.Now())
	r := h.do("POST", "/v1/outcomes", `{"decision_id": "`+id+`", "customer_id": "c-1042", "offer_id": "vip_10", "type": "converted", "value": 108.45, "currency": "USD"}`)
	if r.status != 202 || string(r.body) != `{"accepted":1,"refused":[]}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	anon := h.decisionID("", time.Now())
	r = h.do("POST", "/v1/outcomes", `{"outcomes": [
	  {"decision_id": "`+h.decisionID("c-1", time.Now())+`", "customer_id": "c-1", "offer_id": "a", "type": "impression"},
	  {"decision_id": "`+anon+`", "offer_id": "b", "type": "accepted"}]}`)
	if r.status != 202 || string(r.body) != `{"accepted":2,"refused":[]}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	evs := h.sink.events()
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	first := outcome(t, evs[0])
	if !strings.HasPrefix(first.ID, "out_") || first.ID != evs[0].ID || first.Value.String() != "108.45" || first.Outcome != "converted" ||
		len(first.Experiments) != 1 || first.Experiments[0] != (wire.Assignment{ID: "depth", Variant: "control"}) ||
		evs[0].Subject("arbiter") != "arbiter.outcome.converted" || first.Schema != 2 || !first.Verified {
		t.Errorf("event %+v", first)
	}
}

func TestIDsUniqueAndOrdered(t *testing.T) {
	var g idGen
	now := time.Now()
	prev := ""
	for i := 0; i < 10000; i++ {
		id := g.next("dcs_", now)
		if id <= prev {
			t.Fatalf("id %d not after the previous: %s <= %s", i, id, prev)
		}
		prev = id
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := newHarness(t, true, func(o *Options) { o.DecisionTimeout = 10 * time.Second })
	h.engine.hold = func() {
		started <- struct{}{}
		<-release
	}
	got := make(chan resp, 1)
	go func() { got <- h.do("POST", "/v1/decide", decideBody) }()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- h.srv.Shutdown(ctx)
	}()
	close(release)
	if r := <-got; r.status != 200 {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestOutcomeValueKeptExact: every value the decoder accepts (up to 2^53
// minor units of the currency) is answered 202 and published exactly, in
// minor units: no float between the decoder and the event.
func TestOutcomeValueKeptExact(t *testing.T) {
	cases := []struct{ value, currency string }{
		{"108.45", "USD"},
		{"2000000000000000", "JPY"},  // 2e15 yen: within 2^53 minor units
		{"9007199254740992", "JPY"},  // 2^53 yen: the decoder's bound
		{"90071992547409.91", "USD"}, // 2^53 - 1 cents: not exact as a float
		{"9007199254740.991", "BHD"}, // 2^53 - 1 fils
		{"0.07", "USD"},
	}
	for _, c := range cases {
		t.Run(c.value+"_"+c.currency, func(t *testing.T) {
			h := newHarness(t, true, nil)
			r := h.do("POST", "/v1/outcomes", `{"decision_id": "`+h.decisionID("", time.Now())+`", "offer_id": "vip_10", "type": "converted", "value": `+c.value+`, "currency": "`+c.currency+`"}`)
			if r.status != 202 {
				t.Fatalf("value %s %s: %d %s", c.value, c.currency, r.status, r.body)
			}
			evs := h.sink.events()
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			if got := outcome(t, evs[0]).Value.String(); got != c.value {
				t.Errorf("event value %s, want %s", got, c.value)
			}
		})
	}
}

// downProfiles is a profile store that cannot be reached.
type downProfiles struct{}

func (downProfiles) Get(context.Context, *rules.Schema, string) (*engine.Profile, error) {
	return nil, errors.New("redis: i/o timeout")
}

// downCounters is experiment counters that cannot be read.
type downCounters struct{}

func (downCounters) View(context.Context, *rules.Ruleset, time.Time) (any, error) {
	return nil, errors.New("redis: i/o timeout")
}

// TestDependencyDownIs503: a dependency that does not answer a read is 503
// with a code that names it; internal is a 500, a bug, and a client that
// retries on the code must not see it for an outage.
func TestDependencyDownIs503(t *testing.T) {
	for _, c := range []struct {
		name, path, code string
		mod              func(*Options)
	}{
		{"profile store", "/v1/profiles/c-1", wire.CodeProfileUnavail, func(o *Options) { withSchema(o); o.Profiles = downProfiles{} }},
		{"experiment counters", "/v1/experiments", wire.CodeCountersUnavail, func(o *Options) { o.Experiments = downCounters{} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, true, c.mod)
			r := h.do("GET", c.path, "")
			if r.status != 503 {
				t.Fatalf("GET %s with the %s down: %d %s, want 503", c.path, c.name, r.status, r.body)
			}
			if code, _ := r.errCode(t); code != c.code {
				t.Errorf("GET %s with the %s down: code %q, want %q (internal is for a bug, a 500): %s", c.path, c.name, code, c.code, r.body)
			}
		})
	}
}

// TestTooLargeNamesTheRouteLimit: a 413 names the limit of the route asked
// (--max-body, at least MinOutcomesBody for POST /v1/outcomes), also for a
// body over the largest limit, which fasthttp refuses before any route.
func TestTooLargeNamesTheRouteLimit(t *testing.T) {
	h := newHarness(t, true, nil) // --max-body 4096
	// The client hands each request to the in-memory pipe in one Write (see
	// newHarness), bodies over 1 MiB too.
	h.client.WriteBufferSize = 2 * MinOutcomesBody
	for _, c := range []struct {
		path  string
		size  int
		limit int
	}{
		{"/v1/decide", 5000, 4096},
		{"/v1/decide", MinOutcomesBody + 100_000, 4096},
		{"/v1/rules/reload", MinOutcomesBody + 100_000, 4096},
		{"/v1/outcomes", MinOutcomesBody + 100_000, MinOutcomesBody},
	} {
		r := h.do("POST", c.path, `{"customer_id": "`+strings.Repeat("x", c.size)+`"}`)
		if r.status != 413 {
			t.Errorf("POST %s with %d bytes: %d %.200s, want 413", c.path, c.size, r.status, r.body)
			continue
		}
		if want := fmt.Sprintf("the limit of %d bytes", c.limit); !strings.Contains(string(r.body), want) {
			t.Errorf("POST %s with %d bytes: %s, want %q: the route's limit", c.path, c.size, r.body, want)
		}
	}
}
