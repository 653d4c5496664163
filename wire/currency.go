package wire

import (
	"strconv"
	"strings"

	"github.com/arbiterhq/arbiter/currency"
	"github.com/arbiterhq/arbiter/exprenv"
)

// unknownCurrency is the message of a currency code that is not an ISO
// 4217 code Arbiter knows (package currency's table), with what to write
// instead when a code is close: the same in upper case, or one letter off.
func unknownCurrency(code string) string {
	msg := "must be an ISO 4217 currency code, such as \"USD\", \"EUR\" or \"JPY\"; " + strconv.Quote(code)
	if len(code) == 3 && strings.ToUpper(code) == code {
		msg += " is not one"
	} else {
		msg += " is not one (three capital letters)"
	}
	if up := strings.ToUpper(code); up != code && currency.Known(up) {
		return msg + ": write it in upper case: \"" + up + "\""
	}
	if len(code) <= 8 {
		if c := exprenv.Closest(strings.ToUpper(code), currency.Codes()); c != "" {
			return msg + ": did you mean \"" + c + "\"?"
		}
	}
	return msg
}
