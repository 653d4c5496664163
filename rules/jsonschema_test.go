package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaFile = "../docs/rules.schema.json"

// docs/rules.schema.json is the output of `arbiter rules schema`.
func TestSchemaFileIsCurrent(t *testing.T) {
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, JSONSchema()) {
		t.Errorf("%s differs from the generated schema: run\n  go run ./cmd/arbiter rules schema > docs/rules.schema.json", schemaFile)
	}
}

// Every key the loader accepts, in every mapping, is in the schema with
// its description, and each mapping the loader checks refuses other keys.
func TestSchemaHasEveryLoaderKey(t *testing.T) {
	var doc struct {
		Defs map[string]struct {
			Properties           map[string]struct{ Description string } `json:"properties"`
			AdditionalProperties *bool                                   `json:"additionalProperties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, o := range allObjDefs() {
		name := defName(o)
		def, ok := doc.Defs[name]
		if !ok {
			t.Errorf("%s (%s) is not in the schema's $defs", o.Name, name)
			continue
		}
		if def.AdditionalProperties == nil || *def.AdditionalProperties {
			t.Errorf("%s: additionalProperties is not false", name)
		}
		for _, k := range o.names() {
			p, ok := def.Properties[k]
			if !ok {
				t.Errorf("%s: the loader accepts %q, the schema does not", name, k)
			} else if p.Description == "" {
				t.Errorf("%s.%s: no description", name, k)
			}
		}
		if len(def.Properties) != len(o.names()) {
			t.Errorf("%s: %d keys in the schema, %d in the loader", name, len(def.Properties), len(o.names()))
		}
	}
}

// compileSchema compiles the rule files' JSON Schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// yamlToJSON decodes a YAML document as the value JSON would hold, as an
// editor's YAML language server sees it: a timestamp is the text written
// (yaml.v3 alone would make 2026-11-27 a time, marshalled as
// 2026-11-27T00:00:00Z, which the loader refuses for its missing zone).
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var untime func(n *yaml.Node)
	untime = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
			n.Tag = "!!str"
		}
		for _, c := range n.Content {
			untime(c)
		}
	}
	untime(&doc)
	var v any
	if err := doc.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every example rule file names the schema on its first line (with the
// right relative path) and is valid against it.
func TestExamplesMatchTheSchema(t *testing.T) {
	sch := compileSchema(t)
	root := "../examples"
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) || IsTruthFile(p) || IsTrafficFile(p) || strings.Contains(p, "testdata") {
			return nil
		}
		n++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(p), "../docs/rules.schema.json")
		want := "# yaml-language-server: $schema=" + filepath.ToSlash(rel)
		first, _, _ := strings.Cut(string(data), "\n")
		if first != want {
			t.Errorf("%s: first line %q, want %q", p, first, want)
		}
		if err := sch.Validate(yamlToJSON(t, data)); err != nil {
			t.Errorf("%s does not match the schema: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d example files", n)
	}
}

// A misspelt key at any depth is refused by the schema, as by the loader.
func TestSchemaRejectsMisspeltKeys(t *testing.T) {
	sch := compileSchema(t)
	const base = `profile:
  ltv: number
  tier: {type: string, default: basic}
segments:
  - id: vip
    when: profile.ltv > 1000
offers:
  - id: o1
    kind: discount
    discount:
      tiers: [{min_total: 50, amount: 5}]
    schedule: {days: [sat], timezone: UTC}
    caps: {per_customer: {limit: 1, per: 30d}, total: 10}
  - id: o2
    discount: {buy_x_get_y: {buy: 2, get: 1}}
experiments:
  - id: e
    variants:
      - {id: a, weight: 50, offers: {o1: {disabled: true}}}
      - {id: b, weight: 50}
arbitration:
  max_actions: 2
  learning: {method: mean, prior: {alpha: 1, beta: 1}}
`
	if err := sch.Validate(yamlToJSON(t, []byte(base))); err != nil {
		t.Fatalf("the base file does not match the schema: %v", err)
	}
	if _, err := Compile([]File{{Path: "rules.yaml", Data: []byte(base)}}); err != nil {
		t.Fatalf("the base file does not load: %v", err)
	}
	for _, tc := range []struct{ from, to string }{
		{"segments:", "segmnts:"},
		{"  tier: {type: string", "  tier: {typ: string"},
		{"    when: profile", "    whn: profile"},
		{"    kind: discount", "    knd: discount"},
		{"tiers: [{min_total", "tiers: [{min_totl"},
		{"{days: [sat], timezone", "{days: [sat], timezon"},
		{"{per_customer: {limit", "{per_customer: {limt"},
		{"total: 10}", "totl: 10}"},
		{"{buy: 2", "{by: 2"},
		{"    variants:", "    variant:"},
		{"{id: b, weight", "{id: b, wieght"},
		{"{o1: {disabled", "{o1: {disabeld"},
		{"  max_actions", "  max_action"},
		{"{method: mean", "{methd: mean"},
		{"{alpha: 1", "{alfa: 1"},
	} {
		if !strings.Contains(base, tc.from) {
			t.Fatalf("no %q in the base file", tc.from)
		}
		data := strings.Replace(base, tc.from, tc.to, 1)
		if err := sch.Validate(yamlToJSON(t, []byte(data))); err == nil {
			t.Errorf("%q → %q: the schema accepts it", tc.from, tc.to)
		}
		if _, err := Compile([]File{{Path: "rules.yaml", Data: []byte(data)}}); err == nil || !strings.Contains(err.Error(), "unknown") || !strings.Contains(err.Error(), "key") {
			t.Errorf("%q → %q: the loader says %v, want an unknown key", tc.from, tc.to, err)
		}
	}
	test := "tests:\n  - name: t\n    now: 2026-01-01T00:00:00Z\n    expect: {actions: [o1]}\n"
	if err := sch.Validate(yamlToJSON(t, []byte(test))); err != nil {
		t.Errorf("a test file does not match the schema: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(test, "expect:", "expct:", 1),
		strings.Replace(test, "{actions:", "{action:", 1),
		"segments: []\n" + test,
	} {
		if err := sch.Validate(yamlToJSON(t, []byte(bad))); err == nil {
			t.Errorf("the schema accepts the test file\n%s", bad)
		}
	}
}

// The schema accepts what the loader accepts and refuses the shapes it
// refuses: each snippet is compiled by the loader (its answer is in the
// table, checked too) and validated against the schema, which must agree.
// Ranges and names the loader looks up (a time zone, a currency) are the
// loader's alone; shapes, and the characters of ids and field names, are
// here.
func TestSchemaAgreesWithTheLoader(t *testing.T) {
	sch := compileSchema(t)
	const exp = "experiments:\n  - {id: e, %s variants: [{id: a, weight: 50}, {id: b, weight: 50}]}\n"
	for _, tc := range []struct {
		name, rules string
		loads       bool
	}{
		{"days in any case", "offers:\n  - {id: o, schedule: {days: [Sat, Sun]}}\n", true},
		{"one day in capitals", "offers:\n  - {id: o, schedule: {days: SAT}}\n", true},
		{"a day misspelt", "offers:\n  - {id: o, schedule: {days: [Saturday]}}\n", false},
		{"a field's type as a list", "profile:\n  tags: {type: [string], default: []}\n  scores: {type: [number]}\n", true},
		{"a field's type as a list of two", "profile:\n  tags: {type: [string, number]}\n", false},
		{"a number as a salt", "offers:\n  - {id: o}\n" + strings.Replace(exp, "%s", "salt: 2026,", 1), true},
		{"a number as a group", "offers:\n  - {id: o, group: 1}\n", true},
		{"numbers and booleans as a title and placements", "offers:\n  - {id: o, title: 5, message: true, placements: [1, true]}\n", true},
		{"sections with nothing in them", "segments:\noffers:\nexperiments:\narbitration:\n", true},
		{"arbitration: null", "offers:\n  - {id: o}\narbitration: null\n", true},
		{"learning: null", "offers:\n  - {id: o}\narbitration: {learning: null}\n", true},
		{"an offer's description: null", "offers:\n  - {id: o, description: null}\n", true},
		{"an experiment's description: null", "offers:\n  - {id: o}\n" + strings.Replace(exp, "%s", "description: null,", 1), true},
		{"a variant's offers: null", "offers:\n  - {id: o}\nexperiments:\n  - {id: e, variants: [{id: a, weight: 50, offers: null}, {id: b, weight: 50}]}\n", true},
		{"caps: null", "offers:\n  - {id: o, caps: null}\n", false},
		{"a segment's description: null", "segments:\n  - {id: s, when: \"true\", description: null}\n", false},
		{"spaces in hours", "offers:\n  - {id: o, schedule: {hours: \"18 : 00-23:59\"}}\n", true},
		{"half a day", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: .5d}}}\n", true},
		{"days with an exponent", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 1e1d}}}\n", true},
		{"1.5 days", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 1.5d}}}\n", true},
		{"hours and minutes", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 36h30m}}}\n", true},
		{"days then hours", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 7d12h}}}\n", false},
		{"a number without a unit", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 30}}}\n", false},
		{"a kind in capitals", "offers:\n  - {id: o, kind: DISCOUNT, discount: {percent: 5}}\n", false},
		{"a field's type with spaces", "profile:\n  tags: \"[ string ]\"\n  n: {type: \" int \"}\n", true},
		{"a field's type misspelt", "profile:\n  n: {type: integer}\n", false},
		{"a field name with a dash", "profile:\n  last-order: time\n", false},
		{"a field named known", "profile:\n  known: bool\n", false},
		{"an offer id that starts with a digit", "offers:\n  - {id: 10off}\n", false},
		{"a number as an offer id", "offers:\n  - {id: 10}\n", false},
		{"an offer id with a dot", "offers:\n  - {id: vip.10}\n", false},
		{"true as an offer id", "offers:\n  - {id: true}\n", true},
		{"a segment id with a space", "segments:\n  - {id: big cart, when: \"true\"}\n", false},
		{"numbers as variant ids", "offers:\n  - {id: o}\nexperiments:\n  - {id: e, variants: [{id: 1, weight: 50}, {id: 2, weight: 50}]}\n", false},
		{"an experiment id with a dash", "offers:\n  - {id: o}\n" + strings.Replace(strings.Replace(exp, "{id: e,", "{id: e-1,", 1), "%s", "", 1), false},
		{"a layer with a dot", "offers:\n  - {id: o}\n" + strings.Replace(exp, "%s", "layer: checkout.pricing,", 1), false},
		{"an amount per currency below 0", "currency: USD\noffers:\n  - {id: o, discount: {amount: {USD: -1}}}\n", false},
		{"an amount per currency of 0", "currency: USD\noffers:\n  - {id: o, discount: {amount: {USD: 0}}}\n", true},
		{"a max_amount per currency of 0", "currency: USD\noffers:\n  - {id: o, discount: {percent: 5, max_amount: {USD: 0}}}\n", false},
		{"a percent expression", "offers:\n  - {id: o, discount: {percent: \"min(20, 150)\"}}\n", true},
		{"no tiers", "offers:\n  - {id: o, discount: {tiers: []}}\n", false},
		{"no variants", "offers:\n  - {id: o}\nexperiments:\n  - {id: e, variants: []}\n", false},
		{"a plain layer", "offers:\n  - {id: o}\n" + strings.Replace(exp, "%s", "layer: checkout_pricing,", 1), true},
		// A variant's override is merged key by key into its offer: it
		// writes only what changes, so a key required in the offer is not in
		// the override (per_customer's limit comes from the offer).
		{"an override of the per-customer window alone", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 30d}}}\nexperiments:\n  - {id: e, variants: [{id: a, weight: 50, offers: {o: {caps: {per_customer: {per: 7d}}}}}, {id: b, weight: 50}]}\n", true},
		{"an override of the per-customer limit alone", "offers:\n  - {id: o, caps: {per_customer: {limit: 1, per: 30d}}}\nexperiments:\n  - {id: e, variants: [{id: a, weight: 50, offers: {o: {caps: {per_customer: {limit: 2}}}}}, {id: b, weight: 50}]}\n", true},
		{"an override's buy_x_get_y without buy (it replaces the offer's)", "offers:\n  - {id: o, discount: {buy_x_get_y: {buy: 2, get: 1}}}\nexperiments:\n  - {id: e, variants: [{id: a, weight: 50, offers: {o: {discount: {buy_x_get_y: {get: 2}}}}}, {id: b, weight: 50}]}\n", false},
		{"an override's tier without min_total (tiers are replaced whole)", "offers:\n  - {id: o, discount: {tiers: [{min_total: 50, amount: 5}]}}\nexperiments:\n  - {id: e, variants: [{id: a, weight: 50, offers: {o: {discount: {tiers: [{amount: 7}]}}}}, {id: b, weight: 50}]}\n", false},
		// Only discount.amount takes a number expression; the other money
		// keys take a number or a number per currency.
		{"an amount expression", "offers:\n  - {id: o, discount: {amount: \"cart.total * 0.1\"}}\n", true},
		{"a max_amount expression", "offers:\n  - {id: o, discount: {percent: 5, max_amount: \"cart.total * 0.1\"}}\n", false},
		{"a max_amount in quotes", "offers:\n  - {id: o, discount: {percent: 5, max_amount: \"25\"}}\n", false},
		{"a tier's min_total expression", "offers:\n  - {id: o, discount: {tiers: [{min_total: \"cart.total\", amount: 5}]}}\n", false},
		{"a tier's amount expression", "offers:\n  - {id: o, discount: {tiers: [{min_total: 50, amount: \"cart.total * 0.1\"}]}}\n", false},
		// Times are RFC 3339 with their zone (format: date-time alone is an
		// annotation in draft 2020-12: validators need not check it).
		{"a start with its offset", "offers:\n  - {id: o, schedule: {start: 2026-11-27T00:00:00-05:00}}\n", true},
		{"a start with fractions of a second", "offers:\n  - {id: o, schedule: {start: \"2026-11-27T00:00:00.5Z\"}}\n", true},
		{"a start without a time zone", "offers:\n  - {id: o, schedule: {start: 2026-11-27T00:00:00}}\n", false},
		{"a start that is a date", "offers:\n  - {id: o, schedule: {start: 2026-11-27}}\n", false},
		{"a start in words", "offers:\n  - {id: o, schedule: {start: next friday}}\n", false},
		{"an end with a space for the T", "offers:\n  - {id: o, schedule: {end: \"2026-11-27 00:00:00Z\"}}\n", false},
	} {
		_, lerr := Compile([]File{{Path: "rules.yaml", Data: []byte(tc.rules)}})
		if (lerr == nil) != tc.loads {
			t.Errorf("%s: the loader says %v; the test expects it to %s\n%s", tc.name, lerr, map[bool]string{true: "load", false: "refuse it"}[tc.loads], tc.rules)
			continue
		}
		serr := sch.Validate(yamlToJSON(t, []byte(tc.rules)))
		switch {
		case tc.loads && serr != nil:
			t.Errorf("%s: `arbiter rules check` accepts it, docs/rules.schema.json refuses it: %v\n%s", tc.name, serr, tc.rules)
		case !tc.loads && serr == nil:
			t.Errorf("%s: docs/rules.schema.json accepts it, the loader says %v\n%s", tc.name, lerr, tc.rules)
		}
	}
}

// Every bounded number of the key table (Range) is bounded alike by the
// loader and the schema: at each bound and just past it, both accept or
// both refuse.
func TestSchemaRangesAgreeWithTheLoader(t *testing.T) {
	sch := compileSchema(t)
	// Where each mapping's key is written, %s: %v its key and value.
	where := map[*objDef]func(k string, v float64) string{
		arbitrationDef: func(k string, v float64) string { return fmt.Sprintf("arbitration: {%s: %v}\n", k, v) },
		capsDef: func(k string, v float64) string {
			return fmt.Sprintf("currency: USD\noffers:\n  - {id: o, caps: {%s: %v}}\n", k, v)
		},
		perCustomerDef: func(k string, v float64) string {
			return fmt.Sprintf("offers:\n  - {id: o, caps: {per_customer: {%s: %v}}}\n", k, v)
		},
		experimentDef: func(k string, v float64) string {
			return fmt.Sprintf("offers:\n  - {id: o}\nexperiments:\n  - {id: e, %s: %v, variants: [{id: a, weight: 50}, {id: b, weight: 50}]}\n", k, v)
		},
		variantDef: func(k string, v float64) string { // the other variant makes up 100
			return fmt.Sprintf("offers:\n  - {id: o}\nexperiments:\n  - {id: e, variants: [{id: a, %s: %v}, {id: b, weight: %v}]}\n", k, v, 100-v)
		},
		tierDef: func(k string, v float64) string {
			other := map[string]string{"min_total": "amount: 5", "amount": "min_total: 100", "percent": "min_total: 100"}[k]
			return fmt.Sprintf("offers:\n  - {id: o, discount: {tiers: [{%s, %s: %v}]}}\n", other, k, v)
		},
		discountDef: func(k string, v float64) string {
			if k == "max_amount" {
				return fmt.Sprintf("offers:\n  - {id: o, discount: {percent: 10, max_amount: %v}}\n", v)
			}
			return fmt.Sprintf("offers:\n  - {id: o, discount: {%s: %v}}\n", k, v)
		},
		ruleFileDef: func(k string, v float64) string { // rates
			return fmt.Sprintf("currency: USD\n%s: {EUR: %v}\n", k, v)
		},
		bxgyDef: func(k string, v float64) string { // buy and get are required
			others := map[string]string{"buy": "get: 1", "get": "buy: 2"}[k]
			if others == "" {
				others = "buy: 2, get: 1"
			}
			return fmt.Sprintf("offers:\n  - {id: o, discount: {buy_x_get_y: {%s, %s: %v}}}\n", others, k, v)
		},
		priorDef: func(k string, v float64) string {
			return fmt.Sprintf("arbitration: {learning: {method: thompson, prior: {%s: %v}}}\n", k, v)
		},
	}
	n := 0
	for _, o := range allObjDefs() {
		for _, k := range o.Keys {
			r := k.Range
			if r == nil {
				continue
			}
			snippet, ok := where[o]
			if !ok {
				t.Errorf("%s.%s has a range: add where it is written to this test", defName(o), k.Name)
				continue
			}
			step := 1.0
			if k.Kind != vInteger {
				step = 0.5
			}
			cases := map[float64]bool{r.Min - step: false, r.Min: !r.MinExcl, r.Min + step: true}
			if r.HasMax {
				cases[r.Max] = true
				cases[r.Max+step] = false
			}
			for v, want := range cases {
				n++
				src := snippet(k.Name, v)
				_, lerr := Compile([]File{{Path: "rules.yaml", Data: []byte(src)}})
				if (lerr == nil) != want {
					t.Errorf("%s.%s: %v: the loader says %v, the range says %v", defName(o), k.Name, v, lerr, map[bool]string{true: "it loads", false: "it is refused"}[want])
					continue
				}
				serr := sch.Validate(yamlToJSON(t, []byte(src)))
				if (serr == nil) != want {
					t.Errorf("%s.%s: %v: the loader says %v, docs/rules.schema.json says %v\n%s", defName(o), k.Name, v, lerr, serr, src)
				}
			}
		}
	}
	if n < 30 {
		t.Fatalf("%d cases: the key table lost its ranges?", n)
	}
}
