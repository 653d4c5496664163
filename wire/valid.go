package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// validJSON reports whether body is one JSON value in UTF-8, exactly as
// json.Valid(body) && utf8.Valid(body) does: the parser (decode.go) relies
// on it.
//
// encoding/json's validator runs a state machine through a function call a
// byte (340 MB/s on a decision request); fastjson's validator is written
// by hand and runs 2.3 times as fast (BenchmarkValidJSON). It differs from
// encoding/json in two places, so it only answers where it cannot differ:
//
//   - a raw control character before an escape in a string (`"\x18\b"`)
//     passes it (it checks a string with escapes only after its last
//     one): a body with both a byte below 0x20 and a backslash goes to
//     encoding/json (a newline between members and an escaped quote in a
//     value do; a body with either alone does not);
//   - it recurses once per nesting level, with no bound, where encoding/json
//     stops at 10,000 levels without recursing: a body with more than
//     maxFastNesting brackets or braces goes to encoding/json too.
//
// Where fastjson rejects, encoding/json decides, so an unusual valid body
// (deeper than fastjson allows) is still accepted. FuzzValidJSON checks the
// whole against json.Valid.
func validJSON(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	if (hasControl(body) && bytes.IndexByte(body, '\\') >= 0) || bytes.Count(body, []byte{'['})+bytes.Count(body, []byte{'{'}) > maxFastNesting {
		return json.Valid(body)
	}
	return fastjson.ValidateBytes(body) == nil || json.Valid(body)
}

// maxFastNesting bounds the brackets and braces of a body fastjson
// validates, and so its recursion.
const maxFastNesting = 512

// hasControl reports whether b holds a byte below 0x20, eight bytes at a
// time by the "hasless" test of Bit Twiddling Hacks: (x-0x20…)&^x&0x80…
// is non-zero exactly when a byte of x is below 0x20 (a borrow can mark a
// byte above the first such byte, never one when there is none).
func hasControl(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-0x20*ones)&^x&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}
