package wire

import (
	"errors"
	"strings"
	"testing"
)

// A cart's and an outcome's currency must be an ISO 4217 code Arbiter
// knows: three capital letters that are no currency are refused like any
// other bad value, on the field, with what to write instead when a code is
// close.
func TestUnknownCurrencyCodes(t *testing.T) {
	cases := []struct {
		code, hint string
	}{
		{"XYZ", `"XYZ" is not one`},
		{"AAA", `"AAA" is not one`},
		{"QQQ", `"QQQ" is not one`},
		{"ZZZ", `"ZZZ" is not one`},
		{"BGN", `"BGN" is not one`}, // withdrawn on 2026-01-01 (Bulgaria uses the euro)
		{"XAU", `"XAU" is not one`}, // gold has no minor unit
		{"usd", `write it in upper case: "USD"`},
		{"Eur", `write it in upper case: "EUR"`},
		{"EUO", `did you mean "EUR"?`},
		{"JPN", `did you mean "JPY"?`},
		{"US", `(three capital letters)`},
		{"", `"" is not one`},
	}
	for _, c := range cases {
		t.Run("cart "+c.code, func(t *testing.T) {
			_, err := DecodeDecide([]byte(`{"cart":{"currency":"`+c.code+`","items":[{"sku":"A","price":1,"quantity":1}]}}`), 3)
			var we *Error
			if !errors.As(err, &we) || we.Code != CodeInvalidRequest || we.Field != "cart.currency" || !strings.Contains(we.Message, c.hint) {
				t.Fatalf("got %v, want invalid_request on cart.currency containing %q", err, c.hint)
			}
		})
		t.Run("outcome "+c.code, func(t *testing.T) {
			_, err := DecodeOutcomes([]byte(`{"outcomes":[{"decision_id":"dcs_1","customer_id":"c","offer_id":"o","type":"converted","value":1,"currency":"USD"},` +
				`{"decision_id":"dcs_1","customer_id":"c","offer_id":"o","type":"converted","value":1,"currency":"` + c.code + `"}]}`))
			var we *Error
			if c.code == "" {
				return // an empty currency is a value without a currency, tested with the outcomes
			}
			if !errors.As(err, &we) || we.Code != CodeInvalidRequest || we.Field != "outcomes[1].currency" || !strings.Contains(we.Message, c.hint) {
				t.Fatalf("got %v, want invalid_request on outcomes[1].currency containing %q", err, c.hint)
			}
		})
	}
	for _, ok := range []string{"USD", "EUR", "JPY", "KRW", "BHD", "KWD", "OMR", "CLF", "ISK", "XCG", "ZWG"} {
		if _, err := DecodeDecide([]byte(`{"cart":{"currency":"`+ok+`","items":[{"sku":"A","price":1,"quantity":1}]}}`), 3); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}
