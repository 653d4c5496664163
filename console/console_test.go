package console_test

import (
	"io/fs"
	"regexp"
	"strconv"
	"testing"

	"github.com/arbiterhq/arbiter/console"
	"github.com/arbiterhq/arbiter/currency"
)

// TestMinorDigitsAsTheServer: the console formats money with the minor
// digits of ISO 4217 as package currency counts them (fmt.js lists the
// codes that do not have 2), not with the browser's CLDR digits, which
// round some amounts the API gives exactly (1,234.56 HUF shown as 1,235,
// 1.125 IQD as 1).
func TestMinorDigitsAsTheServer(t *testing.T) {
	src, err := fs.ReadFile(console.Assets(), "fmt.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)export const MINOR_DIGITS = \{(.*?)\};`).FindSubmatch(src)
	if block == nil {
		t.Fatal("fmt.js has no `export const MINOR_DIGITS = {...};`")
	}
	js := map[string]int8{}
	for _, m := range regexp.MustCompile(`([A-Z]{3}): ([0-9])`).FindAllSubmatch(block[1], -1) {
		d, _ := strconv.Atoi(string(m[2]))
		js[string(m[1])] = int8(d)
	}
	for _, code := range currency.Codes() {
		want, _ := currency.Digits(code)
		got, listed := js[code]
		if !listed {
			got = 2
		}
		if got != want {
			t.Errorf("fmt.js: %s has %d minor digits in the console, %d in package currency", code, got, want)
		}
		delete(js, code)
	}
	for code := range js {
		t.Errorf("fmt.js lists %s, which package currency does not know", code)
	}
}
