package expcounters

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/arbiterhq/arbiter/wire"
)

// maxDepth bounds the nesting of the JSON read, as encoding/json does.
const maxDepth = 10000

// ParseDecision reads what the counters need of a decision event's JSON:
// customer_id, experiments (each entry's id and variant) and holdout, into
// a DecisionEvent with only those fields set. It checks that the whole
// event is well-formed JSON, one object, but decodes nothing else (not the
// request, the profile or the actions): a decision event of any size costs
// one pass over its bytes and a few allocations, where
// wire.ParseDecisionEvent decodes every field.
//
// Against fastjson (replay's decoder) it is no faster (BenchmarkParse:
// 3.3-3.5 µs against 2.9-3.1 µs an event of 1.4 kB): what it adds is
// encoding/json's exact grammar and semantics, which FuzzParseDecision
// checks (fastjson takes numbers such as 01 or +1, and the first of two
// equal keys), so that an event the report would refuse is never counted.
//
// It reads the keys as written (wire's encoder writes them in lower case;
// encoding/json would also match other cases); a key written twice takes
// its last value, and null is the field's zero value. A customer_id, id or
// variant that is not a string, an experiments that is not an array of
// objects, or a holdout that is not a boolean is an error.
func ParseDecision(data []byte) (*wire.DecisionEvent, error) {
	ev := &wire.DecisionEvent{}
	if err := ParseDecisionInto(ev, data); err != nil {
		return nil, err
	}
	return ev, nil
}

// ParseDecisionInto is ParseDecision into ev, which it clears first: a
// caller that parses many events reuses its structs (Published).
func ParseDecisionInto(ev *wire.DecisionEvent, data []byte) error {
	*ev = wire.DecisionEvent{}
	s := scanner{b: data}
	if err := s.decision(ev); err != nil {
		*ev = wire.DecisionEvent{}
		return fmt.Errorf("decision event: %w", err)
	}
	return nil
}

// scanner reads JSON from b at i.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, args...)...)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte (0 at the end).
func (s *scanner) next() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.next() != c {
		return s.errorf("want %q", c)
	}
	s.i++
	return nil
}

// decision reads the top-level object.
func (s *scanner) decision(ev *wire.DecisionEvent) error {
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "customer_id":
			v, err := s.stringOrNull()
			ev.CustomerID = v
			return err
		case "experiments":
			return s.experiments(ev)
		case "holdout":
			v, err := s.boolOrNull()
			ev.Holdout = v
			return err
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	// Only white space may follow (next's 0 would also be a NUL byte).
	if s.ws(); s.i < len(s.b) {
		return s.errorf("data after the object")
	}
	return nil
}

// object reads an object, calling field for each key with the scanner at
// its value, which field must read.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.depth++; s.depth > maxDepth {
		return s.errorf("nested too deep")
	}
	if s.next() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.next() != '"' {
			return s.errorf("want a key")
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.errorf("want , or }")
		}
	}
}

// experiments reads an array of assignments, or null.
func (s *scanner) experiments(ev *wire.DecisionEvent) error {
	ev.Experiments = ev.Experiments[:0]
	if s.literal("null") {
		ev.Experiments = nil
		return nil
	}
	if s.next() != '[' {
		return s.errorf("experiments: want an array")
	}
	s.i++
	if s.depth++; s.depth > maxDepth {
		return s.errorf("nested too deep")
	}
	if ev.Experiments == nil {
		ev.Experiments = []wire.Assignment{}
	}
	if s.next() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		var a wire.Assignment
		if !s.literal("null") {
			if s.next() != '{' {
				return s.errorf("experiments: want an object")
			}
			err := s.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "id":
					a.ID, err = s.stringOrNull()
				case "variant":
					a.Variant, err = s.stringOrNull()
				default:
					err = s.skip()
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		ev.Experiments = append(ev.Experiments, a)
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.errorf("want , or ]")
		}
	}
}

// literal consumes lit (true, false, null) if it comes next.
func (s *scanner) literal(lit string) bool {
	s.ws()
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

func (s *scanner) boolOrNull() (bool, error) {
	switch {
	case s.literal("true"):
		return true, nil
	case s.literal("false"), s.literal("null"):
		return false, nil
	}
	return false, s.errorf("want a boolean")
}

func (s *scanner) stringOrNull() (string, error) {
	if s.literal("null") {
		return "", nil
	}
	if s.next() != '"' {
		return "", s.errorf("want a string")
	}
	raw, plain, err := s.str()
	if err != nil {
		return "", err
	}
	if plain {
		return string(raw[1 : len(raw)-1]), nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil { // escapes or invalid UTF-8: rare
		return "", err
	}
	return v, nil
}

// key reads an object key: its bytes when written without escapes, else
// decoded (into a new slice).
func (s *scanner) key() ([]byte, error) {
	raw, plain, err := s.str()
	if err != nil {
		return nil, err
	}
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// str reads a string at s.i (a '"'), checking its escapes; raw holds its
// quotes; plain says that it has neither escapes nor bytes beyond ASCII
// that are not valid UTF-8, so that its contents are raw[1:len(raw)-1].
func (s *scanner) str() (raw []byte, plain bool, err error) {
	start := s.i
	s.i++
	plain = true
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			raw = s.b[start:s.i]
			if !ascii && !utf8.Valid(raw) {
				plain = false
			}
			return raw, plain, nil
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return nil, false, s.errorf("unterminated string")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return nil, false, s.errorf("bad \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, s.errorf("bad \\u escape")
					}
				}
				s.i += 5
			default:
				return nil, false, s.errorf("bad escape")
			}
		case c < 0x20:
			return nil, false, s.errorf("control character in a string")
		default:
			if c >= 0x80 {
				ascii = false
			}
			s.i++
		}
	}
	return nil, false, s.errorf("unterminated string")
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// skip checks and skips one value.
func (s *scanner) skip() error {
	switch c := s.next(); {
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		s.i++
		if s.depth++; s.depth > maxDepth {
			return s.errorf("nested too deep")
		}
		if s.next() == ']' {
			s.i++
			s.depth--
			return nil
		}
		for {
			if err := s.skip(); err != nil {
				return err
			}
			switch s.next() {
			case ',':
				s.i++
			case ']':
				s.i++
				s.depth--
				return nil
			default:
				return s.errorf("want , or ]")
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case s.literal("true"), s.literal("false"), s.literal("null"):
		return nil
	}
	return s.errorf("want a value")
}

// number skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return s.errorf("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.errorf("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.errorf("bad number")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
