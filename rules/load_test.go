package rules

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestErrorGolden loads every directory under testdata/errors and compares
// the error listing with its want.golden.
func TestErrorGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata/errors")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/errors", d.Name())
			rs, err := Compile(readDir(t, dir))
			if err == nil {
				t.Fatalf("loaded without errors (version %s)", rs.Version)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is not rules.Errors: %v", err)
			}
			for _, e := range es {
				if e.Pos.File == "" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Errorf("error without a position: %#v", e)
				}
			}
			got := es.Error() + "\n"
			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestErrorGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// mustLoad compiles a map of files and fails the test on any error.
func mustLoad(t *testing.T, files map[string]string) *Ruleset {
	t.Helper()
	rs, err := Compile(filesOf(files))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return rs
}

// filesOf turns a map of path → content into rule files.
func filesOf(files map[string]string) []File {
	var fs []File
	for name, text := range files {
		fs = append(fs, File{Path: name, Data: []byte(text)})
	}
	return fs
}

// readDir reads the *.yaml and *.yml files under dir, skipping hidden ones
// (the test data here holds no symbolic links; reading a rules directory
// as served is adapters/rulefiles' job, tested there).
func readDir(t *testing.T, dir string) []File {
	t.Helper()
	fsys := os.DirFS(dir)
	var files []File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); d.IsDir() || (ext != ".yaml" && ext != ".yml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		files = append(files, File{Path: p, Data: data})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// loadErrs compiles a map of files and returns its Errors (failing when
// the compile succeeds or fails otherwise).
func loadErrs(t *testing.T, files map[string]string) Errors {
	t.Helper()
	_, err := Compile(filesOf(files))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want rules.Errors, got %v", err)
	}
	return es
}

func TestExamplesLoad(t *testing.T) {
	rs, err := Compile(readDir(t, "../examples/checkout"))
	if err != nil {
		t.Fatalf("examples/checkout does not load: %v", err)
	}
	if len(rs.Offers) == 0 || len(rs.Tests) == 0 {
		t.Fatalf("examples: %d offers, %d tests", len(rs.Offers), len(rs.Tests))
	}
}

func TestMergeAcrossFiles(t *testing.T) {
	rs := mustLoad(t, map[string]string{
		"profile.yaml":          "profile:\n  ltv: number\n  since: time\n",
		"more/profile.yaml":     "profile:\n  tier: {type: string, default: basic}\n",
		"segments/value.yaml":   "segments:\n  - id: vip\n    when: profile.ltv >= 1000\n",
		"segments/combo.yml":    "segments:\n  - id: vip_gold\n    when: '\"vip\" in segments && profile.tier == \"gold\"'\n",
		"offers/a.yaml":         "offers:\n  - id: zeta\n    kind: action\n  - id: alpha\n    discount: {percent: 10}\n",
		"offers/b.yaml":         "offers:\n  - id: mid\n    kind: action\n",
		"arbitration.yaml":      "arbitration:\n  fallback: [mid]\n",
		"tests/basic_test.yaml": "tests:\n  - name: t\n    now: 2026-01-01T00:00:00Z\n    profile: {id: c1, ltv: 1500, since: 2026-01-01T00:00:00Z}\n    expect: {segments: [vip], actions: []}\n",
	})
	if len(rs.Schema.Fields) != 3 {
		t.Errorf("schema fields = %v", rs.Schema.Fields)
	}
	if f, ok := rs.Schema.Field("tier"); !ok || f.Default != "basic" || f.Type != TypeString {
		t.Errorf("tier = %+v", f)
	}
	if f, _ := rs.Schema.Field("ltv"); f.Default != 0.0 {
		t.Errorf("ltv default = %#v", f.Default)
	}
	var ids []string
	for i, o := range rs.Offers {
		ids = append(ids, o.ID)
		if o.Index != i {
			t.Errorf("%s.Index = %d, want %d", o.ID, o.Index, i)
		}
	}
	if strings.Join(ids, ",") != "alpha,mid,zeta" {
		t.Errorf("offers = %v", ids)
	}
	if o, ok := rs.Offer("mid"); !ok || !o.Fallback {
		t.Errorf("mid not a fallback: %+v", o)
	}
	if len(rs.Segments) != 2 || rs.Segments[0].ID != "vip" || rs.Segments[1].ID != "vip_gold" {
		t.Errorf("segments not in dependency order: %v, %v", rs.Segments[0].ID, rs.Segments[1].ID)
	}
	if u := rs.Segments[1].Uses; len(u) != 1 || u[0] != "vip" {
		t.Errorf("vip_gold uses %v", u)
	}
	if len(rs.Files) != 8 {
		t.Errorf("files = %v", rs.Files)
	}
	if len(rs.Tests) != 1 {
		t.Fatalf("tests = %d", len(rs.Tests))
	}
	tc := rs.Tests[0]
	if tc.Profile["ltv"] != 1500.0 || tc.Profile["since"] != "2026-01-01T00:00:00Z" {
		t.Errorf("test profile = %#v", tc.Profile)
	}
	if tc.Expect.Actions == nil || len(tc.Expect.Actions) != 0 || tc.Expect.NotSegments != nil {
		t.Errorf("expect = %#v", tc.Expect)
	}
	if rs.Arbitration.MaxActions != 3 || rs.Arbitration.MaxDiscountPercent != 100 {
		t.Errorf("arbitration defaults = %+v", rs.Arbitration)
	}
}

func TestDependencyOrderIsTopological(t *testing.T) {
	rs := mustLoad(t, map[string]string{"s.yaml": `
segments:
  - id: a
    when: '"b" in segments && "c" in segments'
  - id: c
    when: 'any(segments, # == "d")'
  - id: b
    when: '"d" in segments'
  - id: d
    when: cart.total > 1
`})
	pos := map[string]int{}
	for i, s := range rs.Segments {
		pos[s.ID] = i
	}
	for _, s := range rs.Segments {
		for _, u := range s.Uses {
			if pos[u] >= pos[s.ID] {
				t.Errorf("%s comes before %s which it uses", s.ID, u)
			}
		}
	}
}

func TestCycleNamesTheCycle(t *testing.T) {
	es := loadErrs(t, map[string]string{"s.yaml": `
segments:
  - id: a
    when: '"b" in segments'
  - id: b
    when: '"a" in segments'
`})
	if len(es) != 1 || !strings.Contains(es[0].Msg, "a -> b -> a") {
		t.Fatalf("errors = %v", es)
	}
}

func TestDuplicateIDsNameBothPlaces(t *testing.T) {
	es := loadErrs(t, map[string]string{
		"a.yaml": "offers:\n  - id: x\n    kind: action\n",
		"b.yaml": "offers:\n  - id: x\n    kind: action\n",
	})
	if len(es) != 1 || es[0].Pos.File != "b.yaml" || !strings.Contains(es[0].Msg, "a.yaml:2:9") {
		t.Fatalf("errors = %v", es)
	}
}

func TestErrorsSortedAndAllReported(t *testing.T) {
	es := loadErrs(t, map[string]string{
		"b.yaml": "segments:\n  - id: s1\n    when: cart.totl > 1\n  - id: s2\n    when: profile.x\n",
		"a.yaml": "offers:\n  - id: o\n    kind: action\n    when: nope\n",
	})
	if len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", es)
	}
	if es[0].Pos.File != "a.yaml" || es[1].Pos.Line != 3 || es[2].Pos.Line != 5 {
		t.Errorf("not sorted: %v", es)
	}
}

func TestOverrides(t *testing.T) {
	rs := mustLoad(t, map[string]string{"r.yaml": `
segments:
  - id: vip
    when: "true"
offers:
  - id: vip_10
    title: VIP {{percent}}% off
    segments: [vip]
    discount:
      percent: 10
      max_amount: 30
      items: item.category != "gift_cards"
    priority: 80
  - id: ship
    discount: {free_shipping: true}
  - id: flat
    discount: {amount: 5}
experiments:
  - id: depth
    variants:
      - id: control
        weight: 50
      - id: deep
        weight: 50
        offers:
          vip_10: {discount: {percent: 15}}
          ship: {disabled: true}
          flat: {discount: {percent: 20}, title: "{{percent}}% off"}
`})
	base, _ := rs.Offer("vip_10")
	e := rs.Experiments[0]
	if e.Salt != "depth" || e.Traffic != 100 {
		t.Errorf("experiment defaults: %+v", e)
	}
	deep := e.Variants[1]
	if len(e.Variants[0].Offers) != 0 || len(deep.Offers) != 3 {
		t.Fatalf("variant offers: %v / %v", e.Variants[0].Offers, deep.Offers)
	}
	o := deep.Offers[base.Index]
	if o == nil || o == base || o.ID != "vip_10" || o.Index != base.Index {
		t.Fatalf("override = %+v", o)
	}
	if o.Discount.Percent.Value != 15 || o.Discount.MaxAmount != 30 || o.Discount.Items == nil || o.Priority != 80 || len(o.Segments) != 1 {
		t.Errorf("merged override = %+v %+v", o, o.Discount)
	}
	if base.Discount.Percent.Value != 10 {
		t.Errorf("base changed: %v", base.Discount.Percent.Value)
	}
	ship, _ := rs.Offer("ship")
	if !deep.Offers[ship.Index].Disabled || ship.Disabled {
		t.Errorf("disabled not applied to the variant only")
	}
	flat, _ := rs.Offer("flat")
	if f := deep.Offers[flat.Index]; f.Discount.Type != DiscountPercent || f.Discount.Percent.Value != 20 {
		t.Errorf("type switch override = %+v", f.Discount)
	}
}

// overrideRules is a ruleset whose experiment `x` has a variant `t`
// overriding offer `a` (a percent offer with a cap) with the override
// written on line 12, and, when title is not empty, the offer's title.
func overrideRules(title, override string) string {
	src := "offers:\n  - id: a\n    discount: {percent: 10, max_amount: 20}\n"
	if title != "" {
		src += "    title: " + title + "\n"
	} else {
		src += "    priority: 1\n"
	}
	return src + `experiments:
  - id: x
    variants:
      - {id: c, weight: 50}
      - id: t
        weight: 50
        offers:
` + "          a: " + override + "\n"
}

// TestOverrideChangesTheTypeOfACappedOffer: an override that names another
// discount type makes a percent offer with max_amount that type (the cap
// only goes with percent, so it is dropped), a percent override keeps the
// cap, and max_amount: null removes it; the JSON schema takes them too.
func TestOverrideChangesTheTypeOfACappedOffer(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range []struct {
		override string
		typ      DiscountType
		max      float64
	}{
		{`{discount: {amount: 5}}`, DiscountAmount, 0},
		{`{discount: {free_shipping: true}}`, DiscountFreeShipping, 0},
		{`{discount: {tiers: [{min_total: 100, amount: 10}]}}`, DiscountTiers, 0},
		{`{discount: {buy_x_get_y: {buy: 2, get: 1}}}`, DiscountBuyXGetY, 0},
		{`{discount: {percent: 15}}`, DiscountPercent, 20},
		{`{discount: {percent: 15, max_amount: 30}}`, DiscountPercent, 30},
		{`{discount: {max_amount: null}}`, DiscountPercent, 0},
		{`{discount: {amount: 5, max_amount: null}}`, DiscountAmount, 0},
	} {
		src := overrideRules("", tc.override)
		if err := sch.Validate(yamlToJSON(t, []byte(src))); err != nil {
			t.Errorf("override %s: the JSON schema refuses what the loader takes: %v", tc.override, err)
		}
		rs, err := Compile([]File{{Path: "r.yaml", Data: []byte(src)}})
		if err != nil {
			t.Errorf("override %s of a percent offer with max_amount 20 is refused:\n%v", tc.override, err)
			continue
		}
		base, _ := rs.Offer("a")
		o := rs.Experiments[0].Variants[1].Offers[base.Index]
		if o == nil || o.Discount == nil {
			t.Errorf("override %s: no overridden offer in variant t", tc.override)
			continue
		}
		if o.Discount.Type != tc.typ || o.Discount.MaxAmount != tc.max {
			t.Errorf("override %s: discount type %v, max_amount %v; want %v, %v", tc.override, o.Discount.Type, o.Discount.MaxAmount, tc.typ, tc.max)
		}
		if base.Discount.Type != DiscountPercent || base.Discount.MaxAmount != 20 {
			t.Errorf("override %s changed the offer itself: %v, max_amount %v", tc.override, base.Discount.Type, base.Discount.MaxAmount)
		}
	}
}

// TestOverrideErrorsPointAtTheVariant: an override's error names the
// experiment, the variant and the offer, at the override (line 12), also
// when what fails is a key of the offer the override keeps (its title);
// an error of the offer itself is reported once, at the offer.
func TestOverrideErrorsPointAtTheVariant(t *testing.T) {
	for _, tc := range []struct {
		name, title, override string
		want                  []string
	}{
		{"a bad cap in the override", "", `{discount: {percent: 15, max_amount: 0}}`, []string{
			"r.yaml:12:51: experiment `x`: variant `t`: override of `a`: discount.max_amount must be more than 0, got 0 (remove it for no maximum)"}},
		{"a cap on an amount in the override", "", `{discount: {amount: 5, max_amount: 3}}`, []string{
			"r.yaml:12:37: experiment `x`: variant `t`: override of `a`: discount: max_amount only goes with percent (remove it)"}},
		{"an expression in the override", "", `{when: cart.totl > 5}`, []string{
			"r.yaml:12:26: experiment `x`: variant `t`: override of `a`: unknown field `cart.totl` in `cart.totl > 5` (did you mean `cart.total`?)"}},
		{"the offer's title has no percent once the override makes it an amount", `"{{percent}}% off"`, `{discount: {amount: 5}}`, []string{
			"r.yaml:12:11: experiment `x`: variant `t`: override of `a`: title: {{percent}} has no value in this offer (in the offer's `title` at r.yaml:4:12, which the override keeps) (override `title` in the variant too, or remove it: this offer's discount has no percent)"}},
		{"an error of the offer itself", `"{{pecent}}% off"`, `{discount: {percent: 15}}`, []string{
			"r.yaml:4:15: offer `a`: title: unknown placeholder {{pecent}} (known: {{percent}}, {{amount}}, {{currency}}, {{profile.FIELD}}) (did you mean `percent`?)"}},
	} {
		es := loadErrs(t, map[string]string{"r.yaml": overrideRules(tc.title, tc.override)})
		got := make([]string, len(es))
		for i, e := range es {
			got[i] = e.Error()
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: the errors are\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestVersionStability(t *testing.T) {
	base := map[string]string{
		"profile.yaml": "profile:\n  ltv: number\n  tier: {type: string, default: basic}\n",
		"rules.yaml": `# rules
segments:
  - id: vip
    when: profile.ltv >= 1000
  - id: big
    when: cart.total > 100
offers:
  - id: a
    kind: action
    priority: 10
  - id: b
    discount: {percent: 10}
`,
	}
	v0 := mustLoad(t, base).Version
	if len(v0) != 8 {
		t.Fatalf("version %q", v0)
	}
	same := map[string]map[string]string{
		"comments and layout": {
			"profile.yaml": "# the profile\nprofile:\n    tier:   {default: basic, type: string}   # tier\n    ltv: number\n",
			"rules.yaml": `segments:
- {id: big, when: "cart.total>100"}
- id: vip
  when: >-
    profile.ltv >=
    1000
offers:
- {id: b, discount: {percent: 10.0}}
- id: a
  priority: 10
  kind: action
`,
		},
		"file names and split": {
			"x/one.yaml": "profile:\n  tier: {type: string, default: basic}\noffers:\n  - id: b\n    discount: {percent: 10}\n",
			"y/two.yaml": "profile:\n  ltv: number\nsegments:\n  - id: big\n    when: cart.total > 100\n  - id: vip\n    when: profile.ltv >= 1000\noffers:\n  - id: a\n    kind: action\n    priority: 10\n",
		},
		"with tests": {
			"profile.yaml": base["profile.yaml"],
			"rules.yaml":   base["rules.yaml"],
			"a_test.yaml":  "tests:\n  - name: x\n    expect: {actions: []}\n",
		},
	}
	for name, files := range same {
		if v := mustLoad(t, files).Version; v != v0 {
			t.Errorf("%s: version %s, want %s", name, v, v0)
		}
	}
	changed := map[string]string{
		"a number":      strings.Replace(base["rules.yaml"], "percent: 10", "percent: 11", 1),
		"an expression": strings.Replace(base["rules.yaml"], ">= 1000", "> 1000", 1),
		"an id":         strings.Replace(base["rules.yaml"], "id: a", "id: c", 1),
	}
	for name, text := range changed {
		if v := mustLoad(t, map[string]string{"profile.yaml": base["profile.yaml"], "rules.yaml": text}).Version; v == v0 {
			t.Errorf("changing %s kept the version %s", name, v)
		}
	}
	// the same on every machine: a pinned value for a fixed input
	if v := mustLoad(t, base).Version; v != v0 {
		t.Errorf("not deterministic: %s then %s", v0, v)
	}
}

func TestCompileNoFiles(t *testing.T) {
	if _, err := Compile(nil); !errors.Is(err, ErrNoRuleFiles) {
		t.Errorf("no files: %v", err)
	}
}

// TestHoldAndPacing: caps.hold and caps.pacing load into Caps.
func TestHoldAndPacing(t *testing.T) {
	rs := mustLoad(t, map[string]string{"offers.yaml": `
offers:
  - id: first_1000
    kind: action
    caps: {total: 1000, hold: 30m}
  - id: weekend
    kind: action
    schedule: {start: 2026-11-27T00:00:00Z, end: 2026-11-30T00:00:00Z}
    caps: {budget: 5000, hold: 1d, pacing: even}
`})
	o, _ := rs.Offer("first_1000")
	if o.Caps.Hold != 30*time.Minute || o.Caps.Pacing != "" {
		t.Errorf("first_1000 caps %+v", o.Caps)
	}
	o, _ = rs.Offer("weekend")
	if o.Caps.Hold != 24*time.Hour || o.Caps.Pacing != PacingEven {
		t.Errorf("weekend caps %+v", o.Caps)
	}
}

// TestPlainNumber checks the number a hint writes for money written with
// separators: the same amount, never one a hundred times larger.
func TestPlainNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"12", "12"},
		{"12,50", "12.50"},
		{"12,5", "12.5"},
		{"12.50", "12.50"},
		{"3,000", "3000"},
		{"1,234,567", "1234567"},
		{"1.500.000", "1500000"},
		{"1,234,567.50", "1234567.50"},
		{"1.500,00", "1500.00"},
		{"-1,5", "-1.5"},
		{"1,5,0", ""},
		{"1.23,4", ""},
		{"1,234.5.6", ""},
		{"12,", ""},
		{"1,2345", "1.2345"},
	} {
		got, ok := plainNumber(c.in)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("plainNumber(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
