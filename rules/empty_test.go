package rules

import (
	"errors"
	"strings"
	"testing"
)

// TestEmptyRuleFile: a rule file with nothing to load (empty, only
// whitespace or comments, no YAML document) is an error naming the file,
// alone or beside good files: a truncated write never empties the shop.
func TestEmptyRuleFile(t *testing.T) {
	good := File{Path: "good.yaml", Data: []byte("offers:\n  - id: a\n    kind: action\n")}
	for _, tc := range []struct{ name, data string }{
		{"empty", ""},
		{"spaces", "  \n\t\n\n"},
		{"comments", "# offers were here\n   # and here\n"},
		{"document marker", "---\n"},
		{"document markers and comments", "--- # nothing\n...\n---\n"},
		{"null document", "~\n"},
		{"crlf blank", "\r\n\r\n"},
	} {
		for _, alone := range []bool{true, false} {
			files := []File{{Path: "offers/cut.yaml", Data: []byte(tc.data)}}
			if !alone {
				files = append(files, good)
			}
			rs, err := Compile(files)
			if err == nil {
				t.Errorf("%s (alone %v): loaded version %s with %d offers", tc.name, alone, rs.Version, len(rs.Offers))
				continue
			}
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Errorf("%s (alone %v): %v, want one rules.Error", tc.name, alone, err)
				continue
			}
			if es[0].Pos.File != "offers/cut.yaml" || !strings.Contains(es[0].Msg, "empty rule file") {
				t.Errorf("%s (alone %v): %q, want offers/cut.yaml: empty rule file", tc.name, alone, es[0].Error())
			}
		}
	}
	// a file with a document is not empty, even a short one
	if _, err := Compile([]File{good, {Path: "x.yaml", Data: []byte("# comment\nsegments: []\n")}}); err != nil {
		t.Errorf("a file with a document: %v", err)
	}
}
