package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/arbiterhq/arbiter/rules"
)

// KnownMarker is the field stored for a profile with no fields, so that
// its hash exists and the customer counts as known; decoding ignores it
// (it is no schema field).
const KnownMarker = "_known"

// LineToHash reads one line of a JSONL profiles file (a JSON object with
// "id" and the fields, numbers kept exact) and encodes it in the stored
// hash form, as ToHash does: what `arbiter profiles import` and `serve
// --profiles` store for the line. The error says what is wrong with the
// line: not one JSON object, or the values (FieldErrors).
func LineToHash(schema *rules.Schema, line []byte) (id string, fields map[string]string, err error) {
	id, fields, _, err = LineToHashExtra(schema, line)
	return id, fields, err
}

// LineToHashExtra is LineToHash that also returns the line's fields the
// schema does not declare (Unknown), which are not stored. A leading
// UTF-8 byte order mark (the first line of a file saved by a Windows tool)
// is skipped.
func LineToHashExtra(schema *rules.Schema, line []byte) (id string, fields map[string]string, extra FieldErrors, err error) {
	line = bytes.TrimPrefix(line, []byte("\ufeff"))
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", nil, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return "", nil, nil, errors.New("more than one JSON value on the line")
	}
	id, fields, err = ToHash(schema, m)
	return id, fields, Unknown(schema, m), err
}
