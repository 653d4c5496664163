package examples_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/rules"
)

// checkoutFiles reads the example shop's rule files, with edit applied to
// the file named path.
func checkoutFiles(t *testing.T, path string, edit func(string) string) []rules.File {
	t.Helper()
	fsys := checkoutFS(t)
	var files []rules.File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s := string(b)
		if p == path {
			s = edit(s)
		}
		files = append(files, rules.File{Path: p, Data: []byte(s)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// One typo in the example shop gives one error, the cause, not the dozens
// of references to the segments it hid (issue 18: `segmnts:` gave 37).
func TestCheckoutTypoGivesItsCause(t *testing.T) {
	for _, tc := range []struct {
		name, path, from, to string
		n                    int      // errors
		want                 []string // substrings of the errors, in order
	}{
		{"misspelt section", "segments/value.yaml", "\nsegments:", "\nsegmnts:", 1,
			[]string{"segments/value.yaml:5:1: unknown top-level key `segmnts`", "did you mean `segments`?"}},
		{"unknown section", "segments/value.yaml", "\nsegments:", "\nvalue_segments:", 2,
			[]string{"segments/value.yaml:5:1: unknown top-level key `value_segments`", "more errors are not shown: references to what `value_segments` declares"}},
		{"misspelt type", "profile.yaml", "ltv: number", "ltv: numbr", 1,
			[]string{"profile.yaml:17:8: profile field `ltv`: unknown type \"numbr\" (did you mean `number`? write `ltv: number`)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := checkoutFiles(t, tc.path, func(s string) string {
				if !strings.Contains(s, tc.from) {
					t.Fatalf("%s has no %q", tc.path, tc.from)
				}
				return strings.Replace(s, tc.from, tc.to, 1)
			})
			_, err := rules.Compile(files)
			var es rules.Errors
			if !errors.As(err, &es) {
				t.Fatalf("Compile: %v, want rules.Errors", err)
			}
			if len(es) != tc.n {
				t.Fatalf("%d errors, want %d:\n%v", len(es), tc.n, es)
			}
			got := es.Error()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("errors lack %q (in order):\n%s", w, got)
				}
				at += i
			}
		})
	}
}
