package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// validCases are bodies where fastjson and encoding/json disagree, or could.
var validCases = []string{
	specDecideBody, `{}`, `[]`, `null`, ``, ` `, `1`, `-0.5e+3`, `01`, `1.`, `-`, `1e`, `.5`,
	`"\u00e9"`, `"\ud800"`, `"\x"`, `"\u12"`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `tru`, `nul`, `NaN`,
	"\"\x18\\b\"", "\"\t\\b\"", "\"\\b\t\"", "\"a\tb\"", "{\"a\x01\":1}", "\x01{}", "{\n\t\"a\": [1, 2]\n}\r\n",
	"{\"a\":\"\x18\\\\\"}", "{\"a\":\"\\\\\x18\"}", "{\n\"a\":\"\\\"\"\n}", "[\"\\u0041\x1f\"]", "\"\xff\"", "\"\xc3\"", "{\"a\":\"\u2028\"}", `{"a":{"b":[true,false,null]}}`, `{} {}`, `[1] x`,
	strings.Repeat("[", 600) + strings.Repeat("]", 600),
	strings.Repeat("[", 600) + strings.Repeat("]", 599),
	strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300),
	strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
}

func stdValid(b []byte) bool { return json.Valid(b) && utf8.Valid(b) }

func TestValidJSONIsEncodingJSONs(t *testing.T) {
	for _, c := range validCases {
		if got, want := validJSON([]byte(c)), stdValid([]byte(c)); got != want {
			t.Errorf("validJSON(%.60q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

func TestHasControl(t *testing.T) {
	for n := 0; n < 20; n++ {
		for at := -1; at < n; at++ {
			for _, c := range []byte{0x00, 0x09, 0x1f, 0x20, 0x7f, 0x80, 0xff} {
				b := []byte(strings.Repeat("a", n))
				if at >= 0 {
					b[at] = c
				}
				if got, want := hasControl(b), at >= 0 && c < 0x20; got != want {
					t.Fatalf("hasControl(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// FuzzValidJSON: validJSON answers what json.Valid and utf8.Valid answer,
// on every input.
func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), stdValid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON: the check newParser runs on every body, against
// encoding/json's on a decision request.
func BenchmarkValidJSON(b *testing.B) {
	body := compact(b, specDecideBody)
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validJSON", validJSON}, {"encoding_json", stdValid}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !v.valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// compact is s without its insignificant whitespace, as a checkout sends it.
func compact(tb testing.TB, s string) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
