package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/decisionid"
)

// TestLayerRanges: the experiments of a layer take consecutive ranges in
// the order written (across files, in path order), a stated range is kept,
// the next written after it follows it, a stopped experiment keeps its
// range, and experiments of other layers or none are not affected.
func TestLayerRanges(t *testing.T) {
	v := "    variants: [{id: control, weight: 50}, {id: test, weight: 50}]\n"
	rs := mustLoad(t, map[string]string{
		"a.yaml": "experiments:\n" +
			"  - id: zeta\n    layer: pricing\n    traffic: 30\n" + v +
			"  - id: alpha\n    layer: pricing\n    traffic: 50\n    status: stopped\n" + v +
			"  - id: other\n    layer: shipping\n    traffic: 12.5\n" + v +
			"  - id: plain\n    traffic: 40\n" + v,
		"b.yaml": "experiments:\n" +
			"  - id: mid\n    layer: pricing\n    traffic: 10\n" + v +
			"  - id: pinned\n    layer: shipping\n    buckets: 5000-5999\n" + v +
			"  - id: after\n    layer: shipping\n    traffic: 1\n" + v,
	})
	want := map[string]struct {
		layer    string
		from, to int
		traffic  float64
		status   string
	}{
		"zeta":   {"pricing", 0, 2999, 30, ""},
		"alpha":  {"pricing", 3000, 7999, 50, ExperimentStopped},
		"mid":    {"pricing", 8000, 8999, 10, ""},
		"other":  {"shipping", 0, 1249, 12.5, ""},
		"pinned": {"shipping", 5000, 5999, 10, ""},
		"after":  {"shipping", 6000, 6099, 1, ""},
		"plain":  {"", 0, 0, 40, ""},
	}
	if len(rs.Experiments) != len(want) {
		t.Fatalf("%d experiments", len(rs.Experiments))
	}
	for _, x := range rs.Experiments {
		w := want[x.ID]
		if x.Layer != w.layer || x.From != w.from || x.To != w.to || x.Traffic != w.traffic || x.Status != w.status {
			t.Errorf("%s: layer %q range %d-%d traffic %v status %q, want %+v", x.ID, x.Layer, x.From, x.To, x.Traffic, x.Status, w)
		}
	}
}

// TestLayerExactlyFull: traffic adding up to exactly 100 is not over.
func TestLayerExactlyFull(t *testing.T) {
	v := "    variants: [{id: control, weight: 100}]\n"
	rs := mustLoad(t, map[string]string{"a.yaml": "experiments:\n" +
		"  - id: a\n    layer: l\n    traffic: 33.33\n" + v +
		"  - id: b\n    layer: l\n    traffic: 33.33\n" + v +
		"  - id: c\n    layer: l\n    traffic: 33.34\n" + v})
	if c := rs.Experiments[2]; c.From != 6666 || c.To != 9999 {
		t.Errorf("c: %d-%d", c.From, c.To)
	}
}

// TestLayerBadBucketsOneError: an experiment whose buckets are not a range
// gets that error alone: it takes no range of its layer, so the other
// experiments are not blamed for overlapping a range nobody wrote, nor the
// layer for being over 100%.
func TestLayerBadBucketsOneError(t *testing.T) {
	v := "    variants: [{id: control, weight: 100}]\n"
	bad := func(id string) string {
		return "r.yaml:%d:14: experiment `" + id + "`: buckets %q is not a range of layer buckets (write the range of layer buckets as FROM-TO, both included, within 0-9999 (like 3000-7999))"
	}
	for _, tc := range []struct {
		name, y string
		want    []string
	}{
		{"y states a range", "    buckets: 5000-9999\n", []string{fmt.Sprintf(bad("x"), 4, "0-10000")}},
		{"y's range is bad too", "    buckets: 9999-0\n", []string{fmt.Sprintf(bad("x"), 4, "0-10000"), fmt.Sprintf(bad("y"), 8, "9999-0")}},
		{"y takes the whole layer by traffic", "    traffic: 100\n", []string{fmt.Sprintf(bad("x"), 4, "0-10000")}},
		{"y takes the default traffic", "", []string{fmt.Sprintf(bad("x"), 4, "0-10000")}},
	} {
		src := "experiments:\n  - id: x\n    layer: L\n    buckets: 0-10000\n" + v +
			"  - id: y\n    layer: L\n" + tc.y + v
		es := loadErrs(t, map[string]string{"r.yaml": src})
		got := make([]string, len(es))
		for i, e := range es {
			got[i] = e.Error()
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: the errors are\n%s\nwant only\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// TestSharedSaltIsAnError: two experiments that may share customers (not
// both of one layer, neither stopped) with one salt would assign the same
// buckets: everyone in one's first variant in the other's first variant,
// so each test's result holds the other's effect, against "experiments
// without a layer are independent". A load error, as for a salt equal to
// a layer's name; one layer's experiments (which never share a customer)
// and a stopped experiment may share a salt.
func TestSharedSaltIsAnError(t *testing.T) {
	v := "    variants: [{id: control, weight: 50}, {id: test, weight: 50}]\n"
	for _, tc := range []struct {
		name, src string
		want      string // "" when it loads
	}{
		{"two plain experiments with one salt",
			"  - id: depth\n    salt: bf-2026\n" + v + "  - id: ship\n    salt: bf-2026\n" + v,
			"r.yaml:6:11: experiment `ship`: salt `bf-2026` is also experiment `depth`'s (at r.yaml:2:5): their variants would follow each other's buckets, not be independent (give each experiment a salt of its own, or put them in one layer)"},
		{"a salt equal to another experiment's id",
			"  - id: depth\n" + v + "  - id: ship\n    salt: depth\n" + v,
			"r.yaml:5:11: experiment `ship`: salt `depth` is also experiment `depth`'s (at r.yaml:2:5): their variants would follow each other's buckets, not be independent (give each experiment a salt of its own, or put them in one layer)"},
		{"two layers",
			"  - id: depth\n    layer: a\n    salt: s\n" + v + "  - id: ship\n    layer: b\n    salt: s\n" + v,
			"r.yaml:8:11: experiment `ship`: salt `s` is also experiment `depth`'s (at r.yaml:2:5): their variants would follow each other's buckets, not be independent (give each experiment a salt of its own, or put them in one layer)"},
		{"one layer", "  - id: depth\n    layer: a\n    traffic: 50\n    salt: s\n" + v + "  - id: ship\n    layer: a\n    traffic: 50\n    salt: s\n" + v, ""},
		{"two empty salts (the ids)", "  - id: depth\n    salt: \"\"\n" + v + "  - id: ship\n    salt: \"\"\n" + v, ""},
		{"one stopped", "  - id: depth\n    salt: s\n    status: stopped\n" + v + "  - id: ship\n    salt: s\n" + v, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(filesOf(map[string]string{"r.yaml": "experiments:\n" + tc.src}))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestMoreExperimentsThanAnIDCarriesWarns: a decision id carries the
// variants of at most 12 experiments (decisionid.MaxCodes); a customer
// who may be enrolled in more (running experiments without a layer, plus
// one per layer) has outcomes that name only the first 12, in id order,
// so the live counters and the per-variant statistics miss the others.
// The rules say so when they load, at the first experiment left out; a
// layer counts once however many experiments it holds, and a stopped
// experiment not at all.
func TestMoreExperimentsThanAnIDCarriesWarns(t *testing.T) {
	v := "    variants: [{id: control, weight: 100}]\n"
	plain := func(n int) string {
		s := ""
		for i := 1; i <= n; i++ {
			s += fmt.Sprintf("  - id: x%02d\n", i) + v
		}
		return s
	}
	layered := "  - id: l1\n    layer: L\n    traffic: 50\n" + v + "  - id: l2\n    layer: L\n    traffic: 50\n" + v
	stopped := "  - id: zz\n    status: stopped\n" + v
	for _, tc := range []struct {
		name, src string
		want      string
	}{
		{"12 plain", plain(12), ""},
		{"12 plain and a stopped one", plain(12) + stopped, ""},
		{"11 plain and a layer of two", plain(11) + layered, ""},
		{"13 plain", plain(13), "r.yaml:26:5: up to 13 experiments may enroll one customer, and a decision id carries the variants of 12: the outcomes of a decision enrolled in more name only the first 12 in id order (never experiment `x13`), so GET /v1/experiments and the per-variant feedback statistics miss the others (arbiter experiments report, which reads the decisions, does not) (put experiments that need not share customers in one layer, or stop some)"},
		{"12 plain and a layer", plain(12) + layered, "r.yaml:24:5: up to 13 experiments may enroll one customer, and a decision id carries the variants of 12: the outcomes of a decision enrolled in more name only the first 12 in id order (never experiment `x12`), so GET /v1/experiments and the per-variant feedback statistics miss the others (arbiter experiments report, which reads the decisions, does not) (put experiments that need not share customers in one layer, or stop some)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustLoad(t, map[string]string{"r.yaml": "experiments:\n" + tc.src})
			got := ""
			for _, w := range rs.Warnings {
				got += w.Error()
			}
			if got != tc.want {
				t.Errorf("warnings %q\nwant       %q", got, tc.want)
			}
		})
	}
}

// TestEmptySaltIsTheID: `salt: ""` is the default salt, the experiment's
// id, in the compiled ruleset too (which GET /v1/rules and the
// rules_reloaded event publish for recomputing assignments), as the
// engine assigns by it: an analyst reading salt "" got other buckets.
func TestEmptySaltIsTheID(t *testing.T) {
	rs := mustLoad(t, map[string]string{"r.yaml": "experiments:\n  - id: depth\n    salt: \"\"\n    variants: [{id: control, weight: 100}]\n"})
	if got := rs.Experiments[0].Salt; got != "depth" {
		t.Errorf("salt %q, want the id, depth", got)
	}
}

// TestVariantCodeCollisionIsAnError: an outcome's variants are read back
// from the 25-bit codes its decision id carries, so two variants of one
// ruleset with the same code would take each other's outcomes. Such a
// pair (found by search, about one in 33 million pairs) is a load error
// naming both.
func TestVariantCodeCollisionIsAnError(t *testing.T) {
	seen := map[uint32]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		id := fmt.Sprintf("exp_%d", i)
		code := decisionid.VariantCode(id, "test")
		if o, dup := seen[code]; dup {
			a, b = o, id
		}
		seen[code] = id
	}
	exp := func(id string) string {
		return "  - id: " + id + "\n    variants:\n      - {id: control, weight: 50}\n      - {id: test, weight: 50}\n"
	}
	es := loadErrs(t, map[string]string{"r.yaml": "currency: USD\noffers:\n  - id: o\n    discount: {percent: 10}\nexperiments:\n" + exp(a) + exp(b)})
	if len(es) != 1 || !strings.Contains(es[0].Msg, "same code in decision ids") || !strings.Contains(es[0].Msg, a) || !strings.Contains(es[0].Msg, b) ||
		es[0].Pos.Line < 6 || es[0].Hint == "" {
		t.Fatalf("%s and %s: errors %v", a, b, es)
	}
}

// TestDuplicateVariantIsOneError: a variant id written twice in one
// experiment (or an experiment id written twice) is reported as a
// duplicate id, once, and not also as two variants sharing a code in
// decision ids ("experiment `e` variant `a` ... as experiment `e` variant
// `a`"), which says the same thing less clearly.
func TestDuplicateVariantIsOneError(t *testing.T) {
	cases := map[string]string{
		"variant": "experiments:\n  - id: e\n    variants:\n      - {id: a, weight: 50}\n      - {id: a, weight: 50}\n",
		"experiment": "experiments:\n  - id: e\n    variants:\n      - {id: a, weight: 100}\n" +
			"  - id: e\n    salt: e2\n    variants:\n      - {id: a, weight: 100}\n",
	}
	for name, text := range cases {
		es := loadErrs(t, map[string]string{"r.yaml": "offers:\n  - id: o\n    discount: {percent: 10}\n" + text})
		for _, e := range es {
			if strings.Contains(e.Msg, "same code in decision ids") {
				t.Errorf("%s: %v", name, es)
			}
		}
		if len(es) != 1 {
			t.Errorf("%s: errors %v, want one", name, es)
		}
	}
}

// TestVariantOverridesAnOfferTwice: a variant's offers mapping that names
// one offer twice is an error at the second, naming the first: YAML would
// keep only one of them, and which override is meant is unclear.
func TestVariantOverridesAnOfferTwice(t *testing.T) {
	text := `offers:
  - id: o
    discount: {percent: 10}
experiments:
  - id: e
    variants:
      - id: a
        weight: 50
      - id: b
        weight: 50
        offers:
          o: {discount: {percent: 20}}
          o: {disabled: true}
`
	es := loadErrs(t, map[string]string{"r.yaml": text})
	if len(es) != 1 || es[0].Pos.Line != 13 || es[0].Pos.Col != 11 || !strings.Contains(es[0].Msg, "line 12") {
		t.Fatalf("errors: %v", es)
	}
}

// TestOverrideTypoHint: a typo in a variant's override of a key the offer
// writes (`percnt` for the offer's `percent`) is hinted as the typo it
// is, not "it is written too: remove one of them": the override does not
// write `percent`, the offer does.
func TestOverrideTypoHint(t *testing.T) {
	text := `offers:
  - id: o
    discount: {percent: 10}
experiments:
  - id: e
    variants:
      - {id: a, weight: 50}
      - id: b
        weight: 50
        offers:
          o: {discount: {percnt: 20}}
`
	es := loadErrs(t, map[string]string{"r.yaml": text})
	if len(es) != 1 || es[0].Pos.Line != 11 || es[0].Hint != "did you mean `percent`? write `percent` to override the offer's" {
		t.Fatalf("errors: %v", es)
	}
}
