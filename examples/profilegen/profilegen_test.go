package profilegen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestGenerateIsDeterministic(t *testing.T) {
	ref := DefaultRef()
	a := Generate(42, 300, ref)
	b := Generate(42, 300, ref)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Generate(42, 300, ref) differs between two calls")
	}
	c := Generate(43, 300, ref)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 gave the same profiles")
	}
	// A prefix of a longer run is the shorter run.
	if !reflect.DeepEqual(Generate(42, 10, ref), a[:10]) {
		t.Fatal("Generate(42, 10) is not the first 10 of Generate(42, 300)")
	}
	// The zero reference time means DefaultRef.
	if !reflect.DeepEqual(Generate(42, 20, time.Time{}), a[:20]) {
		t.Fatal("Generate with the zero time differs from Generate with DefaultRef()")
	}
}

func TestGenerateEdgeCounts(t *testing.T) {
	for _, n := range []int{-1, 0} {
		if got := Generate(1, n, DefaultRef()); got == nil || len(got) != 0 {
			t.Errorf("Generate(1, %d) = %v, want an empty, non-nil slice", n, got)
		}
	}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, 1, 0, DefaultRef()); err != nil || buf.Len() != 0 {
		t.Errorf("WriteJSONL(n=0) = %q, %v; want nothing", buf.String(), err)
	}
}

func TestWriteJSONLGolden(t *testing.T) {
	tests := []struct {
		name string
		seed int64
		ref  time.Time
	}{
		{"seed42_default_ref", 42, DefaultRef()},
		{"seed7_black_friday", 7, time.Date(2026, 11, 27, 20, 0, 0, 0, time.FixedZone("EST", -5*3600))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJSONL(&buf, tt.seed, 6, tt.ref); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.name+".golden.jsonl")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("output differs from %s (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
			}
		})
	}
}

// schemaTypes reads the example ruleset's profile schema: field name to type.
func schemaTypes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "checkout", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Profile map[string]yaml.Node `yaml:"profile"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	types := make(map[string]string, len(doc.Profile))
	for name, n := range doc.Profile {
		switch n.Kind {
		case yaml.ScalarNode:
			types[name] = n.Value
		case yaml.MappingNode:
			var f struct {
				Type string `yaml:"type"`
			}
			if err := n.Decode(&f); err != nil {
				t.Fatal(err)
			}
			types[name] = f.Type
		default:
			t.Fatalf("profile.yaml: field %s: unexpected YAML node kind %v", name, n.Kind)
		}
	}
	return types
}

func TestProfilesAreValidJSONOfTheSchema(t *testing.T) {
	types := schemaTypes(t)
	if len(types) < 10 {
		t.Fatalf("read only %d schema fields from profile.yaml", len(types))
	}
	fields := map[string]bool{}
	for _, f := range Fields() {
		fields[f] = true
		if _, ok := types[f]; !ok && f != "id" {
			t.Errorf("Fields() lists %q, which is not in examples/checkout/profile.yaml", f)
		}
	}
	for f := range types {
		if !fields[f] {
			t.Errorf("schema field %q is missing from Fields()", f)
		}
	}
	optional := map[string]bool{"birthday": true, "first_order_at": true, "last_order_at": true}
	idRE := regexp.MustCompile(`^c-\d{6}$`)

	var buf bytes.Buffer
	if err := WriteJSONL(&buf, 99, 2000, DefaultRef()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2000 {
		t.Fatalf("got %d lines, want 2000", len(lines))
	}
	ids := map[string]bool{}
	for i, line := range lines {
		var p map[string]any
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		id, _ := p["id"].(string)
		if !idRE.MatchString(id) || ids[id] {
			t.Fatalf("line %d: id %q is malformed or repeated", i+1, p["id"])
		}
		ids[id] = true
		for k, v := range p {
			if k == "id" {
				continue
			}
			typ, ok := types[k]
			if !ok {
				t.Fatalf("%s: field %q is not in the schema", id, k)
			}
			if msg := checkType(typ, v); msg != "" {
				t.Fatalf("%s: field %s (%s): %s, got %#v", id, k, typ, msg, v)
			}
		}
		for k := range types {
			if _, ok := p[k]; !ok && !optional[k] {
				t.Fatalf("%s: field %q is missing", id, k)
			}
		}
		// Consistency a data team would check.
		if p["orders"].(float64) == 0 && (p["ltv"].(float64) != 0 || p["last_order_at"] != nil) {
			t.Fatalf("%s: no orders but a value or a last order: %s", id, line)
		}
		if p["orders_90d"].(float64) > p["orders"].(float64) {
			t.Fatalf("%s: more orders in 90 days than ever: %s", id, line)
		}
		if last, ok := p["last_order_at"].(string); ok {
			lt, _ := time.Parse(time.RFC3339, last)
			ft, _ := time.Parse(time.RFC3339, p["first_order_at"].(string))
			st, _ := time.Parse(time.RFC3339, p["signed_up_at"].(string))
			if lt.After(DefaultRef()) || ft.After(lt) || st.After(ft) {
				t.Fatalf("%s: dates out of order (signed up <= first <= last <= ref): %s", id, line)
			}
		}
	}
}

func checkType(typ string, v any) string {
	switch typ {
	case "string":
		if _, ok := v.(string); !ok {
			return "want a string"
		}
	case "int":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return "want an integer"
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return "want a number"
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return "want a boolean"
		}
	case "time":
		s, ok := v.(string)
		if !ok {
			return "want an RFC 3339 string"
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
			return "want an RFC 3339 time in UTC"
		}
	case "[string]":
		l, ok := v.([]any)
		if !ok {
			return "want a list"
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return "want a list of strings"
			}
		}
	default:
		return "unknown schema type"
	}
	return ""
}

// TestMix checks the shares the package documents, loosely, on 5000
// customers: enough of every kind the example segments look for.
func TestMix(t *testing.T) {
	ref := DefaultRef()
	ps := Generate(2026, 5000, ref)
	count := map[string]int{}
	for _, p := range ps {
		orders := p["orders"].(float64)
		share := p["discount_share"].(float64)
		if orders == 0 {
			count["new"]++
		}
		if p["ltv"].(float64) >= 1000 {
			count["high_value"]++
		}
		if orders >= 2 && share >= 0.5 {
			count["price_sensitive"]++
		}
		if last, ok := p["last_order_at"].(string); ok {
			lt, _ := time.Parse(time.RFC3339, last)
			if ref.Sub(lt) > 180*24*time.Hour {
				count["lapsed"]++
			}
		}
		if b, ok := p["birthday"].(string); ok {
			bt, _ := time.Parse(time.RFC3339, b)
			for d := 0; d <= 7; d++ {
				x := ref.AddDate(0, 0, d)
				if x.Month() == bt.Month() && x.Day() == bt.Day() {
					count["birthday_week"]++
					break
				}
			}
		}
		for _, c := range p["top_categories"].([]any) {
			if c == "shoes" {
				count["shoes"]++
			}
		}
		if p["tier"] == "gold" || p["tier"] == "platinum" {
			count["gold"]++
		}
	}
	want := map[string][2]int{ // [min, max] out of 5000
		"new":             {550, 850},  // ~14%
		"high_value":      {400, 1500}, // the top of the value curve
		"price_sensitive": {600, 1500}, // ~30% of repeat customers
		"lapsed":          {900, 1300}, // ~22%
		"birthday_week":   {150, 500},  // 4% placed in the week, plus chance
		"shoes":           {800, 2200}, // the biggest category
		"gold":            {250, 1200}, // gold and platinum members
	}
	for k, r := range want {
		if count[k] < r[0] || count[k] > r[1] {
			t.Errorf("%s: %d of 5000, want %d to %d", k, count[k], r[0], r[1])
		}
	}
}
