package httpapi

import (
	"strings"
	"sync"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
)

// TestIdempotencyConcurrentAndAcrossReload: sixteen copies of one checkout
// request (one Idempotency-Key, one body) sent at once, then once more
// after a reload that changes the rules, are all answered the one
// decision, byte for byte: the offer capped at one is granted once,
// counted once in the grants metric, and published once.
func TestIdempotencyConcurrentAndAcrossReload(t *testing.T) {
	src := &reloadable{src: strings.Replace(holdRules, "total: 2", "total: 1", 1)}
	h := newEngineHarness(t, src.src, func(o *Options) {
		src.rl = rulefiles.New("testdata/rules", rulefiles.Options{Logger: quietLog(), Load: src.load})
		if _, err := src.rl.Reload(rulefiles.TriggerStart); err != nil {
			t.Fatal(err)
		}
		o.Rules = src.rl
		o.Engine = engine.New(engine.Options{Ledger: o.Grants.(engine.Ledger), Observer: o.Metrics})
	})
	body := `{"customer_id": "c-1", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 50, "quantity": 1}]}}`
	var wg sync.WaitGroup
	out := make([]resp, 16)
	for i := range out {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = h.do("POST", "/v1/decide", body, "Idempotency-Key", "order-1") }()
	}
	wg.Wait()
	h.srv.pending.Wait()
	src.reload(t, strings.Replace(src.src, "title: $10 off", "title: Ten off", 1))
	out = append(out, h.do("POST", "/v1/decide", body, "Idempotency-Key", "order-1"))
	fresh := 0
	for i, r := range out {
		if r.status != 200 || string(r.body) != string(out[0].body) {
			t.Fatalf("request %d: %d %s\nwant the one answer %s", i, r.status, r.body, out[0].body)
		}
		if r.header["Idempotent-Replayed"] == "" {
			fresh++
		}
	}
	if fresh != 1 || !strings.Contains(string(out[0].body), `"first_1000_app"`) {
		t.Errorf("%d answers decided afresh, want 1; the answer: %s", fresh, out[0].body)
	}
	if n := len(h.sink.events()); n != 1 {
		t.Errorf("%d decision events published, want 1", n)
	}
	if m := string(h.do("GET", "/metrics", "").body); !strings.Contains(m, `arbiter_grants_total{offer="first_1000_app"} 1`+"\n") {
		t.Errorf("the grant is not counted once in the metrics:\n%s", grepLines(m, "arbiter_grants_total"))
	}
	// The offer's one unit is gone: another checkout does not get it.
	if _, acts := h.decide(t, "c-2"); len(acts) > 0 && acts[0] == "first_1000_app" {
		t.Errorf("a second customer was granted the offer capped at 1: %v", acts)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
