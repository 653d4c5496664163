package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecideUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no rules", []string{"--profile", "p.json"}, "--rules DIR is required"},
		{"no profile", []string{"--rules", "dir"}, "--profile FILE.json is required"},
		{"stray argument", []string{"--rules", "dir", "--profile", "p.json", "extra"}, `unexpected argument "extra"`},
		{"bad now", []string{"--rules", "dir", "--profile", "p.json", "--now", "tomorrow"}, "RFC 3339"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"decide"}, c.args...)...)
			if code != exitUsage || !strings.Contains(errs, c.want) || !strings.Contains(errs, "Usage: arbiter decide") || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 with %q and the help", code, out, errs, c.want)
			}
		})
	}
}

func TestDecideInputErrors(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(ruleTestdata, "pass")
	cases := []struct {
		name    string
		profile string // a body, or "" for a missing file
		request string // a body, "" for none
		rules   string
		want    string
	}{
		{"missing profile file", "", "", rulesDir, "--profile: open"},
		{"profile not JSON", "{\n  \"id\": \"c1\",\n}", "", rulesDir, "bad.json: invalid JSON at line 3, column 1"},
		{"profile an array", `[1]`, "", rulesDir, "must be a JSON object, not a JSON array"},
		{"profile empty", ``, "", rulesDir, "the file is empty"},
		{"profile bad field", `{"id": "c1", "ltv": "lots"}`, "", rulesDir, "bad.json: profile.ltv"},
		{"request bad field", `{"id": "c1"}`, `{"placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 1.001, "quantity": 1}]}}`, rulesDir, "req.json: cart.items[0].price: has more decimals"},
		{"request bad JSON", `{"id": "c1"}`, "{\"placement\": }", rulesDir, "req.json: invalid JSON at line 1, column 15"},
		{"request other customer", `{"id": "c1"}`, `{"customer_id": "c2"}`, rulesDir, `is not the profile's id`},
		{"rule errors", `{"id": "c1"}`, "", filepath.Join(ruleTestdata, "broken"), "rules.yaml:5:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			profile := filepath.Join(dir, "missing.json")
			if c.name != "missing profile file" {
				profile = writeFile(t, dir, "bad.json", c.profile)
			}
			args := []string{"decide", "--rules", c.rules, "--profile", profile}
			if c.request != "" {
				args = append(args, "--request", writeFile(t, dir, "req.json", c.request))
			}
			code, out, errs := runCLI(t, args...)
			if code != exitFail || !strings.Contains(errs, c.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 with %q", code, out, errs, c.want)
			}
		})
	}
}

func TestDecideVIP(t *testing.T) {
	dir := t.TempDir()
	profile := writeFile(t, dir, "c1.json", `{"id": "c1", "ltv": 1500, "orders": 7, "last_order_at": "2026-11-01T00:00:00Z"}`)
	request := writeFile(t, dir, "req.json", `{"placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 60, "quantity": 2}]}}`)
	code, out, errs := runCLI(t, "decide", "--rules", filepath.Join(ruleTestdata, "pass"), "--profile", profile, "--request", request, "--now", "2026-11-28T12:00:00+08:00")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var d struct {
		DecisionID string   `json:"decision_id"`
		CustomerID string   `json:"customer_id"`
		Segments   []string `json:"segments"`
		Actions    []struct {
			OfferID  string `json:"offer_id"`
			Discount *struct {
				Amount json.Number `json:"amount"`
			} `json:"discount"`
		} `json:"actions"`
		Explain *struct {
			Offers []struct {
				ID     string `json:"id"`
				Chosen bool   `json:"chosen"`
			} `json:"offers"`
		} `json:"explain"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if d.CustomerID != "c1" || len(d.Actions) != 2 || d.Actions[0].OfferID != "vip_10" || d.Actions[0].Discount == nil ||
		d.Actions[0].Discount.Amount != "12.00" || d.Explain == nil || len(d.Explain.Offers) != 2 {
		t.Errorf("decision:\n%s", out)
	}
	if !strings.HasPrefix(out, "{\n  \"") {
		t.Errorf("not indented:\n%s", out)
	}

	// Without a request: placement default, no cart; vip_10 is for checkout only.
	code, out, errs = runCLI(t, "decide", "--rules", filepath.Join(ruleTestdata, "pass"), "--profile", profile, "--now", "2026-11-28T12:00:00+08:00")
	if code != exitOK || !strings.Contains(out, `"offer_id": "join_loyalty"`) || strings.Contains(out, `"offer_id": "vip_10"`) {
		t.Errorf("no request: exit %d, %s %s", code, out, errs)
	}
}
