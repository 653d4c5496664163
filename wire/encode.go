package wire

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/arbiterhq/arbiter/engine"
)

// The decision response and the decision event are written with
// append-style encoding into the caller's buffer (pooled by the HTTP
// adapter): they are on the hot path. Strings, numbers and payloads are
// written as encoding/json writes them (tests check), and nil lists as []
// (the spec: never null).

const hexDigits = "0123456789abcdef"

// plainByte reports the bytes appendString writes as they are: ASCII from
// the space up, except '"', '\\' and, as encoding/json escapes them for
// HTML, '<', '>' and '&'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Runs of bytes written as they are, one table load each
		// (BenchmarkAppendString: the six comparisons it replaces made
		// this function 3.6% of scenario a's CPU).
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does (NaN and infinities, which
// JSON cannot hold, as null).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendAssignments(b []byte, as []engine.Assignment) []byte {
	b = append(b, '[')
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, a.ID)
		b = append(b, `,"variant":`...)
		b = appendString(b, a.Variant)
		if a.Layer != "" {
			b = append(b, `,"layer":`...)
			b = appendString(b, a.Layer)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendAny appends v as encoding/json writes it: a JSON value decoded from
// JSON or YAML (payloads, a request's context; maps with sorted keys) or a
// profile value of one of the schema's Go types (the decision event's
// profile, whose times appendProfile writes in UTC itself). Other types go
// through encoding/json.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return appendFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAny(b, e)
		}
		return append(b, ']')
	case []string:
		return appendStrings(b, x)
	case []float64:
		b = append(b, '[')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, f)
		}
		return append(b, ']')
	case map[string]any:
		return appendMap(b, x)
	case time.Time:
		return append(x.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

func appendMap(b []byte, m map[string]any) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var stack [16]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendAny(b, m[k])
	}
	return append(b, '}')
}

// AppendDecision appends d in its JSON form, the body of a POST /v1/decide
// response (the spec's shape): decision_id, customer_id (left out when
// anonymous), ruleset, segments, actions, experiments, holdout, degraded,
// took_us, and explain when the request asked for it. It is the one
// definition of a decision in JSON, used by the HTTP API, `arbiter decide`
// and `arbiter rules test`.
func AppendDecision(b []byte, d *engine.Decision) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, d.DecisionID)
	if d.CustomerID != "" {
		b = append(b, `,"customer_id":`...)
		b = appendString(b, d.CustomerID)
	}
	b = append(b, `,"ruleset":`...)
	b = appendString(b, d.Ruleset)
	b = append(b, `,"segments":`...)
	b = appendStrings(b, d.Segments)
	b = append(b, `,"actions":[`...)
	for i := range d.Actions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAction(b, &d.Actions[i])
	}
	b = append(b, `],"experiments":`...)
	b = appendAssignments(b, d.Experiments)
	b = append(b, `,"holdout":`...)
	b = strconv.AppendBool(b, d.Holdout)
	b = append(b, `,"degraded":`...)
	b = appendStrings(b, d.Degraded)
	b = append(b, `,"took_us":`...)
	b = strconv.AppendInt(b, d.TookUS, 10)
	if d.Explain != nil {
		b = append(b, `,"explain":`...)
		b = appendExplain(b, d.Explain)
	}
	return append(b, '}')
}

func appendAction(b []byte, a *engine.Action) []byte {
	b = append(b, `{"offer_id":`...)
	b = appendString(b, a.OfferID)
	b = append(b, `,"kind":`...)
	b = appendString(b, a.Kind)
	if a.Title != "" {
		b = append(b, `,"title":`...)
		b = appendString(b, a.Title)
	}
	if a.Message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, a.Message)
	}
	b = append(b, `,"score":`...)
	b = appendFloat(b, a.Score)
	if dr := a.Discount; dr != nil {
		b = append(b, `,"discount":{"type":`...)
		b = appendString(b, dr.Type)
		if dr.Percent != nil {
			b = append(b, `,"percent":`...)
			b = appendFloat(b, *dr.Percent)
		}
		b = append(b, `,"amount":`...)
		b = dr.Amount.AppendText(b)
		b = append(b, `,"currency":`...)
		b = appendString(b, dr.Currency)
		b = append(b, `,"free_shipping":`...)
		b = strconv.AppendBool(b, dr.FreeShipping)
		b = append(b, `,"items":[`...)
		for i, it := range dr.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"sku":`...)
			b = appendString(b, it.SKU)
			b = append(b, `,"amount":`...)
			b = it.Amount.AppendText(b)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	if len(a.Payload) > 0 {
		b = append(b, `,"payload":`...)
		b = appendMap(b, a.Payload)
	}
	return append(b, '}')
}

// appendExplain appends a decision's explanation: for every segment
// whether it matched (or its error), for every offer whether it was chosen
// and, if not, the first reason why, with its score.
func appendExplain(b []byte, ex *engine.Explain) []byte {
	b = append(b, `{"segments":[`...)
	for i := range ex.Segments {
		sg := &ex.Segments[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, sg.ID)
		b = append(b, `,"matched":`...)
		b = strconv.AppendBool(b, sg.Matched)
		b = appendOptString(b, `,"error":`, sg.Error)
		b = append(b, '}')
	}
	b = append(b, `],"offers":[`...)
	for i := range ex.Offers {
		o := &ex.Offers[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, o.ID)
		b = append(b, `,"chosen":`...)
		b = strconv.AppendBool(b, o.Chosen)
		b = appendOptString(b, `,"reason":`, o.Reason)
		b = appendOptString(b, `,"detail":`, o.Detail)
		if o.Score != nil {
			b = append(b, `,"score":`...)
			b = appendFloat(b, *o.Score)
		}
		b = appendOptString(b, `,"error":`, o.Error)
		b = appendOptString(b, `,"variant":`, o.Variant)
		if u := o.Learning; u != nil {
			b = appendExplainLearning(b, u)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendExplainLearning appends an offer's propensity in explain: its
// cell, the posterior it came from, the value, and how it was found
// (thompson, mean or prior).
func appendExplainLearning(b []byte, u *engine.LearningUse) []byte {
	b = append(b, `,"learning":{"cell":`...)
	b = appendString(b, u.Cell)
	b = append(b, `,"alpha":`...)
	b = appendFloat(b, u.Alpha)
	b = append(b, `,"beta":`...)
	b = appendFloat(b, u.Beta)
	b = append(b, `,"propensity":`...)
	b = appendFloat(b, u.Propensity)
	b = append(b, `,"source":`...)
	b = appendString(b, u.Source.String())
	return append(b, '}')
}

// appendOptString appends key (`,"name":`) and s, unless s is empty.
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}
