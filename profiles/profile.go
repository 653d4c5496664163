// Package profiles holds the customer profile model against the ruleset's
// schema: the JSON form (FromJSON), the stored hash form (FromHash, ToHash,
// HashValue), one line of a JSONL profiles file as a hash (LineToHash) and
// the errors of values that do not fit the schema. It does no I/O: the
// Redis store, its cache and the import that writes hashes are
// adapters/profilestore; the profile of a customer without a stored one is
// engine.DefaultProfile.
package profiles

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// FieldError is one profile value that does not fit its schema field.
type FieldError struct {
	Field string // the field's name ("id" for the id)
	Msg   string // what is wrong and what to write instead
}

// Error formats the problem as "profile.FIELD: message".
func (e *FieldError) Error() string { return "profile." + e.Field + ": " + e.Msg }

// FieldErrors is every bad value of one profile, in schema order.
type FieldErrors []*FieldError

// Error lists the problems, separated by "; ".
func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// minUnix and maxUnix bound Unix seconds accepted for a time: the years
// 0000 to 9999 of RFC 3339, the form a time is stored in (a time outside
// them would be stored as a string that does not read back).
const (
	minUnix = -62167219200
	maxUnix = 253402300799
)

// maxExactInt is the largest integer a JSON number holds exactly.
const maxExactInt = 1 << 53

// FromJSON decodes a profile in its JSON form (an object with "id" and the
// schema's fields as JSON values) into a known profile with every schema
// field typed and defaults filled in. Fields not in the schema are
// ignored; a value of the wrong type is an error naming the field
// (FieldErrors, every bad field at once). A null value counts as missing.
//
// Values may come from encoding/json (float64, json.Number, string, bool,
// []any) or from a YAML decoder (int, int64, uint64, time.Time): times are
// RFC 3339 strings (a bare date, 2006-01-02, is midnight UTC) or Unix
// seconds; lists are arrays.
func FromJSON(schema *rules.Schema, m map[string]any) (*engine.Profile, error) {
	if m == nil {
		return nil, FieldErrors{{Field: "id", Msg: `missing: a profile is an object like {"id": "c-1042", ...}`}}
	}
	var errs FieldErrors
	id, idErr := idOf(m)
	if idErr != "" {
		errs = append(errs, &FieldError{Field: "id", Msg: idErr})
	}
	var fields []rules.Field
	if schema != nil {
		fields = schema.Fields
	}
	attrs := make(map[string]any, len(fields)+2)
	for _, f := range fields {
		raw, ok := m[f.Name]
		if !ok || raw == nil {
			attrs[f.Name] = f.DefaultValue()
			continue
		}
		v, msg := fromJSONValue(f.Type, raw)
		if msg != "" {
			errs = append(errs, &FieldError{Field: f.Name, Msg: msg})
			continue
		}
		attrs[f.Name] = v
	}
	if len(errs) > 0 {
		return nil, errs
	}
	attrs["id"] = id
	attrs["known"] = true
	return &engine.Profile{ID: id, Known: true, Attrs: attrs}, nil
}

// idOf reads the customer id of a profile's JSON form m: its "id". When m
// has none but a key that names the id otherwise ("customer_id", "ID",
// "userId": a data team's column name), the message says to rename it.
func idOf(m map[string]any) (string, string) {
	id, msg := jsonID(m["id"])
	if _, has := m["id"]; has || msg == "" {
		return id, msg
	}
	var keys []string
	for k := range m {
		switch strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(k)) {
		case "id", "customerid", "customer", "userid", "uid", "clientid", "profileid":
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return id, msg
	}
	sort.Strings(keys)
	return "", fmt.Sprintf(`missing, but %q is given: name it "id"`, keys[0])
}

func jsonID(v any) (string, string) {
	switch x := v.(type) {
	case nil:
		return "", `missing: write the customer id, e.g. "id": "c-1042"`
	case string:
		if x == "" {
			return "", `empty: write the customer id, e.g. "id": "c-1042"`
		}
		return x, ""
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < maxExactInt {
			return strconv.FormatInt(int64(x), 10), ""
		}
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return string(x), ""
		}
	case int:
		return strconv.Itoa(x), ""
	case int64:
		return strconv.FormatInt(x, 10), ""
	case uint64:
		return strconv.FormatUint(x, 10), ""
	}
	return "", fmt.Sprintf("want a string, got %s", describe(v))
}

// FromHash decodes a stored profile hash (every value a string: decimal
// numbers, true/false, RFC 3339 or Unix seconds, JSON arrays) into a known
// profile, its fields in the schema's order (engine.Profile's Values). A
// value that does not parse is treated as missing (its default) and its
// field name is returned in bad, in schema order; an empty value is
// missing without being bad (except for string fields, where it is the
// empty string). Fields not in the schema are ignored.
func FromHash(schema *rules.Schema, id string, fields map[string]string) (p *engine.Profile, bad []string) {
	return fromHash(schema, id, fields, nil)
}

// fromHash is FromHash, sharing the values through shared when it is not
// nil (FromHashShared).
func fromHash(schema *rules.Schema, id string, fields map[string]string, shared *Shared) (p *engine.Profile, bad []string) {
	var sf []rules.Field
	if schema != nil {
		sf = schema.Fields
	}
	values := make([]any, len(sf))
	for i, f := range sf {
		raw, ok := fields[f.Name]
		if !ok || (raw == "" && f.Type != rules.TypeString) {
			values[i] = defaultValue(f, i, shared)
			continue
		}
		var v any
		if shared != nil {
			v, ok = shared.value(i, f.Type, raw)
		} else {
			v, ok = fromHashValue(f.Type, raw)
		}
		if !ok {
			bad = append(bad, f.Name)
			values[i] = defaultValue(f, i, shared)
			continue
		}
		values[i] = v
	}
	return &engine.Profile{ID: id, Known: true, Fields: sf, Values: values}, bad
}

// defaultValue is field i's default: shared's when it is not nil.
func defaultValue(f rules.Field, i int, shared *Shared) any {
	if shared != nil {
		return shared.defaults[i]
	}
	return f.DefaultValue()
}

// ToHash encodes a profile's JSON form as the stored hash form: every value a
// string, times as RFC 3339 in UTC, lists as JSON arrays. With a schema, the
// values are checked and normalised first (and fields not in the schema
// dropped); without one (schema nil), every field but "id" is stored as
// given: strings as is, numbers in decimal, booleans as true/false, other
// values as JSON.
func ToHash(schema *rules.Schema, m map[string]any) (id string, fields map[string]string, err error) {
	if schema == nil {
		id, msg := idOf(m)
		if msg != "" {
			return "", nil, FieldErrors{{Field: "id", Msg: msg}}
		}
		fields = make(map[string]string, len(m))
		for k, v := range m {
			if k == "id" || v == nil {
				continue
			}
			fields[k] = rawString(v)
		}
		return id, fields, nil
	}
	p, err := FromJSON(schema, m)
	if err != nil {
		return "", nil, err
	}
	fields = make(map[string]string, len(schema.Fields))
	for _, f := range schema.Fields {
		if raw, ok := m[f.Name]; !ok || raw == nil {
			continue // leave missing fields missing: the default may change
		}
		fields[f.Name] = HashValue(p.Attrs[f.Name])
	}
	return p.ID, fields, nil
}

// HashValue formats one typed profile value (a value of Attrs) as its stored
// string form.
func HashValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func rawString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return "string " + strconv.Quote(x)
	case float64, json.Number, int, int64, uint64:
		return fmt.Sprintf("number %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case time.Time:
		return "time " + x.Format(time.RFC3339)
	}
	return fmt.Sprintf("%T", v)
}

// jsonNumber returns a JSON-ish number as a float64.
func jsonNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		f := float64(x)
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func fromJSONValue(t rules.Type, v any) (any, string) {
	switch t {
	case rules.TypeString:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, fmt.Sprintf("want a string, got %s", describe(v))
	case rules.TypeInt:
		switch x := v.(type) {
		case int:
			return x, ""
		case int64:
			if x >= math.MinInt && x <= math.MaxInt {
				return int(x), ""
			}
		case json.Number:
			if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return int(n), ""
			}
		}
		f, ok := jsonNumber(v)
		if ok && f == math.Trunc(f) && math.Abs(f) <= maxExactInt {
			return int(f), ""
		}
		if ok && f == math.Trunc(f) {
			return nil, fmt.Sprintf("want a whole number of at most %d in size (one a JSON number holds exactly), got %v", int64(maxExactInt), f)
		}
		if ok {
			return nil, fmt.Sprintf("want a whole number, got %v", f)
		}
		return nil, fmt.Sprintf("want a whole number, got %s", describe(v))
	case rules.TypeNumber:
		if f, ok := jsonNumber(v); ok {
			return f, ""
		}
		return nil, fmt.Sprintf("want a number, got %s", describe(v))
	case rules.TypeBool:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		return nil, fmt.Sprintf("want true or false, got %s", describe(v))
	case rules.TypeTime:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), ""
		case string:
			if tm, ok := parseTime(x); ok {
				return tm, ""
			}
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				if tm, ok := unixTime(f); ok {
					return tm, ""
				}
			}
			return nil, fmt.Sprintf(`want an RFC 3339 time like "2026-11-01T00:00:00Z" or Unix seconds, got %s`, describe(v))
		}
		if f, ok := jsonNumber(v); ok {
			if tm, ok := unixTime(f); ok {
				return tm, ""
			}
		}
		return nil, fmt.Sprintf(`want an RFC 3339 time like "2026-11-01T00:00:00Z" or Unix seconds, got %s`, describe(v))
	case rules.TypeStringList:
		switch x := v.(type) {
		case []string:
			return append([]string{}, x...), ""
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Sprintf("[%d]: want a string, got %s", i, describe(e))
				}
				out[i] = s
			}
			return out, ""
		}
		return nil, fmt.Sprintf(`want an array of strings like ["a", "b"], got %s`, describe(v))
	case rules.TypeNumberList:
		switch x := v.(type) {
		case []float64:
			return append([]float64{}, x...), ""
		case []any:
			out := make([]float64, len(x))
			for i, e := range x {
				f, ok := jsonNumber(e)
				if !ok {
					return nil, fmt.Sprintf("[%d]: want a number, got %s", i, describe(e))
				}
				out[i] = f
			}
			return out, ""
		}
		return nil, fmt.Sprintf("want an array of numbers like [1, 2.5], got %s", describe(v))
	}
	return nil, "the schema gives this field an unknown type"
}

// fromHashValue parses one stored string by the field's type.
func fromHashValue(t rules.Type, s string) (any, bool) {
	switch t {
	case rules.TypeString:
		return s, true
	case rules.TypeInt:
		s = strings.TrimSpace(s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n), true
		}
		// "7.0", as some writers format whole numbers.
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= maxExactInt {
			return int(f), true
		}
		return nil, false
	case rules.TypeNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		return f, true
	case rules.TypeBool:
		switch strings.TrimSpace(s) {
		case "true", "TRUE", "True", "1":
			return true, true
		case "false", "FALSE", "False", "0":
			return false, true
		}
		return nil, false
	case rules.TypeTime:
		s = strings.TrimSpace(s)
		if tm, ok := parseTime(s); ok {
			return tm, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return unixTime(f)
		}
		return nil, false
	case rules.TypeStringList:
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil || out == nil || hasNull[string](s) {
			return nil, false
		}
		return out, true
	case rules.TypeNumberList:
		var out []float64
		if err := json.Unmarshal([]byte(s), &out); err != nil || out == nil || hasNull[float64](s) {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// hasNull reports whether the JSON array s, which decodes as a []T, has a
// null element: encoding/json leaves one as T's zero value ("" or 0), which
// would be read as a value nobody wrote. Only an array with "null" in its
// text is decoded again, element by element.
func hasNull[T any](s string) bool {
	if !strings.Contains(s, "null") {
		return false
	}
	var elems []*T
	if json.Unmarshal([]byte(s), &elems) != nil {
		return true
	}
	for _, e := range elems {
		if e == nil {
			return true
		}
	}
	return false
}

// parseTime reads RFC 3339 (with or without fractional seconds; its T and
// Z may be lower case, and the T a space, as RFC 3339 allows) or a bare
// date (midnight UTC), and returns the time in UTC.
func parseTime(s string) (time.Time, bool) {
	if len(s) == len("2006-01-02") {
		if tm, err := time.Parse(time.DateOnly, s); err == nil {
			return tm.UTC(), true
		}
		return time.Time{}, false
	}
	if len(s) > len("2006-01-02") && (s[10] == 't' || s[10] == ' ' || s[len(s)-1] == 'z') {
		b := []byte(s)
		if b[10] == 't' || b[10] == ' ' {
			b[10] = 'T'
		}
		if b[len(b)-1] == 'z' {
			b[len(b)-1] = 'Z'
		}
		s = string(b)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return tm.UTC(), true
}

// unixTime converts Unix seconds (possibly fractional) to a UTC time.
func unixTime(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < minUnix || f > maxUnix {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// ToJSON is the JSON form of a decoded profile (the inverse of FromJSON):
// "id" and every schema field, in the schema's types: times as RFC 3339
// in UTC (the zero time as null, which FromJSON reads back as the zero
// time), lists as arrays (never null). It is what GET /v1/profiles/{id}
// answers and what the console's playground edits.
func ToJSON(schema *rules.Schema, p *engine.Profile) map[string]any {
	m := map[string]any{"id": p.ID}
	if schema == nil {
		return m
	}
	for _, f := range schema.Fields {
		v, ok := p.Lookup(f.Name)
		if !ok {
			v = f.DefaultValue()
		}
		switch x := v.(type) {
		case time.Time:
			if x.IsZero() {
				v = nil
			} else {
				v = x.UTC().Format(time.RFC3339Nano)
			}
		case []string:
			if x == nil {
				v = []string{}
			}
		case []float64:
			if x == nil {
				v = []float64{}
			}
		}
		m[f.Name] = v
	}
	return m
}
