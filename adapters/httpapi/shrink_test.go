package httpapi

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
)

// shrinkingRules is a Reloader over a compiler whose ruleset has n offers.
func shrinkingRules(t testing.TB, n *atomic.Int32, m *metrics.Metrics) *rulefiles.Reloader {
	r := rulefiles.New("testdata/rules", rulefiles.Options{Logger: quietLog(), OnReload: RecordReload(m),
		Load: func() (*rules.Ruleset, error) {
			rs := stubRuleset(fmt.Sprintf("v%d", n.Load()))
			rs.Offers = nil
			for i := 0; i < int(n.Load()); i++ {
				rs.Offers = append(rs.Offers, &rules.Offer{ID: fmt.Sprintf("offer_%d", i), Kind: rules.KindAction})
			}
			return rs, nil
		}})
	if _, err := r.Reload(rulefiles.TriggerStart); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReloadShrinkRefused: POST /v1/rules/reload of rules that drop more
// than half of the offers answers 409 shrink_refused, the old ruleset
// serves, /v1/rules and the metrics say so; {"allow_shrink": true} lets it
// through.
func TestReloadShrinkRefused(t *testing.T) {
	var n atomic.Int32
	n.Store(4)
	m := metrics.New()
	rl := shrinkingRules(t, &n, m)
	h := newHarness(t, true, func(o *Options) { o.Rules, o.Metrics = rl, m })

	n.Store(1)
	r := h.do("POST", "/v1/rules/reload", "")
	if r.status != 409 {
		t.Fatalf("shrinking reload: %d %s, want 409", r.status, r.body)
	}
	if code, _ := r.errCode(t); code != "shrink_refused" {
		t.Errorf("code %s, want shrink_refused", code)
	}
	if !strings.Contains(string(r.body), "allow_shrink") || r.json(t)["version"] != "v4" {
		t.Errorf("409 body %s", r.body)
	}
	v := loadOpenAPI(t)
	if err := v.check("$", v.response(t, "/v1/rules/reload", "POST", 409), r.json(t)); err != nil {
		t.Errorf("409 against docs/openapi.yaml: %v", err)
	}
	rv := h.do("GET", "/v1/rules", "").json(t)
	le, _ := rv["last_error"].(map[string]any)
	if err := v.check("$", v.response(t, "/v1/rules", "GET", 200), rv); err != nil {
		t.Errorf("GET /v1/rules against docs/openapi.yaml: %v", err)
	}
	if rv["version"] != "v4" || le == nil || le["code"] != "shrink_refused" || !strings.Contains(fmt.Sprint(le["message"]), "3 of the 4 offers") {
		t.Errorf("GET /v1/rules after a refused reload: version %v, last_error %v", rv["version"], le)
	}
	met := string(h.do("GET", "/metrics", "").body)
	for _, want := range []string{`arbiter_rules_reloads_total{result="refused"} 1`, "arbiter_rules_last_reload_success 0"} {
		if !strings.Contains(met, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := h.do("POST", "/v1/rules/reload", `{"allow_shrink": "yes"}`); r.status != 400 {
		t.Errorf("a bad body: %d %s, want 400", r.status, r.body)
	}
	if r := h.do("POST", "/v1/rules/reload", `{"allow_shrink": false}`); r.status != 409 {
		t.Errorf("allow_shrink false: %d %s, want 409", r.status, r.body)
	}
	r = h.do("POST", "/v1/rules/reload", `{"allow_shrink": true}`)
	if r.status != 200 || r.json(t)["version"] != "v1" {
		t.Fatalf("allowed shrink: %d %s", r.status, r.body)
	}
	if rv := h.do("GET", "/v1/rules", "").json(t); rv["last_error"] != nil {
		t.Errorf("last_error kept after the allowed reload: %v", rv["last_error"])
	}
	if met := string(h.do("GET", "/metrics", "").body); !strings.Contains(met, "arbiter_rules_last_reload_success 1") {
		t.Error("the success gauge is not back to 1")
	}
}

// TestEmptyFileUnderLoad: decisions run while the rule file is emptied,
// cut to comments and truncated, and reloaded again and again (the fault
// run's `: > rules.yaml`); no decision answers without an action.
func TestEmptyFileUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offers.yaml")
	var full strings.Builder
	full.WriteString("offers:\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&full, "  - id: offer_%d\n    kind: action\n    priority: %d\n", i, 10+i)
	}
	writeFile := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(full.String())
	m := metrics.New()
	rl := rulefiles.New(dir, rulefiles.Options{Logger: quietLog(), OnReload: RecordReload(m)})
	if _, err := rl.Reload(rulefiles.TriggerStart); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{Ledger: memledger.New()})
	h := newHarness(t, true, func(o *Options) { o.Rules, o.Engine, o.Metrics = rl, eng, m })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var decisions, empty atomic.Int64
	var firstBad atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := h.do("POST", "/v1/decide", decideBody)
				decisions.Add(1)
				if r.status != 200 || !strings.Contains(string(r.body), `"offer_id"`) {
					empty.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%d %s", r.status, r.body))
				}
			}
		}()
	}
	lines := strings.SplitAfter(full.String(), "\n")
	for round := 0; round < 20; round++ {
		for _, bad := range []string{"", "# emptied\n", "---\n", strings.Join(lines[:round%len(lines)], "")} {
			writeFile(bad)
			_, _ = rl.Reload(rulefiles.TriggerWatch)
		}
		writeFile(full.String())
		if _, err := rl.Reload(rulefiles.TriggerWatch); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if empty.Load() > 0 {
		t.Errorf("%d of %d decisions had no action (first: %v)", empty.Load(), decisions.Load(), firstBad.Load())
	}
	if decisions.Load() == 0 {
		t.Error("no decision ran")
	}
}
