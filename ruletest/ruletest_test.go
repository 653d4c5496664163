package ruletest

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

func ptr[T any](v T) *T { return &v }

func TestCompare(t *testing.T) {
	d := &engine.Decision{
		Segments: []string{"vip", "big_cart"},
		Actions: []engine.Action{
			{OfferID: "vip_10", Kind: "discount", Discount: &engine.DiscountResult{Amount: engine.Money{Minor: 1200, Exp: 2}, Currency: "USD"}},
			{OfferID: "join_loyalty", Kind: "action"},
		},
		Experiments: []engine.Assignment{{ID: "depth", Variant: "control"}},
		Currency:    "USD",
	}
	cases := []struct {
		name string
		exp  rules.Expect
		want []string // the What of each mismatch
	}{
		{"nothing checked", rules.Expect{}, nil},
		{"all met", rules.Expect{
			Segments: []string{"vip"}, NotSegments: []string{"staff"}, Actions: []string{"vip_10", "join_loyalty"},
			DiscountTotal: ptr(12.0), Experiments: map[string]string{"depth": "control"}, Holdout: ptr(false),
		}, nil},
		{"segment missing", rules.Expect{Segments: []string{"vip", "new"}}, []string{"segments"}},
		{"segment present", rules.Expect{NotSegments: []string{"big_cart"}}, []string{"not_segments"}},
		{"actions order", rules.Expect{Actions: []string{"join_loyalty", "vip_10"}}, []string{"actions"}},
		{"actions none expected", rules.Expect{Actions: []string{}}, []string{"actions"}},
		{"discount off by a cent", rules.Expect{DiscountTotal: ptr(12.01)}, []string{"discount_total"}},
		// more decimals than the currency has: never equal (docs/rule-tests.md), not rounded to it
		{"discount a tenth of a cent above", rules.Expect{DiscountTotal: ptr(12.001)}, []string{"discount_total"}},
		{"discount half a cent below", rules.Expect{DiscountTotal: ptr(11.995)}, []string{"discount_total"}},
		{"discount written with trailing zeros", rules.Expect{DiscountTotal: ptr(12.000)}, nil},
		{"experiment variant", rules.Expect{Experiments: map[string]string{"depth": "deep"}}, []string{"experiments"}},
		{"experiments none expected", rules.Expect{Experiments: map[string]string{}}, []string{"experiments"}},
		{"experiment not enrolled expected", rules.Expect{Experiments: map[string]string{"depth": "control", "other": ""}}, nil},
		{"experiment enrolled, none expected", rules.Expect{Experiments: map[string]string{"depth": ""}}, []string{"experiments"}},
		{"holdout", rules.Expect{Holdout: ptr(true)}, []string{"holdout"}},
		{"several", rules.Expect{Segments: []string{"x"}, Actions: []string{}, Holdout: ptr(true)}, []string{"segments", "actions", "holdout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms := Compare(c.exp, d, "USD")
			var got []string
			for _, m := range ms {
				got = append(got, m.What)
				if m.Expected == "" || m.Got == "" {
					t.Errorf("mismatch %+v: expected and got must both be said", m)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("mismatches %v (%+v), want %v", got, ms, c.want)
			}
		})
	}
	ms := Compare(rules.Expect{DiscountTotal: ptr(12.01)}, d, "USD")
	if ms[0].Expected != "12.01 USD" || ms[0].Got != "12.00 USD" {
		t.Errorf("discount_total mismatch reads %+v", ms[0])
	}
	ms = Compare(rules.Expect{DiscountTotal: ptr(12.001)}, d, "USD")
	if len(ms) != 1 || ms[0].Expected != "12.001 USD" || ms[0].Got != "12.00 USD" {
		t.Errorf("discount_total with more decimals than USD has reads %+v", ms)
	}
	jpy := &engine.Decision{Currency: "JPY", Actions: []engine.Action{{OfferID: "o", Kind: "discount",
		Discount: &engine.DiscountResult{Amount: engine.Money{Minor: 1250}, Currency: "JPY"}}}}
	for _, c := range []struct {
		want float64
		ok   bool
	}{{1250, true}, {1250.4, false}, {1249.5, false}, {1251, false}} {
		if ms := Compare(rules.Expect{DiscountTotal: ptr(c.want)}, jpy, "JPY"); (len(ms) == 0) != c.ok {
			t.Errorf("discount_total %v on 1250 JPY: mismatches %+v", c.want, ms)
		}
	}
}

func TestPrepare(t *testing.T) {
	rs := &rules.Ruleset{
		Schema:      rules.Schema{Fields: []rules.Field{{Name: "ltv", Type: rules.TypeNumber, Default: 0.0}}},
		Arbitration: rules.Arbitration{MaxActions: 2},
	}
	cases := []struct {
		name             string
		profile, request map[string]any
		wantID           string
		wantKnown        bool
		wantErr          string
	}{
		{"id from the profile", map[string]any{"id": "c1", "ltv": 10}, map[string]any{"placement": "checkout"}, "c1", true, ""},
		{"id from the request", map[string]any{"ltv": 10}, map[string]any{"customer_id": "c2"}, "c2", true, ""},
		{"same id twice", map[string]any{"id": "c3"}, map[string]any{"customer_id": "c3"}, "c3", true, ""},
		{"ids differ", map[string]any{"id": "c3"}, map[string]any{"customer_id": "c4"}, "", false, "is not the profile's id"},
		{"anonymous", nil, nil, "", false, ""},
		{"unknown customer", nil, map[string]any{"customer_id": "c5"}, "c5", false, ""},
		{"bad profile value", map[string]any{"id": "c1", "ltv": "lots"}, nil, "", false, "profile: profile.ltv"},
		{"no id at all", map[string]any{"ltv": 1}, nil, "", false, "profile: profile.id"},
		{"bad request field", nil, map[string]any{"cart": map[string]any{"currency": "USD", "items": []any{map[string]any{"sku": "A", "price": -1, "quantity": 1}}}}, "", false, "request: cart.items[0].price: must not be negative"},
		{"limit over max_actions", nil, map[string]any{"limit": 3}, "", false, "request: limit"},
		{"yaml map keys", nil, map[string]any{"context": map[any]any{"country": "US", 1: true}}, "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, p, err := Prepare(rs, c.profile, c.request)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.CustomerID != c.wantID || p.ID != c.wantID || p.Known != c.wantKnown {
				t.Errorf("request id %q, profile id %q known %v; want %q known %v", req.CustomerID, p.ID, p.Known, c.wantID, c.wantKnown)
			}
			if !req.DryRun || !req.Explain || req.DecisionID != DecisionID {
				t.Errorf("request %+v: want a dry run with explain and id %s", req, DecisionID)
			}
		})
	}
}

// A case without now is decided at DefaultNow (a fixed time).
func TestRunDefaultNow(t *testing.T) {
	rs := &rules.Ruleset{Tests: []rules.TestCase{{Name: "no time", Pos: rules.Pos{File: "a_test.yaml", Line: 3}}}}
	res := Run(context.Background(), rs, engine.New(engine.Options{}))
	if len(res) != 1 || !res[0].Pass || res[0].Err != nil || res[0].Decision == nil {
		t.Fatalf("got %+v", res)
	}
	if res[0].Name() != "a_test.yaml:3: no time" {
		t.Errorf("Name() = %q", res[0].Name())
	}
}

func TestExplanation(t *testing.T) {
	score := 80.0
	d := &engine.Decision{
		Segments:    []string{"vip"},
		Experiments: []engine.Assignment{{ID: "depth", Variant: "deep"}},
		Explain: &engine.Explain{
			Segments: []engine.SegmentExplain{{ID: "vip", Matched: true}, {ID: "new"}, {ID: "odd", Error: "bad type"}},
			Offers: []engine.OfferExplain{
				{ID: "vip_10", Chosen: true, Score: &score, Variant: "depth/deep"},
				{ID: "free_ship", Reason: engine.ReasonWhen, Detail: "cart.total >= 50"},
			},
		},
	}
	got := strings.Join(Explanation(d), "\n")
	want := `segments matched: [vip]; experiments depth=deep
segment odd: error: bad type
segments not matched: [new]
offer vip_10: chosen, score 80, variant depth/deep
offer free_ship: not chosen: when (cart.total >= 50)`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRunDirs runs the rule tests of testdata/pass (all pass) and
// testdata/mixed (one passes, one fails) through rulefiles.Load and the engine.
func TestRunDirs(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		dir    string
		passed []bool
		what   [][]string
	}{
		{"testdata/pass", []bool{true, true}, [][]string{nil, nil}},
		{"testdata/mixed", []bool{true, false}, [][]string{nil, {"segments", "actions", "discount_total"}}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			rs, err := rulefiles.Load(c.dir)
			if err != nil {
				t.Fatal(err)
			}
			res := Run(ctx, rs, NewEngine())
			if len(res) != len(c.passed) {
				t.Fatalf("%d results, want %d", len(res), len(c.passed))
			}
			for i, r := range res {
				if r.Err != nil {
					t.Errorf("%s: %v", r.Name(), r.Err)
					continue
				}
				var what []string
				for _, m := range r.Mismatches {
					what = append(what, m.What)
				}
				if r.Pass != c.passed[i] || !reflect.DeepEqual(what, c.what[i]) {
					t.Errorf("%s: pass %v mismatches %+v; want pass %v mismatches %v\n%s", r.Name(), r.Pass, r.Mismatches, c.passed[i], c.what[i], strings.Join(Explanation(r.Decision), "\n"))
				}
				if r.Case.Pos.Line == 0 || r.Case.Pos.File == "" {
					t.Errorf("%s: no position", r.Name())
				}
				if r.Decision == nil || r.Decision.Explain == nil {
					t.Errorf("%s: no explanation", r.Name())
				}
			}
		})
	}
}

// passRules is the ruleset of testdata/pass: vip needs a last order within
// 90 days of now.
func passRules(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/pass/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runTestFile compiles testdata/pass's rules with one test file and runs
// its cases.
func runTestFile(t *testing.T, test string) []Result {
	t.Helper()
	rs, err := rules.Compile([]rules.File{{Path: "rules.yaml", Data: passRules(t)}, {Path: "probe_test.yaml", Data: []byte(test)}})
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), rs, NewEngine())
}

// The time of a case is its own now, else its request's now, else its
// file's now (docs/rule-tests.md): a file's now must not override the now
// a case wrote in its request.
func TestNowPrecedence(t *testing.T) {
	const file = `now: 2027-06-01T00:00:00Z
tests:
  - name: the request's now
    profile: {id: c1, ltv: 1500, orders: 7, last_order_at: 2026-11-01T00:00:00Z}
    request: {placement: checkout, now: "2026-11-28T12:00:00+08:00"}
    expect: {segments: [vip]}
  - name: the file's now
    profile: {id: c1, ltv: 1500, orders: 7, last_order_at: 2026-11-01T00:00:00Z}
    request: {placement: checkout}
    expect: {not_segments: [vip]}
  - name: the file's now, the request's now null
    profile: {id: c1, ltv: 1500, orders: 7, last_order_at: 2026-11-01T00:00:00Z}
    request: {placement: checkout, now: null}
    expect: {not_segments: [vip]}
  - name: the case's now over the request's
    now: 2026-11-28T12:00:00+08:00
    profile: {id: c1, ltv: 1500, orders: 7, last_order_at: 2026-11-01T00:00:00Z}
    request: {placement: checkout, now: "2027-06-01T00:00:00Z"}
    expect: {segments: [vip]}
`
	for _, r := range runTestFile(t, file) {
		if !r.Pass {
			t.Errorf("%s: err %v, mismatches %+v\n%s", r.Name(), r.Err, r.Mismatches, strings.Join(Explanation(r.Decision), "\n"))
		}
	}
}

// A time or date written without quotes in a test's request or profile is
// read as the text written, as the server and `arbiter decide` read it: a
// zoneless request now is refused, not taken as UTC, and a context value
// that looks like a date stays the string written.
func TestYAMLTimesKeepTheirText(t *testing.T) {
	const file = `tests:
  - name: request now without a zone
    request: {now: 2026-11-28 12:00:00}
    expect: {actions: [join_loyalty]}
  - name: request now a date
    request: {now: 2026-11-28}
    expect: {actions: [join_loyalty]}
  - name: profile time without a zone
    now: 2026-11-28T12:00:00Z
    profile: {id: c1, ltv: 1500, orders: 7, last_order_at: 2026-11-01 10:00:00}
    expect: {actions: [join_loyalty]}
  - name: a context date
    now: 2026-11-28T12:00:00Z
    request: {context: {promo_day: 2026-11-28}}
    expect: {actions: [join_loyalty]}
  - name: request now with a zone
    request: {now: 2026-11-28T12:00:00+08:00}
    expect: {actions: [join_loyalty]}
`
	res := runTestFile(t, file)
	wantErr := []string{
		`request: now: must be an RFC 3339 time with a zone`,
		`request: now: must be an RFC 3339 time with a zone`,
		`profile: profile.last_order_at: want an RFC 3339 time`,
		"",
		"",
	}
	for i, r := range res {
		got := ""
		if r.Err != nil {
			got = r.Err.Error()
		}
		if wantErr[i] == "" && got != "" || !strings.Contains(got, wantErr[i]) {
			t.Errorf("%s: error %q, want one containing %q", r.Name(), got, wantErr[i])
		}
	}
	if got := res[3].Case.Request["context"].(map[string]any)["promo_day"]; got != "2026-11-28" {
		t.Errorf("context.promo_day = %#v, want the text written, %q", got, "2026-11-28")
	}
	if got := res[4].Case.Request["now"]; got != "2026-11-28T12:00:00+08:00" {
		t.Errorf("request now with a zone = %#v, want the text written", got)
	}
}

// Every reason an offer can be left out for (the enum of docs/openapi.yaml)
// is explained where a marketer reads a failing test: docs/rule-tests.md.
func TestRuleTestsDocNamesEveryReason(t *testing.T) {
	api, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/rule-tests.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Reading a failure")
	section, _, _ = strings.Cut(section, "\n## ")
	doc = []byte(section)
	m := regexp.MustCompile(`(?s)reason:\s*type: string\s*enum: \[([^\]]*)\]`).FindSubmatch(api)
	if m == nil {
		t.Fatal("docs/openapi.yaml: no reason enum")
	}
	for _, r := range strings.Split(string(m[1]), ",") {
		r = strings.TrimSpace(r)
		if !regexp.MustCompile("`" + regexp.QuoteMeta(r) + "`\\s*[(,]").Match(doc) {
			t.Errorf("docs/rule-tests.md, \"Reading a failure\", does not explain the reason `%s`", r)
		}
	}
}

// A customer id written as a number in a test's profile is the id written:
// YAML would read 0012345 as the octal 5349 and a 20-digit id as a float,
// silently testing another customer (another variant, another bucket).
func TestNumericProfileIDIsTheTextWritten(t *testing.T) {
	const file = `tests:
  - name: zero padded
    profile: {id: 0012345, ltv: 1}
    expect: {actions: [join_loyalty]}
  - name: twenty digits
    profile: {id: 12345678901234567891, ltv: 1}
    expect: {actions: [join_loyalty]}
  - name: plain
    profile: {id: 42, ltv: 1}
    expect: {actions: [join_loyalty]}
`
	want := []string{"0012345", "12345678901234567891", "42"}
	for i, r := range runTestFile(t, file) {
		if r.Err != nil || r.Decision == nil || r.Decision.CustomerID != want[i] {
			t.Errorf("%s: err %v, customer %v; want customer %q", r.Name(), r.Err, r.Decision, want[i])
		}
	}
}

// A request may carry a dry run's inline "profile", as the server reads it:
// a test (or arbiter decide) that gives it in the request decides for that
// customer, never for an anonymous one with the profile dropped in silence;
// given twice, in the case and in the request, it is an error.
func TestInlineProfileInTheRequest(t *testing.T) {
	const file = `tests:
  - name: the request's profile
    now: 2026-11-28T12:00:00+08:00
    request: {placement: checkout, profile: {id: c1, ltv: 1500, orders: 7, last_order_at: 2026-11-01T00:00:00Z}}
    expect: {segments: [vip]}
  - name: a profile twice
    now: 2026-11-28T12:00:00+08:00
    profile: {id: c1, ltv: 1500}
    request: {placement: checkout, profile: {id: c1, ltv: 1500}}
    expect: {segments: [vip]}
  - name: a misspelt field in the request's profile
    now: 2026-11-28T12:00:00+08:00
    request: {placement: checkout, profile: {id: c1, lvt: 1500}}
    expect: {segments: [vip]}
`
	res := runTestFile(t, file)
	if r := res[0]; !r.Pass || r.Decision.CustomerID != "c1" {
		t.Errorf("%s: err %v, mismatches %+v", r.Name(), r.Err, r.Mismatches)
	}
	for i, want := range map[int]string{1: "request: profile: give the customer's profile once", 2: "request: profile.lvt: unknown field (did you mean `ltv`?"} {
		if r := res[i]; r.Err == nil || !strings.HasPrefix(r.Err.Error(), want) {
			t.Errorf("%s: error %v, want one beginning %q", r.Name(), r.Err, want)
		}
	}
}

// An unquoted number with a leading zero (0123, YAML's octal) in a test's
// request or profile is the text written, as in JSON, where 0123 is no
// number: a string field or sku reads "0123", never 83.
func TestLeadingZeroIsText(t *testing.T) {
	const file = `tests:
  - name: a string field and a sku with a leading zero
    profile: {id: c1, tier: 0123}
    request: {placement: checkout, context: {store: 0042}, cart: {currency: USD, items: [{sku: 00123, price: 10, quantity: 1}]}}
    expect: {actions: [join_loyalty]}
  - name: a quantity with a leading zero is no number
    request: {placement: checkout, cart: {currency: USD, items: [{sku: A, price: 10, quantity: 010}]}}
    expect: {actions: [join_loyalty]}
`
	res := runTestFile(t, file)
	if r := res[0]; r.Err != nil {
		t.Errorf("%s: %v", r.Name(), r.Err)
	} else if got := r.Decision.Profile.AttrMap()["tier"]; got != "0123" {
		t.Errorf("%s: tier %#v, want \"0123\"", r.Name(), got)
	}
	if got := res[0].Case.Request["context"].(map[string]any)["store"]; got != "0042" {
		t.Errorf("context.store = %#v, want \"0042\"", got)
	}
	if r := res[1]; r.Err == nil || !strings.Contains(r.Err.Error(), "quantity") {
		t.Errorf("%s: error %v, want one about the quantity", r.Name(), r.Err)
	}
}

// TestErrorPlace: a case whose profile or request cannot be decided (a
// value of the wrong type, an unknown currency) fails with the place of
// that value in the test file, not only the line of the case's name.
func TestErrorPlace(t *testing.T) {
	files := []rules.File{
		{Path: "profile.yaml", Data: []byte("profile:\n  orders: int\noffers:\n  - id: o1\n    discount: {percent: 10}\n")},
		{Path: "cases_test.yaml", Data: []byte(`tests:
  - name: orders in quotes
    profile: {id: c1, orders: "x"}
    expect: {actions: [o1]}
  - name: a price in quotes
    request:
      cart:
        currency: USD
        items:
          - {sku: A, price: "60", quantity: 2}
    expect: {actions: [o1]}
  - name: an unknown currency
    request: {cart: {currency: USDD, items: [{sku: A, price: 60, quantity: 1}]}}
    expect: {actions: [o1]}
`)},
	}
	rs, err := rules.Compile(files)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{})
	want := []string{"3:31", "10:29", "13:32"}
	for i, r := range Run(context.Background(), rs, eng) {
		if r.Err == nil {
			t.Fatalf("%s: passed", r.Case.Name)
		}
		p := ErrPlace(r.Case, r.Err)
		if got := p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col); got != "cases_test.yaml:"+want[i] {
			t.Errorf("%s (%v): at %s, want %s", r.Case.Name, r.Err, got, want[i])
		}
	}
}
