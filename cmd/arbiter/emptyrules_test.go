package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeEmptiedRuleFileUnderLoad is the fault run's `: > rules.yaml`
// against the binary: while decisions run, the only offer's file is
// emptied (the watcher reloads), then cut to its first line (`offers:`, a
// truncated copy). Neither is served: every decision keeps its action, the
// log says why at error or warn (never "rules loaded"), the metrics count
// an error and a refusal.
func TestServeEmptiedRuleFileUnderLoad(t *testing.T) {
	sb := startServe(t)
	_, rv, _ := getJSON(sb.base + "/v1/rules")
	version, _ := rv["version"].(string)
	src, _ := rv["source"].(string)
	offer := filepath.Join(src, "offers", "welcome.yaml")
	full, err := os.ReadFile(offer)
	if err != nil || version == "" {
		t.Fatalf("rules: %v %v", rv, err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var decisions, bad atomic.Int64
	var firstBad atomic.Value
	client := &http.Client{Timeout: 5 * time.Second}
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
				res, err := client.Post(sb.base+"/v1/decide", "application/json", strings.NewReader(`{"customer_id": "c-1", "placement": "checkout"}`))
				if err != nil {
					continue
				}
				var d struct {
					Ruleset string            `json:"ruleset"`
					Actions []json.RawMessage `json:"actions"`
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				_ = json.Unmarshal(b, &d)
				decisions.Add(1)
				if res.StatusCode != 200 || len(d.Actions) == 0 || d.Ruleset != version {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%d %s", res.StatusCode, b))
				}
			}
		}()
	}
	rulesState := func() (string, string) {
		_, m, _ := getJSON(sb.base + "/v1/rules")
		le, _ := m["last_error"].(map[string]any)
		code, _ := le["code"].(string)
		msg, _ := le["message"].(string)
		if errs, ok := le["errors"].([]any); ok && len(errs) > 0 {
			msg, _ = errs[0].(map[string]any)["text"].(string)
		}
		return code, msg
	}
	// emptied
	if err := os.WriteFile(offer, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, "the empty file's error at /v1/rules", 15*time.Second, func() bool {
		code, msg := rulesState()
		return code == "invalid_rules" && strings.Contains(msg, "offers/welcome.yaml:1:1: empty rule file")
	})
	// cut after its first line: a valid ruleset with no offer
	if err := os.WriteFile(offer, full[:strings.IndexByte(string(full), '\n')+1], 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, "the refusal at /v1/rules", 15*time.Second, func() bool {
		code, _ := rulesState()
		return code == "shrink_refused"
	})
	close(stop)
	wg.Wait()
	if bad.Load() > 0 || decisions.Load() == 0 {
		t.Errorf("%d of %d decisions without their action or on another ruleset (first: %v)", bad.Load(), decisions.Load(), firstBad.Load())
	}
	_, m, _ := getJSON(sb.base + "/v1/rules")
	if m["version"] != version {
		t.Errorf("serving %v, want %s", m["version"], version)
	}
	res, err := http.Get(sb.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`arbiter_rules_reloads_total{result="error"}`, `arbiter_rules_reloads_total{result="refused"}`, "arbiter_rules_last_reload_success 0"} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	var loaded int
	for _, line := range strings.Split(sb.logs.String(), "\n") {
		switch {
		case strings.Contains(line, `"msg":"rules loaded"`):
			loaded++
		case strings.Contains(line, "empty rule file") && !strings.Contains(line, `"level":"ERROR"`):
			t.Errorf("the empty file logged below error: %s", line)
		case strings.Contains(line, "rules reload held back") && !strings.Contains(line, `"level":"WARN"`):
			t.Errorf("the refusal logged below warn: %s", line)
		}
	}
	if loaded != 1 || !strings.Contains(sb.logs.String(), "rules reload held back") {
		t.Errorf("%d \"rules loaded\" lines (want the start's only), or no refusal in the log", loaded)
	}
}
