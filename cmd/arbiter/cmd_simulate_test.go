package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCmdSimulate(t *testing.T) {
	const rulesDir, truth = "../../examples/checkout", "../../examples/checkout/shop_truth.yaml"
	bad := filepath.Join(t.TempDir(), "bad_truth.yaml")
	if err := os.WriteFile(bad, []byte("offers: {nope: {default: 0.1}}\nvalue: cart.total\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"text", []string{"--rules", rulesDir, "--truth", truth, "--decisions", "300", "--customers", "200"}, exitOK,
			`(?s)^300 decisions, 200 customers, seed 1.*\nstatic +300 .*\nlearning +300 .*\noracle +300 .*of the oracle's`, `^$`},
		{"no truth", []string{"--rules", rulesDir}, exitUsage, `^$`, `--truth FILE.yaml is required(.|\n)*Usage: arbiter simulate`},
		{"no rules", []string{"--truth", truth}, exitUsage, `^$`, `--rules DIR is required`},
		{"bad seed", []string{"--rules", rulesDir, "--truth", truth, "--seed", "0"}, exitUsage, `^$`, `--seed "0": write a whole number of 1 or more`},
		{"bad decisions", []string{"--rules", rulesDir, "--truth", truth, "--decisions", "0"}, exitUsage, `^$`, `--decisions 0`},
		{"positional", []string{"--rules", rulesDir, "--truth", truth, "x"}, exitUsage, `^$`, `unexpected argument "x"`},
		{"bad truth", []string{"--rules", rulesDir, "--truth", bad}, exitFail, `^$`,
			"the truth file does not load:\n.*bad_truth.yaml:1:10: `nope` is not an offer of the rules"},
		{"missing truth", []string{"--rules", rulesDir, "--truth", "nope.yaml"}, exitFail, `^$`, `--truth: open nope.yaml`},
		{"help", []string{"--help"}, exitOK, `Usage: arbiter simulate`, `^$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"simulate"}, tc.args...), stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out.String(), errb.String())
			}
			if !regexp.MustCompile(tc.out).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tc.out)
			}
			if !regexp.MustCompile(tc.err).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tc.err)
			}
		})
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"simulate", "--rules", rulesDir, "--truth", truth, "--decisions", "200", "--json", "--seed", "7"},
		stdio{Out: &out, Err: &out}); code != exitOK {
		t.Fatalf("--json: %d %s", code, out.String())
	}
	var rep struct {
		Strategies map[string]map[string]any `json:"strategies"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Strategies) != 3 || rep.Strategies["learning"]["decisions"] != 200.0 {
		t.Errorf("--json: %v %s", err, out.String())
	}
}

// TestDocsSimulateExampleIsCurrent: docs/learning.md shows `arbiter
// simulate` on the example shop with its output; that output is what the
// command prints today (the figures had gone stale once, when the example
// gained its holds).
func TestDocsSimulateExampleIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/learning.md")
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "$ arbiter simulate --rules examples/checkout --truth examples/checkout/shop_truth.yaml\n"
	_, block, ok := strings.Cut(string(doc), cmd)
	if !ok {
		t.Fatalf("docs/learning.md no longer shows %q", strings.TrimSpace(cmd))
	}
	block, _, _ = strings.Cut(block, "```")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"simulate", "--rules", "../../examples/checkout", "--truth", "../../examples/checkout/shop_truth.yaml"},
		stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.String() != block {
		t.Errorf("docs/learning.md shows another output of the command: write what it prints now, and the figures quoted below it\n--- the docs\n%s--- the command\n%s", block, out.String())
	}
}

// TestCmdSimulateSaysWhyNothingIsGranted: a shop whose rules are in euros,
// with no rate for the simulated carts' dollars, and an offer for a
// category the simulated carts never hold, got a report of zeros and
// nothing else; it says now which offers of the truth file were never
// granted and what the simulated traffic is, on stdout with the table and
// on stderr with --json (whose object is unchanged).
func TestCmdSimulateSaysWhyNothingIsGranted(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"rules.yaml": `currency: EUR
profile:
  orders: int
segments:
  - {id: new_customer, when: profile.orders == 0}
offers:
  - id: welcome_5
    segments: [new_customer]
    discount: {amount: 5}
  - id: serum_10
    discount: {percent: 10, items: item.category == "skincare"}
    when: 'any(cart.items, .category == "skincare")'
`,
		"shop_truth.yaml": "offers:\n  welcome_5: {default: 0.1}\n  serum_10: {default: 0.1}\nvalue: cart.total * 0.4 - discount\ndelay: 10\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"simulate", "--rules", dir, "--truth", filepath.Join(dir, "shop_truth.yaml"), "--decisions", "300", "--customers", "100"}
	for _, tc := range []struct {
		name  string
		json  bool
		notes func(out, errOut string) string
	}{
		{"text", false, func(out, _ string) string { return out }},
		{"json", true, func(_, errOut string) string { return errOut }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := args
			if tc.json {
				a = append(append([]string{}, args...), "--json")
			}
			var out, errb bytes.Buffer
			if code := run(context.Background(), a, stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != exitOK {
				t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
			}
			notes := tc.notes(out.String(), errb.String())
			for _, want := range []string{
				"the rules (currency: EUR) have no rate for USD",
				"add USD to rates",
				"never granted: serum_10, welcome_5",
				"carts in USD",
				"shoes, apparel, beauty",
				"checkout, cart and product",
				"2026-11-18T15:00:00Z",
			} {
				if !strings.Contains(notes, want) {
					t.Errorf("no %q in:\n%s", want, notes)
				}
			}
			if tc.json {
				var rep struct {
					Strategies map[string]map[string]any `json:"strategies"`
				}
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Strategies) != 3 {
					t.Errorf("--json: %v %s", err, out.String())
				}
			}
		})
	}
}

// TestCmdSimulateAnotherShop: --traffic and --profiles simulate another
// shop than the example (simulate/testdata/beauty: euros, the basket, a
// skin type): its offers are granted, with no note; the files' problems
// are reported as file:line:col, and --customers does not go with
// --profiles.
func TestCmdSimulateAnotherShop(t *testing.T) {
	const dir = "../../simulate/testdata/beauty"
	base := []string{"--rules", dir + "/rules", "--truth", dir + "/rules/shop_truth.yaml", "--decisions", "3000"}
	tmp := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badTraffic := write("bad_traffic.yaml", "currency: EUR\ncategories: {skincare: {price: [60, 14]}}\n")
	badProfiles := write("bad.jsonl", "{\"id\": \"a\", \"skin_typ\": \"dry\"}\n")
	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"the shop", []string{"--traffic", dir + "/traffic.yaml", "--profiles", dir + "/profiles.jsonl"}, exitOK,
			`(?s)^3000 decisions, 120 customers, seed 1.*\nlearning +3000 +[1-9][0-9]* .*of the oracle's[^\n]*\n[^\n]*\n$`, `^$`},
		{"its traffic, generated customers", []string{"--traffic", dir + "/traffic.yaml", "--customers", "50"}, exitOK,
			`^3000 decisions, 50 customers`, `^$`},
		{"bad traffic", []string{"--traffic", badTraffic}, exitFail, `^$`,
			"the traffic file does not load:\n.*bad_traffic.yaml:2:32: category `skincare`: price \\[60, 14\\] is no range of prices"},
		{"bad profiles", []string{"--profiles", badProfiles}, exitFail, `^$`,
			"the profiles file does not load:\n.*bad.jsonl:1:13: profile.skin_typ: unknown field \\(did you mean `skin_type`\\?"},
		{"missing traffic", []string{"--traffic", "nope.yaml"}, exitFail, `^$`, `--traffic: open nope.yaml`},
		{"missing profiles", []string{"--profiles", "nope.jsonl"}, exitFail, `^$`, `--profiles: open nope.jsonl`},
		{"customers and profiles", []string{"--profiles", dir + "/profiles.jsonl", "--customers", "10"}, exitUsage, `^$`,
			`--customers counts generated customers; with --profiles the customers are the file's: leave --customers out`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append(append([]string{"simulate"}, base...), tc.args...)
			code := run(context.Background(), args, stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out.String(), errb.String())
			}
			if !regexp.MustCompile(tc.out).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tc.out)
			}
			if !regexp.MustCompile(tc.err).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tc.err)
			}
		})
	}
}

// TestDocsSimulateAnotherShopIsCurrent: docs/learning.md shows `arbiter
// simulate` on the second shop (simulate/testdata/beauty), with the first
// line and the last two of its output; they are what the command prints.
func TestDocsSimulateAnotherShopIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/learning.md")
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "$ arbiter simulate --rules simulate/testdata/beauty/rules --truth simulate/testdata/beauty/rules/shop_truth.yaml \\\n" +
		"    --traffic simulate/testdata/beauty/traffic.yaml --profiles simulate/testdata/beauty/profiles.jsonl\n"
	_, block, ok := strings.Cut(string(doc), cmd)
	if !ok {
		t.Fatalf("docs/learning.md no longer shows %q", cmd)
	}
	block, _, _ = strings.Cut(block, "```")
	head, tail, ok := strings.Cut(block, "...\n")
	if !ok {
		t.Fatalf("the output shown is not its first line, ... and its last lines:\n%s", block)
	}
	const dir = "../../simulate/testdata/beauty"
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"simulate", "--rules", dir + "/rules", "--truth", dir + "/rules/shop_truth.yaml",
		"--traffic", dir + "/traffic.yaml", "--profiles", dir + "/profiles.jsonl"},
		stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), head) || !strings.HasSuffix(out.String(), "\n"+tail) {
		t.Errorf("docs/learning.md shows another output of the command: write what it prints now\n--- the docs\n%s--- the command\n%s", block, out.String())
	}
}
