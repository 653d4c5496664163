package simulate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

// MaxProfileErrors is how many errors of a profiles file LoadProfiles
// reports before it stops reading.
const MaxProfileErrors = 20

// Profiles are the customers of a profiles file.
type Profiles struct {
	File string
	List []*engine.Profile
}

// LoadProfiles reads a profiles file in the format `arbiter profiles
// import` and `arbiter serve --profiles` read: one JSON object a line,
// with "id" and the fields of rs's profile schema; blank lines are
// skipped. Each profile is decoded as a server decodes it once imported
// (through its stored form, defaults filled in). A line that is not one
// JSON object, a value of the wrong type, a field the schema does not
// declare (a misspelt one would read as its default) and a customer on
// two lines are errors, reported with file:line:col (Errors; reading
// stops once MaxProfileErrors are found).
func LoadProfiles(rs *rules.Ruleset, file string, r io.Reader) (*Profiles, error) {
	out := &Profiles{File: file}
	var errs Errors
	onLine := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	fail := func(col int, hint, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Hint: hint})
	}
	stopped := false
	for sc.Scan() {
		if len(errs) >= MaxProfileErrors {
			stopped = true
			break
		}
		line++
		raw := sc.Bytes()
		text := bytes.TrimSpace(raw)
		if len(text) == 0 {
			continue
		}
		lead := bytes.Index(raw, text)
		id, fields, extra, err := profiles.LineToHashExtra(&rs.Schema, text)
		if err == nil && len(extra) > 0 {
			err = extra
		}
		var fes profiles.FieldErrors
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &fes):
			for _, fe := range fes {
				fail(keyCol(raw, fe.Field), "", "%s", fe.Error())
			}
			continue
		case errors.As(err, &syn):
			off := lead + int(syn.Offset) - 1
			off = max(lead, min(off, len(raw)))
			fail(utf8.RuneCount(raw[:off])+1, `write one JSON object a line, like {"id": "c-1042", "orders": 3}`, "%v", err)
			continue
		case err != nil:
			fail(lead+1, `write one JSON object a line, like {"id": "c-1042", "orders": 3}`, "%v", err)
			continue
		}
		if prev, ok := onLine[id]; ok {
			fail(keyCol(raw, "id"), "keep one line per customer", "customer `%s` is on line %d too", id, prev)
			continue
		}
		onLine[id] = line
		p, bad := profiles.FromHash(&rs.Schema, id, fields)
		if len(bad) > 0 {
			fail(keyCol(raw, bad[0]), "", "profile.%s: its value does not read back", bad[0])
			continue
		}
		out.List = append(out.List, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading line %d: %w", file, line+1, err)
	}
	if stopped {
		errs = append(errs, &Error{File: file, Line: line, Col: 1, Msg: fmt.Sprintf("stopped reading after %d errors", len(errs)),
			Hint: "fix these, then run again"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out.List) == 0 {
		return nil, Errors{{File: file, Line: max(line, 1), Col: 1, Msg: "the profiles file has no profiles",
			Hint: `write one JSON object a line, like {"id": "c-1042", "orders": 3}`}}
	}
	return out, nil
}

// keyCol is the column of the key "name" on a JSON line, else 1.
func keyCol(line []byte, name string) int {
	k, err := json.Marshal(name)
	if err != nil {
		return 1
	}
	i := bytes.Index(line, k)
	if i < 0 {
		return 1
	}
	return utf8.RuneCount(line[:i]) + 1
}
