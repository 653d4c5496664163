package rules

import (
	"errors"
	"strings"
	"testing"
)

// TestNotUTF8 places a byte that is not UTF-8 (a Latin-1 "é" from a
// spreadsheet export) at its line and column, and says to save the file as
// UTF-8, instead of "invalid YAML: invalid trailing UTF-8 octet" at 1:1
// with a hint about indentation.
func TestNotUTF8(t *testing.T) {
	cases := []struct {
		name, text string
		line, col  int
	}{
		{"in a title", "offers:\n  - id: o1\n    title: \"\u20ac10 caf\xe9\"\n    discount: {percent: 10}\n", 3, 20},
		{"in a comment", "# caf\xe9 comment\noffers:\n  - id: o1\n    discount: {percent: 10}\n", 1, 6},
		{"cut short at the end", "offers:\n  - id: o1\n    title: x\xe2\x82", 3, 13},
		{"after CRLF lines", "offers:\r\n  - id: o1\r\n    title: \xff\r\n", 3, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]File{{Path: "offers.yaml", Data: []byte(tc.text)}})
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("got %v, want one error", err)
			}
			e := es[0]
			if e.Pos.Line != tc.line || e.Pos.Col != tc.col {
				t.Errorf("at %d:%d, want %d:%d: %v", e.Pos.Line, e.Pos.Col, tc.line, tc.col, e)
			}
			if !strings.Contains(e.Msg, "not UTF-8") || !strings.Contains(e.Hint, "UTF-8") {
				t.Errorf("error %q does not say the file is not UTF-8 and what to do", e)
			}
			p, msg := YAMLSyntaxError("offers.yaml", []byte(tc.text), errors.New("yaml: invalid trailing UTF-8 octet"))
			if p.Line != tc.line || p.Col != tc.col || !strings.Contains(msg, "not UTF-8") {
				t.Errorf("YAMLSyntaxError = %v %q, want %d:%d", p, msg, tc.line, tc.col)
			}
		})
	}
}

// TestQuotedNumberHint: a number written in quotes (as a spreadsheet or a
// JSON habit writes it) is a text to YAML; the error says to write it
// without quotes.
func TestQuotedNumberHint(t *testing.T) {
	text := `offers:
  - id: o1
    discount: {percent: 10, max_amount: "30"}
    priority: "80"
    caps:
      per_customer: {limit: "1"}
      total: "1000"
experiments:
  - id: e
    traffic: "50"
    variants:
      - {id: a, weight: "100"}
`
	want := map[string]string{
		"3:41":  "write `max_amount: 30`, without quotes: in quotes it is a text",
		"4:15":  "write `priority: 80`, without quotes: in quotes it is a text",
		"6:29":  "write `limit: 1`, without quotes: in quotes it is a text",
		"7:14":  "write `total: 1000`, without quotes: in quotes it is a text",
		"10:14": "write `traffic: 50`, without quotes: in quotes it is a text",
		"12:25": "write `weight: 100`, without quotes: in quotes it is a text",
	}
	es := loadErrs(t, map[string]string{"r.yaml": text})
	if len(es) != len(want) {
		t.Errorf("errors:\n%v", es)
	}
	for _, e := range es {
		at := itoa(e.Pos.Line) + ":" + itoa(e.Pos.Col)
		if w, ok := want[at]; !ok || e.Hint != w {
			t.Errorf("%v: want hint %q", e, w)
		}
	}
}

// TestCommaListWithoutBrackets: `placements: checkout, cart` is one
// placement named "checkout, cart" to YAML, which no request names: the
// offer would never be offered, in silence. A list written without its
// brackets is an error that says to add them.
func TestCommaListWithoutBrackets(t *testing.T) {
	text := `segments:
  - id: vip
    when: profile.ltv > 1
  - id: staff
    when: profile.ltv > 2
offers:
  - id: o1
    placements: checkout, cart
    segments: vip, staff
    discount: {percent: 10}
`
	es := loadErrs(t, map[string]string{"r.yaml": "profile:\n  ltv: number\n" + text})
	want := map[string]string{
		"10:17": "write `placements: [checkout, cart]`",
		"11:15": "write `segments: [vip, staff]`",
	}
	if len(es) != len(want) {
		t.Errorf("errors:\n%v", es)
	}
	for _, e := range es {
		at := itoa(e.Pos.Line) + ":" + itoa(e.Pos.Col)
		if w, ok := want[at]; !ok || !strings.HasPrefix(e.Hint, w) {
			t.Errorf("%v: want hint %q", e, w)
		}
	}
}
