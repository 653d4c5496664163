package rulegen_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/examples/rulegen"
	"github.com/arbiterhq/arbiter/rules"
)

var ref = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func compile(t *testing.T, files []rulegen.File) *rules.Ruleset {
	t.Helper()
	rf := make([]rules.File, len(files))
	for i, f := range files {
		rf[i] = rules.File{Path: f.Path, Data: f.Data}
	}
	rs, err := rules.Compile(rf)
	if err != nil {
		t.Fatalf("generated rules do not compile: %v", err)
	}
	return rs
}

func TestGenerateCompiles(t *testing.T) {
	for _, tc := range []struct {
		offers int
		seed   int64
	}{{1, 1}, {5, 2}, {50, 1}, {200, 1}, {1000, 1}, {1000, 7}} {
		rs := compile(t, rulegen.Generate(tc.seed, tc.offers, ref))
		if len(rs.Offers) != tc.offers || len(rs.Segments) != rulegen.SegmentsFor(tc.offers) {
			t.Errorf("%d offers, seed %d: got %d offers and %d segments, want %d and %d",
				tc.offers, tc.seed, len(rs.Offers), len(rs.Segments), tc.offers, rulegen.SegmentsFor(tc.offers))
		}
		if tc.offers < 50 {
			continue
		}
		// the playbook has the variety it is meant to have
		var placed, gated, when, scheduled, ended, scored, uses int
		for _, o := range rs.Offers {
			if len(o.Placements) > 0 {
				placed++
			}
			if len(o.Segments) > 0 {
				gated++
			}
			if o.When != nil {
				when++
			}
			if o.Schedule != nil {
				scheduled++
				if !o.Schedule.Active(ref) {
					ended++
				}
			}
			if o.Score != nil {
				scored++
			}
		}
		for _, s := range rs.Segments {
			if len(s.Uses) > 0 {
				uses++
			}
		}
		n := tc.offers
		for name, got := range map[string]int{"placed": placed, "gated": gated, "when": when, "scheduled": scheduled,
			"inactive": ended, "scored": scored, "segments using segments": uses} {
			if got == 0 || (name != "segments using segments" && got == n) {
				t.Errorf("%d offers: %d are %s", n, got, name)
			}
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := rulegen.Generate(3, 200, ref), rulegen.Generate(3, 200, ref)
	c := rulegen.Generate(4, 200, ref)
	same := func(x, y []rulegen.File) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Path != y[i].Path || !bytes.Equal(x[i].Data, y[i].Data) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed gave different files")
	}
	if same(a, c) {
		t.Error("another seed gave the same files")
	}
}

// TestProfileSchemaIsTheExample: the generated rules read the example
// shop's customers.
func TestProfileSchemaIsTheExample(t *testing.T) {
	data, err := fs.ReadFile(examples.Checkout, "checkout/profile.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := rules.Compile([]rules.File{{Path: "profile.yaml", Data: data}, {Path: "s.yaml", Data: []byte("segments: []\n")}})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := rules.Compile([]rules.File{{Path: "profile.yaml", Data: []byte(rulegen.ProfileSchema)}, {Path: "s.yaml", Data: []byte("segments: []\n")}})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, f := range ex.Schema.Fields {
		want = append(want, f.Name+":"+string(rune('0'+f.Type)))
	}
	for _, f := range gen.Schema.Fields {
		got = append(got, f.Name+":"+string(rune('0'+f.Type)))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("schema\n got %v\nwant %v", got, want)
	}
}
